"""The local barge-in detector on real speech (espeak-ng) with the real Silero model and echo guard: the user's
voice counts, silence, a tone and the assistant's own echo do not, and nothing counts while there is no reply
to cut off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from desktop.audio.barge_in import BargeInDetector
from desktop.audio.capture import AudioChunk
from desktop.audio.echo_guard import EchoGuard
from tests.support.sounds import read_wav, speech_wav

CHUNK = 960  # 40 ms at 24 kHz, as the capture delivers


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    samples, rate = read_wav(speech_wav("Wait, stop please, I have a different question."))
    assert rate == 24000
    return samples


def chunks(signal: np.ndarray, start_time: float = 100.0) -> list[AudioChunk]:
    out = []
    for index in range(0, len(signal) - CHUNK + 1, CHUNK):
        at = start_time + index / 24000
        out.append(AudioChunk(signal[index:index + CHUNK].astype(np.int16), index, at, at, at, at))
    return out


def verdicts(detector: BargeInDetector, signal: np.ndarray, interruptible: Callable[[], bool] = lambda: True,
             played: list[float] | None = None) -> list[bool]:
    """The detector's verdict per chunk. `played`: the assistant's output level per 20 ms, told to the echo guard
    as the sound card would, block by block just ahead of the microphone."""
    noted = 0

    async def run() -> list[bool]:
        nonlocal noted
        out = []
        try:
            for chunk in chunks(signal):
                while played is not None and noted < len(played) and noted * 480 < chunk.index + 2 * CHUNK:
                    detector.guard.note_playback(100.0 + noted * 480 / 24000, played[noted])
                    noted += 1
                out.append(await detector.user_speaks(chunk, interruptible))
            return out
        finally:
            detector.close()

    return asyncio.run(run())


def frame_levels(signal: np.ndarray, frame: int = 480) -> list[float]:
    frames = signal[: len(signal) // frame * frame].astype(np.float64).reshape(-1, frame)
    return [float(level) for level in np.sqrt((frames**2).mean(axis=1))]


def test_the_users_speech_counts_soon_after_it_starts(speech: np.ndarray) -> None:
    signal = np.concatenate((np.zeros(12000, np.int16), speech))
    found = verdicts(BargeInDetector(EchoGuard()), signal)
    assert any(found)
    onset_s = (found.index(True) * CHUNK - 12000) / 24000
    assert 0 <= onset_s < 0.5, onset_s


def test_silence_and_a_steady_tone_never_count() -> None:
    tone = (4000 * np.sin(2 * np.pi * 330 * np.arange(48000) / 24000)).astype(np.int16)
    assert not any(verdicts(BargeInDetector(EchoGuard()), np.concatenate((np.zeros(24000, np.int16), tone))))


def test_nothing_counts_without_a_reply_to_cut_off(speech: np.ndarray) -> None:
    asked: list[int] = []

    def interruptible() -> bool:
        asked.append(1)
        return False

    assert not any(verdicts(BargeInDetector(EchoGuard()), speech, interruptible))
    assert asked, "the detector never judged a frame: the test would prove nothing"


def test_the_assistants_own_echo_does_not_count(speech: np.ndarray) -> None:
    """The microphone hears the assistant's voice at half the level it was played (an echo path of -6 dB)."""
    played = [2 * level for level in frame_levels(speech)]
    assert not any(verdicts(BargeInDetector(EchoGuard()), speech, played=played))


def test_the_user_still_counts_over_a_quiet_echo(speech: np.ndarray) -> None:
    played = [level / 8 for level in frame_levels(speech)]
    assert any(verdicts(BargeInDetector(EchoGuard()), speech, played=played))

"""Local VAD: espeak-ng speech is detected, a pure tone and silence are not."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import soxr

from desktop.audio.voice_activity import VoiceActivity


def speech_24k(tmp_path: Path, text: str) -> np.ndarray:
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=30)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return soxr.resample(raw.astype(np.float32), rate, 24000).astype(np.int16)


def decisions(vad: VoiceActivity, signal: np.ndarray) -> list[bool]:
    out = []
    for start in range(0, signal.size, 480):
        out += [frame.speech for frame in vad.feed(signal[start:start + 480])]
    return out


def test_speech_detected_tone_and_silence_rejected(tmp_path: Path) -> None:
    vad = VoiceActivity()
    silence = np.zeros(24000, dtype=np.int16)
    tone = (4000 * np.sin(2 * np.pi * 440 * np.arange(48000) / 24000)).astype(np.int16)
    assert not any(decisions(vad, np.concatenate((silence, tone, silence))))
    speech = speech_24k(tmp_path, "Hello there, could you tell me the time in Paris?")
    flags = decisions(vad, speech)
    assert sum(flags) > 0.5 * len(flags)
    first = flags.index(True)
    assert first * 0.032 < 0.5  # detected within half a second of the start of the utterance


def test_reset_forgets_state(tmp_path: Path) -> None:
    vad = VoiceActivity()
    decisions(vad, speech_24k(tmp_path, "one two three four"))
    vad.reset()
    assert not vad.speaking


def test_quiet_frames_skip_the_model_and_speech_after_them_is_still_found(tmp_path: Path) -> None:
    vad = VoiceActivity()
    room = np.random.default_rng(2).normal(0, 30, 24000 * 2).astype(np.int16)  # about -60 dBFS
    assert not any(decisions(vad, room))
    assert vad.model_runs == 0
    speech = speech_24k(tmp_path, "Hello there, could you tell me the time in Paris?")
    flags = decisions(vad, np.concatenate((room, speech)))
    assert vad.model_runs > 0
    assert sum(flags) > 0.3 * len(flags)


def test_take_says_when_the_model_is_needed(tmp_path: Path) -> None:
    vad = VoiceActivity()
    room = np.random.default_rng(5).normal(0, 30, 24000).astype(np.int16)
    needed = [vad.take(room[start:start + 960]) for start in range(0, room.size, 960)]
    assert not any(needed)  # room noise: judged in place
    assert len(vad.judge()) == 24000 * 16 // 24 // 512 and vad.model_runs == 0
    speech = speech_24k(tmp_path, "Hello there, could you tell me the time in Paris?")
    needed = []
    flags: list[bool] = []
    for start in range(0, speech.size, 960):
        needed.append(vad.take(speech[start:start + 960]))
        flags += [frame.speech for frame in vad.judge()]
    assert any(needed) and vad.model_runs > 0 and any(flags)

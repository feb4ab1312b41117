"""Resting streams on a real PulseAudio: a resting stream runs no callbacks and is not taken for a lost device;
it wakes in well under a second with its audio intact; the speaker wakes by itself when fed; the policy rests
what is unused and keeps what is needed."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from desktop.audio.capture import Capture, CaptureConfig, CaptureState
from desktop.audio.engine import AudioEngine
from desktop.audio.playback import Playback, PlaybackConfig, PlaybackEvent
from desktop.audio.standby import Standby
from tests.audio.helpers import feed_all, joined, pause, runs, until
from tests.support.pulse import PulseServer
from tests.support.sounds import active_span, dominant_frequency, tone

pytestmark = pytest.mark.timeout(60)


def test_resting_capture_runs_no_callbacks_then_wakes_and_captures(pulse: PulseServer) -> None:
    async def scenario() -> tuple[int, int, list[str], np.ndarray, int, int]:
        capture = Capture(CaptureConfig())
        states: list[str] = []
        capture.add_status_listener(lambda status: states.append(status.state.value))
        await capture.open()
        try:
            await until(lambda: capture.stats.blocks > 5, what="first blocks")
            await capture.rest()
            assert capture.is_resting and capture.status.state == CaptureState.RESTING
            preroll_after_rest = len(capture.preroll())
            before = capture.stats.blocks
            await pause(1.5)  # longer than the watchdog's dead-input allowance: resting is not "no audio"
            during_rest = capture.stats.blocks - before
            tap = capture.open_tap(preroll=False)
            await capture.wake()
            playing = pulse.play_into_mic(tone(700, 1.0))
            await asyncio.get_running_loop().run_in_executor(None, playing.wait)
            await pause(0.3)
            chunks = tap.take_all()
            gaps = [b.index - (a.index + len(a.pcm)) for a, b in itertools.pairwise(chunks)]
            return during_rest, preroll_after_rest, states, joined(chunks), max(gaps, default=0), min(gaps, default=0)
        finally:
            await capture.close()

    during_rest, preroll, states, captured, widest_gap, narrowest_gap = asyncio.run(scenario())
    assert during_rest == 0, "a resting stream must not call back"
    assert preroll == 0, "after a rest the pre-roll would be old audio"
    assert states[:3] == ["running", "resting", "running"], states
    assert "lost" not in states and "no_audio" not in states
    assert widest_gap == 0 and narrowest_gap == 0, "chunks after a wake are contiguous"
    first, end = active_span(captured, 24000, threshold=2000)
    assert 0.8 * 24000 < end - first < 1.2 * 24000
    assert abs(dominant_frequency(captured[first + 2400 : end - 2400], 24000) - 700) < 10


def test_resting_speaker_wakes_when_fed_and_plays_all_of_it(pulse: PulseServer) -> None:
    pcm = tone(520, 1.0)

    async def scenario() -> tuple[bool, bool, int, int, np.ndarray, list[PlaybackEvent]]:
        playback = Playback(PlaybackConfig())
        events: list[PlaybackEvent] = []
        playback.add_event_listener(events.append)
        await playback.open()
        recording = pulse.record_speaker()
        try:
            rested = await playback.rest()
            resting = playback.is_resting
            feed_all(playback, "a", pcm)
            playback.finish("a")
            await until(lambda: playback.played_samples("a") >= playback.received_samples("a"), within=15,
                        what="the whole item played")
            await pause(0.3)
            return rested, resting, playback.played_samples("a"), playback.received_samples("a"), \
                recording.stop(), events
        finally:
            recording.stop()
            await playback.close()

    rested, resting, played, received, recorded, events = asyncio.run(scenario())
    assert rested and resting
    assert played == received == len(pcm)
    loud = runs(recorded)
    assert len(loud) == 1, f"expected one tone in the recording, got {loud}"
    assert played - round(0.2 * 24000) - 240 <= loud[0][1] <= played + 240  # the plugin may lose ~0.2 s at edges
    assert not [e for e in events if e.kind == "lost"]


def test_speaker_does_not_rest_with_audio_queued(pulse: PulseServer) -> None:
    async def scenario() -> tuple[bool, bool]:
        playback = Playback(PlaybackConfig())
        await playback.open()
        try:
            playback.feed("a", tone(300, 2.0).tobytes())
            busy = await playback.rest()
            playback.stop()
            await until(lambda: playback.is_idle, what="stopped item drained")
            return busy, await playback.rest()
        finally:
            await playback.close()

    while_playing, after_stop = asyncio.run(scenario())
    assert not while_playing and after_stop


def test_policy_rests_what_is_unused_and_keeps_what_is_needed(pulse: PulseServer) -> None:
    async def scenario() -> list[tuple[bool, bool]]:
        engine = AudioEngine(CaptureConfig(), PlaybackConfig())
        await engine.open()
        needed = [True]
        standby = Standby(engine, rest_after_s=0.3, mic_needed=lambda: needed[0])
        seen: list[tuple[bool, bool]] = []
        try:
            standby.activity()
            await until(lambda: engine.playback.is_resting, what="idle speaker rests")
            await pause(0.4)
            seen.append((engine.capture.is_resting, engine.playback.is_resting))  # the mic is needed: awake
            needed[0] = False
            standby.activity()
            await until(lambda: engine.capture.is_resting, what="unneeded mic rests")
            seen.append((engine.capture.is_resting, engine.playback.is_resting))
            standby.wake_mic()
            await until(lambda: not engine.capture.is_resting, what="mic wakes")
            blocks = engine.capture.stats.blocks
            await until(lambda: engine.capture.stats.blocks > blocks + 3, what="mic delivers again")
            seen.append((engine.capture.is_resting, engine.playback.is_resting))
            await until(lambda: engine.capture.is_resting, what="rests again once unused")
            return seen
        finally:
            standby.stop()
            await engine.close()

    assert asyncio.run(scenario()) == [(False, True), (True, True), (False, True)]

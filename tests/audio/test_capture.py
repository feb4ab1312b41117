"""Capture on a real PulseAudio: speech into the virtual mic comes out as 24 kHz PCM16 with the right energy
and duration; 48 kHz and 16 kHz devices resample correctly; the pre-roll holds audio from before the "press";
an all-zero input and a killed stream are reported as such."""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np
import pytest

from desktop.audio.capture import Capture, CaptureConfig, CaptureState, CaptureStatus
from desktop.audio.levels import Level
from tests.audio.helpers import joined, pause, until
from tests.support.pulse import PulseServer
from tests.support.sounds import active_span, dominant_frequency, read_wav, rms, speech_wav, tone

pytestmark = pytest.mark.timeout(60)


def test_fixture_speech_into_mic_is_captured_with_speech_energy(pulse: PulseServer) -> None:
    speech, rate = read_wav(speech_wav())
    seconds = len(speech) / rate

    async def scenario() -> tuple[np.ndarray, list[float]]:
        capture = Capture(CaptureConfig())
        await capture.open()
        gaps: list[float] = []
        try:
            tap = capture.open_tap(preroll=False)
            playing = pulse.play_into_mic(speech_wav())
            await asyncio.get_running_loop().run_in_executor(None, playing.wait)
            await pause(0.4)  # the tail drains through the buffers
            chunks = tap.take_all()
            gaps = [b.index - (a.index + len(a.pcm)) for a, b in itertools.pairwise(chunks)]
            return joined(chunks), [float(g) for g in gaps]
        finally:
            await capture.close()

    captured, gaps = asyncio.run(scenario())
    assert captured.dtype == np.int16
    assert gaps and all(g == 0 for g in gaps), "chunks must be contiguous 24 kHz frames"
    first, end = active_span(captured, 24000, threshold=300)
    assert end > first, "no speech captured"
    assert abs((end - first) / 24000 - seconds) < 0.25 * seconds
    source_level = rms(speech[slice(*active_span(speech, rate, threshold=300))])
    assert rms(captured[first:end]) > 0.5 * source_level


@pytest.mark.parametrize("device_rate", [48000, 16000])
def test_device_rate_is_resampled_to_24k(pulse: PulseServer, device_rate: int) -> None:
    name = f"mic{device_rate // 1000}k"
    source_module, sink_module = pulse.load_source(name, device_rate)
    pulse.set_default_source(name)

    async def scenario() -> tuple[np.ndarray, int]:
        capture = Capture(CaptureConfig(rate=device_rate))
        await capture.open()
        try:
            tap = capture.open_tap(preroll=False)
            playing = pulse.play_into(f"{name}_in", tone(1000, 1.0, rate=device_rate), rate=device_rate)
            await asyncio.get_running_loop().run_in_executor(None, playing.wait)
            await pause(0.3)
            return joined(tap.take_all()), capture.device_rate
        finally:
            await capture.close()

    try:
        captured, opened_rate = asyncio.run(scenario())
    finally:
        pulse.set_default_source("vmic")
        pulse.unload(source_module)
        pulse.unload(sink_module)
    assert opened_rate == device_rate
    first, end = active_span(captured, 24000, threshold=2000)
    assert 0.8 * 24000 < end - first < 1.2 * 24000, "one second of tone should be about 24000 samples"
    middle = captured[first + 2400 : end - 2400]
    assert abs(dominant_frequency(middle, 24000) - 1000) < 10


def test_preroll_holds_audio_from_before_the_press(pulse: PulseServer) -> None:
    async def scenario() -> tuple[list[float], float, float]:
        capture = Capture(CaptureConfig(preroll_ms=300))
        await capture.open()
        loud: list[Level] = []
        capture.add_level_listener(lambda level: loud.append(level) if level.rms > 2000 else None)
        try:
            playing = pulse.play_into_mic(tone(500, 2.0))
            await until(lambda: len(loud) >= 25, what="half a second of tone at the mic")
            press = time.monotonic()
            tap = capture.open_tap(preroll=True)
            await pause(0.2)
            chunks = tap.take_all()
            playing.stop()
            before = [c for c in chunks if c.delivered_monotonic <= press]
            preroll_seconds = sum(c.duration for c in before)
            return [rms(c.pcm) for c in before], preroll_seconds, press - chunks[0].monotonic
        finally:
            await capture.close()

    levels, preroll_seconds, span = asyncio.run(scenario())
    assert levels and min(levels) > 2000, "the pre-roll must hold the tone heard before the press"
    assert 0.28 <= preroll_seconds <= 0.34
    assert span >= 0.28, "the first pre-roll sample was captured about 300 ms before the press"


def test_a_preroll_can_end_at_a_chunk_handed_on_earlier(pulse: PulseServer) -> None:
    """A consumer acting on a chunk late (a barge-in judged while the loop was busy) still gets the 300 ms before
    that chunk, not the 300 ms before the newest one."""
    async def scenario() -> tuple[int, list[tuple[int, int]]]:
        capture = Capture(CaptureConfig(preroll_ms=300))
        await capture.open()
        tap = capture.open_tap(preroll=False)
        try:
            await until(lambda: capture.stats.blocks > 30, what="over a second of audio")
            chunks = tap.take_all()
            acted_on = next(c for c in reversed(chunks) if chunks[-1].index - c.index >= 24000 * 0.6)
            return acted_on.index, [(c.index, len(c.pcm)) for c in capture.preroll(acted_on.index)]
        finally:
            await capture.close()

    acted_on, preroll = asyncio.run(scenario())
    assert preroll, "the pre-roll before a chunk 600 ms old is gone"
    assert preroll[-1][0] + preroll[-1][1] == acted_on, "the pre-roll ends where the chunk acted on begins"
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(preroll)), "the pre-roll has a gap"
    assert 0.28 <= (acted_on - preroll[0][0]) / 24000 <= 0.34


def test_all_zero_input_is_reported_then_clears(pulse: PulseServer) -> None:
    async def scenario() -> list[CaptureStatus]:
        capture = Capture(CaptureConfig(dead_after_s=0.5))
        seen: list[CaptureStatus] = []
        capture.add_status_listener(seen.append)
        await capture.open()
        try:
            await until(
                lambda: capture.status.state == CaptureState.SILENT_INPUT, what="silent input reported"
            )
            playing = pulse.play_into_mic(tone(400, 1.0))
            await until(lambda: capture.status.state == CaptureState.RUNNING, what="recovery on real audio")
            playing.stop()
            return seen
        finally:
            await capture.close()

    seen = asyncio.run(scenario())
    silent = [s for s in seen if s.state == CaptureState.SILENT_INPUT]
    assert silent and "muted" in silent[0].message


def test_missing_device_falls_back_with_a_notice(pulse: PulseServer) -> None:
    async def scenario() -> tuple[str | None, str]:
        capture = Capture(CaptureConfig(device="no-such-microphone"))
        await capture.open()
        try:
            tap = capture.open_tap(preroll=False)
            playing = pulse.play_into_mic(tone(700, 0.5))
            await until(
                lambda: any(rms(c.pcm) > 2000 for c in list(tap._chunks)), what="audio via the default"
            )
            playing.stop()
            return capture.device_notice, capture.device_name
        finally:
            await capture.close()

    notice, name = asyncio.run(scenario())
    assert notice is not None and "no-such-microphone" in notice and "default" in notice
    assert name


def test_killed_stream_is_reported_as_lost(pulse: PulseServer) -> None:
    async def scenario() -> CaptureStatus:
        capture = Capture(CaptureConfig())
        await capture.open()
        try:
            await until(lambda: capture.stats.blocks > 5, what="capture running")
            tap = capture.open_tap(preroll=False)
            assert pulse.kill_streams("source-output") >= 1
            await until(lambda: capture.status.state == CaptureState.LOST, what="loss reported")
            assert tap.closed
            tap.take_all()  # chunks captured before the loss are still readable
            assert await tap.get() is None
            return capture.status
        finally:
            await capture.close()

    status = asyncio.run(scenario())
    assert "microphone stopped" in status.message

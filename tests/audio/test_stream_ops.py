"""A device that never answers a stop or a close must not hang the app: not its rest, not its close, not the
loop's shutdown. The hang itself cannot be produced on demand (it was PortAudio's ALSA->Pulse plugin blocking in
an abort on a busy machine), so the one blocking call is replaced by one that waits on an event; the streams,
the engine and PulseAudio are real."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from desktop.audio import capture as capture_module
from desktop.audio import stream_ops
from desktop.audio.capture import CaptureConfig
from desktop.audio.devices import LIVE_STREAMS, close_quietly
from desktop.audio.engine import AudioEngine
from desktop.audio.playback import PlaybackConfig
from desktop.audio.stream_ops import call_in_background, call_off_loop
from tests.support.pulse import PulseServer


def test_a_call_that_never_returns_is_given_up_and_the_loop_still_shuts_down(
        caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    async def scenario() -> tuple[bool, bool]:
        stuck = await call_off_loop(release.wait, "stop the microphone", patience_s=0.2)
        fine = await call_off_loop(lambda: None, "close the speaker", patience_s=2.0)
        call_in_background(release.wait, "close the lost speaker")
        return stuck, fine

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="desktop.audio.stream_ops"):
        stuck, fine = asyncio.run(scenario())  # returns: the loop's shutdown waits for none of those threads
    assert (stuck, fine) == (False, True)
    assert time.monotonic() - started < 10
    assert "did not stop the microphone within" in caplog.text
    release.set()


def test_errors_of_a_call_that_answers_reach_the_caller() -> None:
    def broken() -> None:
        raise OSError("device gone")

    async def scenario() -> None:
        await call_off_loop(broken, "stop the speaker")

    with pytest.raises(OSError, match="device gone"):
        asyncio.run(scenario())


def test_engine_closes_past_a_hung_microphone_and_opens_again(pulse: PulseServer, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def hanging_close(stream: object) -> None:
        release.wait(30)
        close_quietly(stream)  # type: ignore[arg-type]

    monkeypatch.setattr(capture_module, "close_quietly", hanging_close)
    monkeypatch.setattr(stream_ops, "STREAM_CALL_TIMEOUT_S", 0.5)

    async def scenario() -> int:
        engine = AudioEngine(CaptureConfig(), PlaybackConfig())
        await engine.open()
        await engine.close()  # the microphone's close hangs: given up after 0.5 s
        monkeypatch.setattr(capture_module, "close_quietly", close_quietly)
        again = AudioEngine(CaptureConfig(), PlaybackConfig())
        await again.open()
        try:
            for _ in range(100):
                if again.capture.stats.blocks > 3:
                    break
                await asyncio.sleep(0.05)
            return again.capture.stats.blocks
        finally:
            await again.close()

    try:
        with caplog.at_level(logging.WARNING, logger="desktop.audio.stream_ops"):
            blocks = asyncio.run(scenario())
        assert "did not close the microphone" in caplog.text
        assert blocks > 3, "a new microphone stream opened and delivered after the hung one was abandoned"
    finally:
        release.set()  # the abandoned close finishes on its own thread
        deadline = time.monotonic() + 10
        while LIVE_STREAMS and time.monotonic() < deadline:
            time.sleep(0.05)

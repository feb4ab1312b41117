"""Interruption end to end: the whole app on real PulseAudio devices against the loopback Realtime server.

What the speaker really played is recorded from the null sink's monitor, so "the server was told what the user
heard" is checked against sound, not against the app's own bookkeeping. The assistant's reply is a steady tone
(its audible length in the recording is exact) or, for the echo tests, real synthesised speech looped back
into the virtual microphone through module-loopback at a laptop-like attenuation and delay.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.config import SAMPLE_RATE
from tests.support import realtime_server as realtime_server_module
from tests.support.app_harness import TEST_KEY, App, start_app, stop_app, until
from tests.support.pulse import PulseServer, Recording
from tests.support.realtime_server import RealtimeTestServer
from tests.support.sounds import read_wav, speech_wav, tone

pytestmark = pytest.mark.slow

FADE_AND_BLOCK_MS = 20  # the bound: within one output block (plus the short fade) of the truth
USER_SPEECH = "Wait, stop please, I have a different question."
ASSISTANT_SPEECH = ("Here is a longer answer so that there is plenty of time to listen. The weather tomorrow "
                    "will be mild with some sunshine in the afternoon, and a light breeze from the west.")


@pytest.fixture(autouse=True)
def _key_and_quiet_room(monkeypatch: pytest.MonkeyPatch, pulse: PulseServer) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    pulse.stop_sounds()
    yield
    pulse.stop_sounds()


@pytest.fixture
def echo(pulse: PulseServer) -> Iterator[None]:
    """The assistant's voice leaks from the speaker into the microphone: -14 dB, ~30 ms later."""
    module = int(pulse.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic",
                             "latency_msec=30", "source_dont_move=true", "sink_dont_move=true").strip())
    for line in pulse.pactl("list", "short", "sink-inputs").splitlines():
        if "module-loopback" in line:
            pulse.pactl("set-sink-input-volume", line.split()[0], "60%")  # cubic scale: about -13 dB
    try:
        yield
    finally:
        pulse.unload(module)


def assistant_speech() -> bytes:
    samples, rate = read_wav(speech_wav(ASSISTANT_SPEECH))
    assert rate == SAMPLE_RATE
    return samples.astype("<i2").tobytes()


def steady_reply(seconds: float = 8.0) -> bytes:
    return tone(330.0, seconds, amplitude=0.4).astype("<i2").tobytes()


def audible_samples(recording: np.ndarray, threshold: float = 500.0) -> int:
    """Samples of the steady reply that reached the speaker: first to last loud sample (the tone never
    pauses, so everything between was played)."""
    loud = np.flatnonzero(np.abs(recording.astype(np.int32)) > threshold)
    return 0 if len(loud) == 0 else int(loud[-1] - loud[0] + 1)


async def reply_playing(app: App, server: RealtimeTestServer, audio: bytes, heard_ms: float = 800,
                        speed: float = 3.0) -> None:
    """Starts a reply streamed faster than real time (as the real API does), and waits until part is heard."""
    server.script_response(audio=audio, speed=speed, chunk_ms=100,
                           transcript="This is the assistant giving a fairly long spoken answer to you.")
    app.controller.send_text("Tell me something long.")
    try:
        await until(lambda: app.controller.turn_state == "speaking", what="reply playing")
    except AssertionError as exc:
        raise AssertionError(f"no reply: states {app.recorder.turn_states[-8:]}, {app.controller.interrupts} "
                             f"client sent {server.received_types()[-6:]}, "
                             f"server sent {[e['type'] for e in server.sent[-40:]]}") from exc
    item = await _current_item(server)
    try:
        await until(lambda: app.controller._played_samples(item) >= heard_ms * SAMPLE_RATE / 1000,
                    what=f"{heard_ms} ms heard")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {app.controller._played_samples(item)} samples played, interrupted by "
                             f"{[r.trigger for r in app.controller.interrupts]}, states "
                             f"{app.recorder.turn_states[-6:]}") from exc


async def _current_item(server: RealtimeTestServer) -> str:
    event = await server.async_wait_sent("response.output_audio.delta")
    return str(event["item_id"])


async def finish_recording(app: App, recording: Recording) -> np.ndarray:
    """Stops the monitor recording once the sound card has really played everything it was given: after a
    stop, up to one output latency of audio is still on its way to the speaker."""
    record = app.controller.interrupts[-1]
    playback = app.controller.audio.playback
    await until(lambda: playback.played_samples(record.item_id) >= (record.played_samples or 0),
                what="the clock reaching the heard position")
    settle = time.monotonic() + 0.25  # parecord's own buffering
    await until(lambda: time.monotonic() >= settle)
    return await asyncio.to_thread(recording.stop)


def check_truncation(server: RealtimeTestServer, app: App, heard_on_speaker: int, *, cancel: bool) -> None:
    kinds = server.received_types()
    assert kinds.count("conversation.item.truncate") == 1, kinds
    truncate = next(e for e in server.received if e["type"] == "conversation.item.truncate")
    record = app.controller.interrupts[-1]
    assert truncate["item_id"] == record.item_id and truncate["content_index"] == 0
    assert app.controller.audio.playback.stats.underruns == 0, "gaps in playback would blur the comparison"
    error_ms = abs(truncate["audio_end_ms"] - heard_on_speaker * 1000 / SAMPLE_RATE)
    assert error_ms <= FADE_AND_BLOCK_MS, (truncate["audio_end_ms"], heard_on_speaker, error_ms)
    assert ("response.cancel" in kinds) is cancel
    assert not [e for e in server.sent if e["type"] == "error"], "the server answered with an error"
    assert server.violations == []


@pytest.mark.parametrize("trigger", ["stop", "talk_key", "server_speech_started"])
def test_each_trigger_silences_and_truncates_to_what_was_heard(
        trigger: str, qloop: asyncio.Runner, qtbot: QtBot, pulse: PulseServer, realtime_server: RealtimeTestServer,
        tmp_path: Path) -> None:
    hands_free = trigger == "server_speech_started"

    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=hands_free)
        try:
            recording = pulse.record_speaker()
            await reply_playing(app, realtime_server, steady_reply())
            if trigger == "stop":
                qtbot.mouseClick(app.window.stop_button, Qt.MouseButton.LeftButton)
            elif trigger == "talk_key":
                QApplication.sendEvent(app.window.talk_button, QKeyEvent(
                    QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " "))
            else:
                realtime_server.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000,
                                      "item_id": "item_user_barge_in"})
            await realtime_server.async_wait_for("conversation.item.truncate")
            await until(lambda: app.controller.audio.playback.buffered_ms == 0, what="playback silent")
            if trigger == "talk_key":
                QApplication.sendEvent(app.window.talk_button, QKeyEvent(
                    QEvent.Type.KeyRelease, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " "))
            heard = audible_samples(await finish_recording(app, recording))
            assert app.controller.interrupts[-1].trigger == {"stop": "stop", "talk_key": "talk",
                                                            "server_speech_started": "server_vad"}[trigger]
            # The server cancels by itself on its own speech_started (interrupt_response): no cancel then.
            check_truncation(realtime_server, app, heard, cancel=trigger != "server_speech_started")
            assert app.recorder.truncated and app.recorder.truncated[-1][2], "unheard text not marked"
        finally:
            await stop_app(app)

    qloop.run(scenario())


def test_user_speech_interrupts_through_local_detection_once(qloop: asyncio.Runner, pulse: PulseServer,
                                                             realtime_server: RealtimeTestServer,
                                                             tmp_path: Path) -> None:
    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        try:
            recording = pulse.record_speaker()
            await reply_playing(app, realtime_server, steady_reply())
            pulse.play_into_mic(speech_wav(USER_SPEECH))
            await realtime_server.async_wait_for("conversation.item.truncate")
            await until(lambda: app.controller.audio.playback.buffered_ms == 0, what="playback silent")
            heard = audible_samples(await finish_recording(app, recording))
            # The user's words reach the server after the barge-in: its own speech_started must not cut again.
            await realtime_server.async_wait_sent("input_audio_buffer.speech_started")
            await realtime_server.async_wait_sent("input_audio_buffer.speech_stopped")
            assert app.controller.interrupts[0].trigger == "local_vad"
            check_truncation(realtime_server, app, heard, cancel=True)
        finally:
            await stop_app(app)

    qloop.run(scenario())


def test_the_assistants_own_echo_never_interrupts(qloop: asyncio.Runner, pulse: PulseServer, echo: None,
                                                  realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        mic_rms: list[float] = []
        app.controller.mic_samples.connect(
            lambda pcm: mic_rms.append(float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))))
        try:
            for _ in range(2):
                await reply_playing(app, realtime_server, assistant_speech(), heard_ms=100)
                await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
            kinds = realtime_server.received_types()
            assert max(mic_rms) > 800, "the echo did not reach the microphone: the test would prove nothing"
            assert app.controller.interrupts == []
            assert "conversation.item.truncate" not in kinds and "response.cancel" not in kinds
            assert not [e for e in realtime_server.sent if e["type"] == "input_audio_buffer.speech_started"]
        finally:
            await stop_app(app)

    qloop.run(scenario())


def test_user_still_interrupts_over_the_echo(qloop: asyncio.Runner, pulse: PulseServer, echo: None,
                                            realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        try:
            await reply_playing(app, realtime_server, assistant_speech(), heard_ms=1500)
            pulse.play_into_mic(speech_wav(USER_SPEECH))
            await realtime_server.async_wait_for("conversation.item.truncate", timeout=10)
            # With the echo canceller the server hears the cleaned microphone: its own detection may be first.
            trigger = app.controller.interrupts[0].trigger
            assert trigger in ("local_vad", "server_vad")
            assert ("response.cancel" in realtime_server.received_types()) is (trigger == "local_vad")
        finally:
            await stop_app(app)

    qloop.run(scenario())


def test_triggers_after_the_reply_ended_do_no_harm(qloop: asyncio.Runner, qtbot: QtBot, pulse: PulseServer,
                                                   realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path)
        try:
            realtime_server.script_response(audio=steady_reply(0.6), speed=1.0)
            app.controller.send_text("Short answer please.")
            await until(lambda: app.controller.turn_state == "speaking", what="reply playing")
            await until(lambda: app.controller.turn_state == "idle", within=10, what="reply played out")
            before = len(realtime_server.received)
            app.controller.stop_reply()
            app.controller.barge_in("local_vad")
            realtime_server.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                                  "item_id": "item_late"})
            app.controller.press_talk()  # a new turn: only the buffer clear goes out
            await realtime_server.async_wait_for("input_audio_buffer.clear")
            app.controller.release_talk()
            later = [e["type"] for e in realtime_server.received[before:]]
            assert "response.cancel" not in later and "conversation.item.truncate" not in later
            assert app.controller.interrupts == []
            assert not [e for e in realtime_server.sent if e["type"] == "error"]
        finally:
            await stop_app(app)

    qloop.run(scenario())


def appended_since(server: RealtimeTestServer, start: int) -> list[bytes]:
    return [base64.b64decode(e["audio"]) for e in server.received[start:] if e["type"] == "input_audio_buffer.append"]


def loud_frames(pcm: np.ndarray, frame: int = SAMPLE_RATE // 50, rms: float = 300.0) -> int:
    """20 ms frames of speech (room silence on the virtual microphone is far below `rms`)."""
    frames = pcm[: len(pcm) // frame * frame].astype(np.float64).reshape(-1, frame)
    return int((np.sqrt((frames**2).mean(axis=1)) > rms).sum())


@pytest.mark.parametrize("state", ["thinking", "speaking"])
def test_a_local_barge_in_sends_the_users_words_exactly_once(
        state: str, qloop: asyncio.Runner, pulse: PulseServer, realtime_server: RealtimeTestServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the server receives against what was played into the microphone. While the model thinks, the
    server already has every chunk: the barge-in must not send the pre-roll again. While the assistant speaks,
    the server heard silence in the user's first words' place: the pre-roll must bring them back."""
    # The server's own detection is slower than the local one here, as with the real API over a network.
    monkeypatch.setattr(realtime_server_module, "SPEECH_RMS", float("inf"))
    played, _rate = read_wav(speech_wav(USER_SPEECH))

    async def scenario() -> list[bytes]:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        try:
            if state == "thinking":
                realtime_server.script_response(think_s=120, audio=steady_reply(1.0))
                app.controller.send_text("Think about this for a while.")
                await realtime_server.async_wait_sent("response.created")
                await until(lambda: app.controller.turn_state == "thinking", what="thinking")
            else:
                await reply_playing(app, realtime_server, steady_reply())
                guard = app.controller.mic.guard
                assert guard is not None
                # What is measured is the pre-roll, not how loud the user must be while the guard still learns.
                await until(lambda: guard.warmed_up, what="the echo guard's warm-up")
            start, pumped_from = len(realtime_server.received), app.controller.mic.position
            playing = pulse.play_into_mic(speech_wav(USER_SPEECH))
            # Only the local detector can cancel here: the server's own detection is off.
            await realtime_server.async_wait_for("response.cancel", timeout=20)
            await asyncio.to_thread(playing.wait)
            ended = app.controller.mic.position
            await until(lambda: app.controller.mic.position >= ended + SAMPLE_RATE // 2, what="the mic after it")
            pumped = app.controller.mic.position - pumped_from
            await until(lambda: sum(len(c) for c in appended_since(realtime_server, start)) // 2 >= pumped - 6000,
                        what="the audio reaching the server")
            return appended_since(realtime_server, start)
        finally:
            await stop_app(app)

    chunks = qloop.run(scenario())
    loud = [c for c in chunks if loud_frames(np.frombuffer(c, "<i2"))]
    assert loud, "the user's speech never reached the server: the test would prove nothing"
    assert len(set(loud)) == len(loud), f"{len(loud) - len(set(loud))} chunks of speech were sent twice"
    received, spoken = loud_frames(np.frombuffer(b"".join(chunks), "<i2")), loud_frames(played)
    # Lost first words (no pre-roll) or words sent twice show as frames more or fewer; 2 allow for the edges.
    assert abs(received - spoken) <= 2, f"{received} frames of speech reached the server, {spoken} were said"

"""The main window driving the real app stack: keys and buttons in an offscreen window, the controller, the
session core, PulseAudio virtual devices and the loopback Realtime server, which checks every event against
the official models."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app.controller import Controller
from desktop.ui.main_window import MainWindow
from desktop.ui.settings_dialog import ConnectionPage
from tests.support.app_harness import (
    TEST_KEY,
    Recorder,
    make_controller,
    next_emission,
    settings_in,
    start_app,
    stop_app,
    until,
)
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer, spoken_tone
from tests.support.sounds import speech_wav

pytestmark = pytest.mark.slow


@dataclass
class App:
    controller: Controller
    window: MainWindow
    recorder: Recorder
    server: RealtimeTestServer
    pulse: PulseServer


Scenario = Callable[[App], Awaitable[None]]


@pytest.fixture
def with_app(qloop: asyncio.Runner, pulse: PulseServer, realtime_server: RealtimeTestServer, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], None]]:
    """Runs a scenario against a started app, all inside one run of the qasync loop: Qt events processed
    while the loop is not running would step asyncio tasks outside it (and break the connection's tasks)."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    def run(scenario: Scenario, **settings: object) -> None:
        async def whole() -> None:
            parts = await start_app(realtime_server.url, tmp_path, **settings)
            try:
                await until(parts.window.isActiveWindow, what="window active")
                await scenario(App(parts.controller, parts.window, parts.recorder, realtime_server, pulse))
            finally:
                await stop_app(parts)

        qloop.run(whole())

    yield run
    assert realtime_server.violations == []


def key(window: MainWindow, kind: QEvent.Type, autorepeat: bool = False) -> None:
    QApplication.sendEvent(window.talk_button, QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier,
                                                         " ", autorepeat))


async def talk_turn(app: App, words: str, appends: int, what: str) -> None:
    """Says `words` into the mic while holding Space until `appends` chunks reached the server, then releases and
    waits for the turn to be sent (response.create)."""
    app.pulse.play_into_mic(speech_wav(words))
    key(app.window, QEvent.Type.KeyPress)
    await until(lambda: app.server.received_types().count("input_audio_buffer.append") >= appends, what=what)
    key(app.window, QEvent.Type.KeyRelease)
    await app.server.async_wait_for("response.create")


def types_after(server: RealtimeTestServer, first: str) -> list[str]:
    kinds = server.received_types()
    return kinds[kinds.index(first):] if first in kinds else []


def test_holding_space_sends_clear_appends_commit_and_response(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        app.pulse.play_into_mic(speech_wav("What time is it in Lisbon right now?"))
        key(app.window, QEvent.Type.KeyPress)
        for _ in range(5):  # a held key auto-repeats: those presses must not open new turns
            key(app.window, QEvent.Type.KeyPress, autorepeat=True)
            key(app.window, QEvent.Type.KeyRelease, autorepeat=True)
        await until(lambda: app.server.received_types().count("input_audio_buffer.append") >= 30,
                    what="1.2 s of microphone audio sent")
        assert app.window.waveform.is_animating()
        key(app.window, QEvent.Type.KeyRelease)
        await app.server.async_wait_for("response.create")
        await until(lambda: app.controller.turn_state == "idle", within=20, what="reply played to the end")
        turn = types_after(app.server, "input_audio_buffer.clear")
        assert turn.count("input_audio_buffer.clear") == 1
        assert turn[1:-2] == ["input_audio_buffer.append"] * (len(turn) - 3)
        assert turn[-2:] == ["input_audio_buffer.commit", "response.create"]
        assert "speaking" in app.recorder.turn_states
        _mins, maxs = app.window.waveform.lane_columns("mic")
        assert len(maxs) > 0 and float(maxs.max()) > 0.1  # the spoken words reached the mic lane (full scale 1)
        assert len(app.window.waveform.lane_columns("assistant")[1]) > 0

    with_app(scenario)


def test_resting_audio_wakes_for_a_press_and_for_the_reply(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        audio = app.controller.audio
        await until(lambda: audio.capture.is_resting and audio.playback.is_resting, within=10,
                    what="microphone and speaker rest after a second unused")
        QApplication.sendEvent(app.window, QEvent(QEvent.Type.ActivationChange))  # the window comes to the front
        await until(lambda: not audio.capture.is_resting, what="the mic wakes with the window")
        await until(lambda: audio.capture.is_resting, within=10, what="and rests again")
        await talk_turn(app, "What time is it in Lisbon right now?", 30,  # Space pressed on a resting mic
                        what="1.2 s of microphone audio sent")
        await until(lambda: app.controller.turn_state == "idle", within=20, what="reply played to the end")
        _mins, maxs = app.window.waveform.lane_columns("mic")
        assert float(maxs.max()) > 0.1, "the spoken words were captured after the wake"
        assert len(app.window.waveform.lane_columns("assistant")[1]) > 50, "the resting speaker played the reply"
        # A rest is not a lost device nor a dead one (the virtual mic's digital silence may be reported: it is).
        assert not [e for e in app.recorder.errors if "stopped" in e[0] or "no audio at all" in e[0]]
        await until(lambda: audio.capture.is_resting and audio.playback.is_resting, within=10,
                    what="both rest again after the turn")

    with_app(scenario, audio_rest_s=1)


def test_talking_still_works_after_a_device_rescan(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        available = asyncio.ensure_future(next_emission(app.controller.talk_availability, within=20))
        app.controller.rescan_audio()  # Settings → Audio → Rescan devices: both streams closed and reopened
        assert (await available)[0] is True
        await talk_turn(app, "Are you still listening to me?", 15, what="0.6 s of the mic sent after the rescan")
        await until(lambda: app.controller.turn_state == "idle", within=20, what="reply played to the end")

    with_app(scenario)


def test_choosing_another_microphone_in_settings_takes_effect(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        audio = app.controller.audio
        assert audio.capture.device_name == "default"
        app.controller.settings.set("input_device", "pulse")  # what Settings → Audio → OK stores
        await app.controller.apply_settings()
        assert audio.capture.device_name == "pulse" and audio.playback.device_name == "default"
        await until(lambda: app.controller.turn_state == "idle", what="reconnected")
        await talk_turn(app, "Can you hear me on this microphone?", 15, what="0.6 s of the new microphone sent")

    with_app(scenario)


def test_hands_free_keeps_the_microphone_awake(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        audio = app.controller.audio
        app.window.mode_box.setCurrentIndex(app.window.mode_box.findData("server_vad"))
        await until(lambda: audio.playback.is_resting, within=10, what="the idle speaker rests")
        # The same check that rested the speaker kept the microphone.
        assert not audio.capture.is_resting, "hands-free listens: its microphone never rests"
        assert app.controller.hands_free

    with_app(scenario, audio_rest_s=1)


def test_a_short_tap_sends_no_turn(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        key(app.window, QEvent.Type.KeyPress)
        key(app.window, QEvent.Type.KeyRelease)
        await until(lambda: app.server.received_types().count("input_audio_buffer.clear") >= 2,
                    what="the tap's buffer cleared again")
        kinds = app.server.received_types()
        assert "input_audio_buffer.commit" not in kinds and "response.create" not in kinds
        assert app.controller.turn_state == "idle"

    with_app(scenario)


def test_space_in_the_text_field_types_instead_of_talking(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        app.window.text_input.setFocus()
        QTest.keyClicks(app.window.text_input, "hi there")
        assert app.window.text_input.text() == "hi there"
        QTest.keyClick(app.window.text_input, Qt.Key.Key_Return)
        event = await app.server.async_wait_for("conversation.item.create")
        assert event["item"]["content"][0]["text"] == "hi there"
        await app.server.async_wait_for("response.create")
        assert "input_audio_buffer.clear" not in app.server.received_types()

    with_app(scenario)


def test_stop_during_a_reply_truncates_cancels_and_marks_the_unheard_text(
        with_app: Callable[[Scenario], None], qtbot: QtBot) -> None:
    async def scenario(app: App) -> None:
        # Faster than real time, as the real API streams: text and audio well ahead of what is played.
        app.server.script_response(audio=spoken_tone(6.0), speed=4.0, chunk_ms=100)
        app.controller.send_text("Tell me a long story.")
        await until(lambda: app.controller.turn_state == "speaking", what="reply playing")
        await until(lambda: app.window.stop_button.isEnabled(), what="Stop enabled")
        await asyncio.wait_for(next_emission(app.controller.assistant_samples), 5)
        await until(lambda: len(app.window.waveform.lane_columns("assistant")[1]) > 60, what="0.6 s heard")
        qtbot.mouseClick(app.window.stop_button, Qt.MouseButton.LeftButton)
        truncate = await app.server.async_wait_for("conversation.item.truncate")
        cancel = await app.server.async_wait_for("response.cancel")
        record = app.controller.interrupts[-1]
        assert record.trigger == "stop"
        assert truncate["item_id"] == record.item_id and truncate["content_index"] == 0
        assert truncate["audio_end_ms"] == record.played_samples * 1000 // 24000
        assert 500 <= truncate["audio_end_ms"] < 6000
        assert cancel["type"] == "response.cancel"
        await app.server.async_wait_sent("conversation.item.truncated")
        assert not app.window.stop_button.isEnabled()
        item_id, heard, unheard = app.recorder.truncated[-1]
        assert heard and unheard and app.window.transcript.has_item(item_id)
        assert app.server.received_types().count("conversation.item.truncate") == 1

    with_app(scenario)


def test_mode_switch_updates_the_session_live(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        await app.server.async_wait_for("session.update")  # the one sent at connect
        box = app.window.mode_box
        box.setCurrentIndex(box.findData("server_vad"))
        update = await app.server.async_wait_for("session.update")
        assert update["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert app.controller.settings.get("turn_mode") == "server_vad"

    with_app(scenario)


def test_waveform_timer_stops_when_audio_stops(with_app: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        key(app.window, QEvent.Type.KeyPress)
        await asyncio.wait_for(next_emission(app.controller.mic_samples), 5)
        assert app.window.waveform.is_animating()
        app.controller.stop_reply()  # drop the held turn without waiting for the key
        key(app.window, QEvent.Type.KeyRelease)
        await until(lambda: not app.window.waveform.is_animating(), within=3, what="waveform idle")

    with_app(scenario)


def test_missing_key_for_openai_shows_the_way_to_settings(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path,
                                                          secret_service: object) -> None:
    controller = make_controller(None, settings_in(tmp_path, backend="openai"), audio=False)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        await controller.start()
        try:
            await controller.wait_ready()
            assert window.banner.isVisible()
            assert "Settings" in window.banner_text.text()
            assert not window.talk_button.isEnabled()
        finally:
            await controller.aclose()

    qloop.run(scenario())


@pytest.mark.parametrize("how", ["command_line", "settings"])
def test_the_status_line_says_where_in_words_and_keeps_the_url_for_the_tooltip_and_settings(
        how: str, qloop: asyncio.Runner, qtbot: QtBot, realtime_server: RealtimeTestServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    base = realtime_server.url.split("?")[0]
    if how == "command_line":  # --url: used as given
        controller = make_controller(realtime_server.url, settings_in(tmp_path), audio=False)
        url = realtime_server.url
    else:  # Settings → Connection → Custom endpoint: the model is added to the URL
        controller = make_controller(None, settings_in(tmp_path, backend="custom", endpoint_url=base), audio=False)
        url = f"{base}?model=gpt-realtime"
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        await controller.start()
        try:
            await controller.wait_ready()
            await until(lambda: controller.turn_state == "idle", what="connected")
            dialog = window.open_settings()
            in_use = dialog.page(ConnectionPage).endpoint.text()
            dialog.reject()
        finally:
            await controller.aclose()
        status = window.connection_label.text()
        assert status.endswith(f"Custom server · 127.0.0.1:{realtime_server.port}"), status
        assert "://" not in status and "/v1/realtime" not in status
        assert window.connection_label.toolTip().endswith(url)
        assert url in in_use and "Custom server" in in_use
        transcript = window.transcript.plain_text()
        assert "://" not in transcript and "Custom server" not in transcript, transcript

    qloop.run(scenario())

"""Timer alerts: the notification text, the Notifier seam, and the chime through a real Playback on PulseAudio,
played at once when the speaker is free and only after a reply that is playing (whose clock stays exact)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from desktop.app.timer_alerts import TimerAlerts, alert_text, chime_pcm
from desktop.audio.playback import Playback, PlaybackConfig, PlaybackEvent
from desktop.tools.approvals import Answer, ApprovalRequest
from desktop.tools.timers import Timer, TimerBook
from tests.audio.helpers import feed_all, pause, until
from tests.support.app_harness import TEST_KEY, next_emission, start_app, stop_app
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer, spoken_tone
from tests.support.sounds import dominant_frequency, tone

pytestmark = pytest.mark.timeout(90)
ZONE = dt.timezone(dt.timedelta(hours=1), "CET")
DUE = dt.datetime(2026, 12, 3, 17, 0, tzinfo=ZONE)


def test_alert_texts() -> None:
    tea = Timer("1", "timer", "tea", DUE, DUE)
    assert alert_text(tea) == ("Timer done", "Your tea timer is done.")
    assert alert_text(Timer("2", "timer", "5-minute", DUE, DUE)) == ("Timer done", "Your 5-minute timer is done.")
    missed = DUE.replace(year=2025)
    title, body = alert_text(Timer("3", "reminder", "call the dentist", missed, missed, late=True), ZONE)
    assert title == "Reminder" and body.startswith("Call the dentist (due at 17:00 on 03 December")
    assert "while Parley was closed" in body


def test_the_chime_is_two_bell_notes_under_a_second() -> None:
    pcm = np.frombuffer(chime_pcm(), dtype="<i2")
    assert len(pcm) == 24000 and 0.3 < np.abs(pcm).max() / 32767 < 0.4
    assert abs(dominant_frequency(pcm[:6000], 24000) - 988) < 10
    assert abs(dominant_frequency(pcm[9000:], 24000) - 784) < 10


def test_a_fired_timer_notifies_through_the_seam_without_a_speaker(tmp_path: Path) -> None:
    notified: list[tuple[str, str]] = []
    alerts = TimerAlerts(lambda: None, notify=lambda title, body: notified.append((title, body)),
                         book=TimerBook(tmp_path / "timers.json"))
    emitted: list[tuple[str, str]] = []
    alerts.alerted.connect(lambda title, body: emitted.append((title, body)))

    async def scenario() -> None:
        await alerts.start()
        alerts.book.add_timer(0.1, "tea")
        await until(lambda: bool(notified), within=30, what="the notification")
        await alerts.aclose()

    asyncio.run(scenario())
    assert notified == emitted == [("Timer done", "Your tea timer is done.")]
    assert alerts.timers() == []


def test_a_timer_that_cannot_be_saved_still_runs_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    alerts = TimerAlerts(lambda: None, book=TimerBook(tmp_path / "not-a-folder" / "timers.json"))

    async def scenario() -> None:
        await alerts.start()
        alerts.book.add_timer(0.3, "tea")
        await until(lambda: len(alerts.alerts) == 3, within=30, what="both problems and the timer")
        alerts.book.add_timer(60, "bread")  # fails to save again: not told twice
        await alerts.aclose()  # waits for that write; its failure was handed to the loop before

    asyncio.run(scenario())
    assert len(alerts.alerts) == 3
    titles = {title: body for title, body in alerts.alerts}
    assert "not-a-folder" in titles["Saved timers could not be read"]  # at start: it is no folder
    assert "not-a-folder" in titles["Timers could not be saved"]
    assert titles["Timer done"] == "Your tea timer is done."  # it ran all the same


def test_chime_plays_at_once_when_the_speaker_is_free(pulse: PulseServer, tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int, np.ndarray]:
        playback = Playback(PlaybackConfig())
        await playback.open()
        alerts = TimerAlerts(lambda: playback, book=TimerBook(tmp_path / "timers.json"))
        recording = pulse.record_speaker()
        try:
            await alerts.start()
            await pause(0.3)
            assert not alerts.chiming
            alerts.book.add_timer(0.1, "egg")
            await until(lambda: alerts.chiming, within=20, what="the chime started")
            await until(lambda: not alerts.chiming, within=20, what="the chime heard to its end")
            assert playback.is_drained("timer-alert-1")
            await pause(0.3)
            return playback.played_samples("timer-alert-1"), playback.received_samples("timer-alert-1"), \
                recording.stop()
        finally:
            recording.stop()
            await alerts.aclose()
            await playback.close()

    played, received, recorded = asyncio.run(scenario())
    assert received == len(chime_pcm()) // 2 and played == received
    assert np.abs(recorded).max() > 3000  # it reached the speaker


def test_a_chime_cut_by_a_stop_does_not_keep_the_microphone_gated(pulse: PulseServer, tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        playback = Playback(PlaybackConfig())
        await playback.open()
        alerts = TimerAlerts(lambda: playback, book=TimerBook(tmp_path / "timers.json"))
        try:
            await alerts.start()
            alerts.fire(Timer("1", "timer", "tea", DUE, DUE))
            await until(lambda: alerts.chiming and playback.played_samples("timer-alert-1") > 2400, within=20,
                        what="the chime playing")
            playback.stop()  # the user talks over it (a barge-in stops everything playing)
            await until(lambda: not alerts.chiming, within=20, what="the gate lifted")
            return playback.played_samples("timer-alert-1"), playback.received_samples("timer-alert-1")
        finally:
            await alerts.aclose()
            await playback.close()

    played, received = asyncio.run(scenario())
    assert played < received  # it really was cut short, so "heard to the end" never comes


def test_a_reminder_missed_while_closed_chimes_once_the_speaker_opens(pulse: PulseServer, tmp_path: Path) -> None:
    missed = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    (tmp_path / "timers.json").write_text(json.dumps({"version": 1, "timers": [
        Timer("1", "reminder", "call the dentist", missed, missed).to_json()]}))
    speaker: list[Playback] = []

    async def scenario() -> tuple[list[tuple[str, str]], int]:
        alerts = TimerAlerts(lambda: speaker[0] if speaker else None, book=TimerBook(tmp_path / "timers.json"))
        playback = Playback(PlaybackConfig())
        try:
            await alerts.start()  # the app reads its timers while its audio is still opening
            await playback.open()
            speaker.append(playback)
            await until(lambda: playback.received_samples("timer-alert-1") > 0
                        and playback.played_samples("timer-alert-1") == playback.received_samples("timer-alert-1"),
                        within=20, what="the chime played")
            return alerts.alerts, playback.played_samples("timer-alert-1")
        finally:
            await alerts.aclose()
            await playback.close()

    alerted, played = asyncio.run(scenario())
    assert len(alerted) == 1 and alerted[0][0] == "Reminder" and "while Parley was closed" in alerted[0][1]
    assert played == len(chime_pcm()) // 2


def test_chime_waits_for_the_reply_and_leaves_its_clock_alone(pulse: PulseServer, tmp_path: Path) -> None:
    reply = tone(440, 1.2)
    events: list[PlaybackEvent] = []

    async def scenario() -> tuple[int, int, int]:
        playback = Playback(PlaybackConfig())
        await playback.open()
        playback.add_event_listener(events.append)
        alerts = TimerAlerts(lambda: playback, book=TimerBook(tmp_path / "timers.json"))
        try:
            await alerts.start()
            await pause(0.3)
            feed_all(playback, "reply", reply[: len(reply) // 2])  # the reply is still arriving
            await until(lambda: any(e.kind == "started" for e in events), within=20, what="the reply started")
            alerts.fire(Timer("1", "timer", "tea", DUE, DUE))
            await pause(0.4)
            chimed_early = playback.received_samples("timer-alert-1")
            feed_all(playback, "reply", reply[len(reply) // 2:])
            playback.finish("reply")
            await until(lambda: playback.is_drained("timer-alert-1"), within=20, what="the chime played")
            return chimed_early, playback.played_samples("reply"), playback.received_samples("reply")
        finally:
            await alerts.aclose()
            await playback.close()

    chimed_early, played, received = asyncio.run(scenario())
    assert chimed_early == 0  # not queued into the middle of the reply
    assert played == received == len(reply)
    order = [(e.kind, e.item_id) for e in events if e.kind in ("started", "drained")]
    assert order == [("started", "reply"), ("drained", "reply"), ("started", "timer-alert-1"),
                     ("drained", "timer-alert-1")]


@pytest.mark.slow
def test_the_model_sets_a_timer_that_alerts_with_the_window_hidden(
        qloop: asyncio.Runner, pulse: PulseServer, realtime_server: RealtimeTestServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole path: the loopback server calls set_timer, the app's book answers and saves it, the window is
    hidden, and the timer still notifies, chimes through the speaker and shows in the transcript."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # this test's own timers.json
    realtime_server.script_response(function_calls=[("set_timer", '{"seconds": 1.5, "label": "tea"}')])
    realtime_server.script_response(audio=spoken_tone(0.5), transcript="Your tea timer is running.")

    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path)
        controller = app.controller
        try:
            update = await realtime_server.async_wait_for("session.update")
            names = [tool["name"] for tool in update["session"]["tools"]]
            assert names[:5] == ["get_current_time", "calculate", "set_timer", "list_timers", "cancel_timer"]
            asked: list[ApprovalRequest] = []  # setting a timer changes something: the user is asked first
            controller.tools.approval_requested.connect(asked.append)
            controller.tools.approval_requested.connect(lambda r: controller.tools.answer(r.call_id, Answer.ALLOW))
            alerted = asyncio.ensure_future(next_emission(controller.timers.alerted, within=30))
            controller.send_text("Set a tea timer for a second and a half.")

            def outputs() -> list[dict[str, object]]:
                return [e["item"] for e in realtime_server.received
                        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]

            await until(lambda: bool(outputs()), within=20, what="the function_call_output")
            answer = json.loads(str(outputs()[0]["output"]))
            assert answer["set"]["label"] == "tea" and answer["set"]["kind"] == "timer"
            saved = tmp_path / "data" / "parley" / "timers.json"  # written by the book's worker thread
            await until(lambda: saved.exists() and bool(json.loads(saved.read_text())["timers"]), what="saved")
            assert [t["label"] for t in json.loads(saved.read_text())["timers"]] == ["tea"]
            assert [t.label for t in controller.timers.timers()] == ["tea"]
            assert [(r.tool_name, dict(r.arguments)) for r in asked] == [("set_timer", {"seconds": 1.5,
                                                                                        "label": "tea"})]
            app.window.hide()
            assert await alerted == ("Timer done", "Your tea timer is done.")
            await until(lambda: controller.audio.playback.is_drained("timer-alert-1"), within=30,
                        what="the chime played")
            assert "Your tea timer is done." in app.window.transcript.plain_text()
            assert app.window.timers_panel.isHidden()
        finally:
            await stop_app(app)

    qloop.run(scenario())
    assert realtime_server.violations == []

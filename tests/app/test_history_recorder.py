"""The history as the app records it: the real controller and session against the loopback Realtime server,
the real store on a file. Typed turns keep these tests free of audio; the signals they produce are the same."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from desktop.app.controller import Controller
from desktop.app.history_recorder import HistoryRecorder
from desktop.history.models import StoredItem
from desktop.history.store import HistoryStore
from tests.support.app_harness import TEST_KEY, make_controller, settings_in, until
from tests.support.realtime_server import RealtimeTestServer

Scenario = Callable[[Controller, HistoryRecorder], Awaitable[None]]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)


def run_app(qloop: asyncio.Runner, url: str, folder: Path, scenario: Scenario, **settings: object) -> None:
    async def whole() -> None:
        controller = make_controller(url, settings_in(folder, **settings), audio=False)
        recorder = HistoryRecorder(controller, HistoryStore(folder / "history.sqlite3"))
        await controller.start()
        await controller.wait_ready()
        await until(lambda: controller.turn_state == "idle", what="session ready")
        try:
            await scenario(controller, recorder)
        finally:
            await controller.aclose()
            await recorder.aclose()

    qloop.run(whole())


async def typed_turn(controller: Controller, server: RealtimeTestServer, text: str, turn: int) -> None:
    controller.send_text(text)
    await server.async_wait_sent("response.done", timeout=20, count=turn)
    await until(lambda: controller.turn_state == "idle", within=20, what="turn over")


def test_a_conversation_is_recorded_as_it_happens(qloop: asyncio.Runner, realtime_server: RealtimeTestServer,
                                                  tmp_path: Path) -> None:
    realtime_server.script_response(function_calls=[("get_current_time", "{}")])
    realtime_server.script_response(transcript="It is ten past ten in the morning.")

    async def scenario(controller: Controller, recorder: HistoryRecorder) -> None:
        await typed_turn(controller, realtime_server, "What time is it in Lisbon?", turn=2)
        await recorder.store.flush()
        record = await recorder.store.open(recorder.current or "")
        assert record is not None
        kinds = [(i.role, i.kind) for i in record.items]
        assert kinds == [("user", "message"), ("assistant", "function_call"), ("assistant", "message")], kinds
        user, call, answer = record.items
        assert user.text == "What time is it in Lisbon?" and user.done
        assert call.text == "get_current_time" and call.arguments == "{}" and call.output and call.done
        assert answer.text == "It is ten past ten in the morning." and answer.done
        assert record.summary.backend == "custom" and record.summary.model == "gpt-realtime"
        assert record.summary.title == "What time is it in Lisbon?"
        assert record.summary.cost > 0 and record.usage["responses"] == 2
        assert record.usage["output_audio"] > 0

    run_app(qloop, realtime_server.url, tmp_path, scenario)
    assert realtime_server.violations == []
    for file in tmp_path.iterdir():  # the key used to connect never reaches the history file or its WAL
        if file.name.startswith("history.sqlite3"):
            assert TEST_KEY.encode() not in file.read_bytes(), file.name


def test_new_then_continue_seeds_a_fresh_session_with_the_text(qloop: asyncio.Runner,
                                                               realtime_server: RealtimeTestServer,
                                                               tmp_path: Path) -> None:
    realtime_server.script_response(transcript="Noted: your favourite fruit is the mango.")

    async def scenario(controller: Controller, recorder: HistoryRecorder) -> None:
        started, continued = [], []
        recorder.conversation_started.connect(lambda: started.append(True))
        recorder.conversation_continued.connect(continued.append)
        await typed_turn(controller, realtime_server, "Remember that my favourite fruit is the mango.", turn=1)
        first = recorder.current
        connections = realtime_server.connection_count
        await recorder.new_conversation()
        assert started and recorder.current is None
        await until(lambda: controller.turn_state == "idle", what="fresh session")
        handshakes = len(realtime_server.handshakes)
        assert handshakes >= 2, "a new socket was opened for the new conversation"
        await until(lambda: realtime_server.connection_count == connections, what="the old socket closed")
        await typed_turn(controller, realtime_server, "A different topic altogether.", turn=2)
        second = recorder.current
        assert second not in (None, first)
        listed = [c.id for c in await recorder.store.list()]
        assert listed == [second, first]

        creates_before = sum(1 for e in realtime_server.received if e["type"] == "conversation.item.create")
        record = await recorder.continue_conversation(first or "")
        assert record is not None and continued == [record] and recorder.current == first
        await until(lambda: controller.turn_state == "idle", what="continued session")
        await until(lambda: len([e for e in realtime_server.received
                                 if e["type"] == "conversation.item.create"]) >= creates_before + 2,
                    what="history replayed")
        creates = [e for e in realtime_server.received if e["type"] == "conversation.item.create"][creates_before:]
        texts = [(e["item"]["role"], e["item"]["content"][0]["text"]) for e in creates]
        assert texts[:2] == [("user", "Remember that my favourite fruit is the mango."),
                             ("assistant", "Noted: your favourite fruit is the mango.")]
        await typed_turn(controller, realtime_server, "What is my favourite fruit?", turn=3)
        await recorder.store.flush()
        again = await recorder.store.open(first or "")
        assert again is not None
        assert [i.text for i in again.items if i.role == "user"] == [
            "Remember that my favourite fruit is the mango.", "What is my favourite fruit?"]
        assert len(again.items) == 4, "replayed items were not recorded a second time"
        assert again.summary.cost > record.summary.cost, "the new session's cost adds to the earlier one"

    run_app(qloop, realtime_server.url, tmp_path, scenario)
    assert realtime_server.violations == []


def test_keep_history_off_writes_nothing(qloop: asyncio.Runner, realtime_server: RealtimeTestServer,
                                         tmp_path: Path) -> None:
    async def scenario(controller: Controller, recorder: HistoryRecorder) -> None:
        await typed_turn(controller, realtime_server, "This must not be kept anywhere.", turn=1)
        await recorder.store.flush()
        assert await recorder.store.list() == []

    run_app(qloop, realtime_server.url, tmp_path, scenario, keep_history=False)
    db = sqlite3.connect(tmp_path / "history.sqlite3")
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    db.close()


def test_streaming_deltas_are_not_each_written_and_cut_answers_keep_heard_and_unheard(
        qloop: asyncio.Runner, tmp_path: Path) -> None:
    """Drives the recorder through the controller's own signals, as a session streaming an answer would."""
    async def scenario() -> None:
        controller = make_controller(None, settings_in(tmp_path), audio=False)
        store = HistoryStore(tmp_path / "h.sqlite3")
        recorder = HistoryRecorder(controller, store)
        controller.transcript_updated.emit("u1", "user", "", False)
        controller.transcript_updated.emit("a1", "assistant", "", False)
        words = "One two three four five six seven eight".split()
        for n in range(1, len(words) + 1):
            controller.transcript_updated.emit("a1", "assistant", " ".join(words[:n]), False)
        controller.transcript_updated.emit("u1", "user", "Count to eight", True)
        controller.transcript_truncated.emit("a1", "One two three", " four five six seven eight")
        controller.tool_call.emit("call_1", "get_time", '{"zone":"UTC"}', None)
        controller.tool_call.emit("call_1", "get_time", '{"zone":"UTC"}', '{"time":"10:00"}')
        recorder.record_approval("call_2", "delete_file", "denied")
        await store.flush()
        assert store.stats.writes == 8, "conversation + 2 added + user done + truncation + call twice + approval"
        record = await store.open(recorder.current or "")
        await store.aclose()
        assert record is not None
        by_id = {i.item_id: i for i in record.items}
        assert (by_id["approval:call_2"].kind, by_id["approval:call_2"].text) == ("approval", "delete_file: denied")
        assert by_id["u1"].text == "Count to eight"
        cut = by_id["a1"]
        assert (cut.heard, cut.unheard, cut.done) == ("One two three", " four five six seven eight", True)
        assert by_id["call_1"] == StoredItem("call_1", "assistant", "function_call", "get_time", None, "",
                                             '{"zone":"UTC"}', '{"time":"10:00"}', by_id["call_1"].created, True)

    qloop.run(scenario())


def test_a_damaged_history_file_is_reported_and_left_alone(qloop: asyncio.Runner, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"not a database at all " * 200)

    async def scenario() -> None:
        controller = make_controller(None, settings_in(tmp_path), audio=False)
        recorder = HistoryRecorder(controller, HistoryStore(path))
        errors: list[tuple[str, str]] = []
        controller.error.connect(lambda message, advice: errors.append((message, advice)))
        assert await recorder.check() is False
        controller.transcript_updated.emit("u1", "user", "said while the file is broken", True)  # no exception
        await recorder.aclose()
        assert errors and "cannot be opened" in errors[0][0] and str(path) in errors[0][1]

    qloop.run(scenario())
    assert path.read_bytes().startswith(b"not a database at all"), "the damaged file is not overwritten"

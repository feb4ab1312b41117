"""The tools service between the session and the tools, end to end: the controller (no audio) connected to the
loopback Realtime server, which issues the function calls and checks every client event against the official
models. Approvals are answered here through the service's API; tests/ui/test_approval_card.py answers them
through the window. The tools here are local functions (the service treats every source alike);
tests/app/test_tools_service_mcp.py runs the same paths with real MCP servers configured in mcp.json."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.app.controller import Controller
from desktop.app.tools_service import ToolsService
from desktop.tools.approvals import Answer, ApprovalRequest
from desktop.tools.registry import Tool
from tests.support.app_harness import TEST_KEY, make_controller, next_emission, settings_in, until
from tests.support.realtime_server import RealtimeTestServer

NOTE_SCHEMA = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 40}},
               "required": ["text"], "additionalProperties": False}


class Notes:
    """Tools of a pretend "notes" source: reading is read-only, writing asks, waiting is slow."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.wait_started = asyncio.Event()
        self.wait_cancelled = False

    def read(self) -> dict[str, Any]:
        return {"notes": self.written}

    def write(self, text: str) -> str:
        self.written.append(text)
        return "saved"

    async def wait(self) -> str:
        self.wait_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.wait_cancelled = True
            raise
        return "waited"

    def tools(self) -> list[Tool]:
        empty = {"type": "object", "properties": {}}
        return [Tool("notes_read", "Read the notes", empty, self.read, source="notes", title="read", read_only=True),
                Tool("notes_write", "Add a note", NOTE_SCHEMA, self.write, source="notes", title="write"),
                Tool("notes_wait", "Wait a while", empty, self.wait, source="notes", title="wait", read_only=True,
                     timeout_s=60)]


Scenario = Callable[[Controller, Notes], Awaitable[None]]


@pytest.fixture
def with_controller(qloop: asyncio.Runner, realtime_server: RealtimeTestServer, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], None]]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    def run(scenario: Scenario) -> None:
        async def whole() -> None:
            controller = make_controller(realtime_server.url, settings_in(tmp_path), audio=False)
            notes = Notes()
            controller.tools.registry.replace_source("notes", notes.tools())
            await controller.start()
            await controller.wait_ready()
            await until(lambda: controller.turn_state == "idle", what="session ready")
            try:
                await scenario(controller, notes)
            finally:
                await controller.aclose()

        qloop.run(whole())

    yield run
    assert realtime_server.violations == []


def outputs(server: RealtimeTestServer) -> list[dict[str, Any]]:
    return [e["item"] for e in server.received
            if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]


def offered(server: RealtimeTestServer) -> list[str]:
    updates = [e for e in server.received if e["type"] == "session.update"]
    return [tool["name"] for tool in updates[-1]["session"].get("tools", [])] if updates else []


def test_two_calls_in_one_response_answered_then_one_response_create(
        with_controller: Callable[[Scenario], None], realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        realtime_server.script_response(function_calls=[("notes_write", '{"text": "buy milk"}'),
                                                        ("notes_read", "{}")])
        asked = next_emission(controller.tools.approval_requested)
        controller.send_text("Note that I need milk, then read my notes")
        [request] = await asked
        assert isinstance(request, ApprovalRequest) and request.title == "write" and request.source == "notes"
        assert request.arguments == {"text": "buy milk"}
        # the read-only call was answered at once; the follow-up waits for the call the user is asked about
        await until(lambda: len(outputs(realtime_server)) == 1, what="read-only call answered")
        assert realtime_server.received_types().count("response.create") == 1
        assert controller.tools.answer(request.call_id, Answer.ALLOW)
        await realtime_server.async_wait_sent("response.done", count=2)
        types = realtime_server.received_types()
        assert types.count("response.create") == 2
        assert types.index("response.create", types.index("response.create") + 1) > max(
            i for i, e in enumerate(realtime_server.received) if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output")
        assert notes.written == ["buy milk"]
        assert [o["output"] for o in outputs(realtime_server)][1] == "saved"

    with_controller(scenario)


def test_schema_invalid_arguments_are_answered_with_the_problem(
        with_controller: Callable[[Scenario], None], realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        realtime_server.script_response(function_calls=[("notes_write", '{"text": "' + "x" * 50 + '"}')])
        asked: list[ApprovalRequest] = []
        controller.tools.approval_requested.connect(asked.append)
        controller.send_text("Write a very long note")
        await until(lambda: len(outputs(realtime_server)) == 1, what="call answered")
        error = json.loads(outputs(realtime_server)[0]["output"])["error"]
        assert "at 'text'" in error and "is too long" in error
        assert asked == [] and notes.written == []  # nobody is asked about a call that cannot run

    with_controller(scenario)


def test_unknown_tool_and_denied_call(with_controller: Callable[[Scenario], None],
                                      realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        controller.tools.approval_requested.connect(lambda r: controller.tools.answer(r.call_id, Answer.DENY))
        realtime_server.script_response(function_calls=[("notes_delete", "{}"), ("notes_write", '{"text": "x"}')])
        controller.send_text("Delete my notes and write x")
        await until(lambda: len(outputs(realtime_server)) == 2, what="both answered")
        unknown, denied = (json.loads(o["output"]) for o in outputs(realtime_server))
        assert "unknown tool 'notes_delete'" in unknown["error"]
        builtins = {"get_current_time", "calculate", "set_timer", "list_timers", "cancel_timer", "read_clipboard",
                    "open_url"}
        assert set(unknown["available"]) == builtins | {"notes_read", "notes_write", "notes_wait"}
        assert "denied" in denied["error"] and notes.written == []

    with_controller(scenario)


def test_a_switched_off_tool_leaves_the_session_live_and_is_refused(
        with_controller: Callable[[Scenario], None], realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        # "idle" can come before the server thread has recorded the first session.update: wait for it
        await until(lambda: {"notes_read", "notes_write", "calculate"} <= set(offered(realtime_server)),
                    what="the tools offered")
        updates = realtime_server.received_types().count("session.update")
        controller.tools.set_enabled("notes/write", False)
        await until(lambda: realtime_server.received_types().count("session.update") == updates + 1,
                    what="live session.update")
        assert "notes_write" not in offered(realtime_server) and "notes_read" in offered(realtime_server)
        controller.tools.set_policy("notes/read", "deny")  # never allowed: not offered either
        await until(lambda: "notes_read" not in offered(realtime_server), what="second update")
        realtime_server.script_response(function_calls=[("notes_write", '{"text": "x"}')])  # a stale model
        controller.send_text("Write x")
        await until(lambda: len(outputs(realtime_server)) == 1, what="call answered")
        assert "switched off" in json.loads(outputs(realtime_server)[0]["output"])["error"]
        assert notes.written == []
        await until(lambda: (Path(controller.settings.file_name()).parent / "tools.json").exists(), what="saved")

    with_controller(scenario)


def test_interrupting_cancels_running_calls_and_answers_them(
        with_controller: Callable[[Scenario], None], realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        realtime_server.script_response(function_calls=[("notes_wait", "{}"), ("notes_write", '{"text": "y"}')])
        asked = next_emission(controller.tools.approval_requested)
        finished = next_emission(controller.tools.approval_finished)
        controller.send_text("Wait, then write y")
        await asked
        await asyncio.wait_for(notes.wait_started.wait(), 10)
        await realtime_server.async_wait_sent("response.done")
        controller.stop_reply()
        assert (await finished)[1] == "cancelled"
        await until(lambda: len(outputs(realtime_server)) == 2, what="both answered")
        for output in outputs(realtime_server):
            assert "cancelled: the user interrupted" in json.loads(output["output"])["error"]
        assert notes.wait_cancelled and notes.written == []
        assert realtime_server.received_types().count("response.create") == 1  # no follow-up after Stop
        assert controller.tools._running == {}

    with_controller(scenario)


def test_approval_timeout_is_a_deny_told_to_the_model(
        with_controller: Callable[[Scenario], None], realtime_server: RealtimeTestServer) -> None:
    async def scenario(controller: Controller, notes: Notes) -> None:
        controller.tools.gate.timeout_s = 0.3
        finished = next_emission(controller.tools.approval_finished)
        realtime_server.script_response(function_calls=[("notes_write", '{"text": "z"}')])
        controller.send_text("Write z")
        assert (await finished)[1] == "timed out"
        await until(lambda: len(outputs(realtime_server)) == 1, what="answered")
        assert "did not answer within 0.3 s" in json.loads(outputs(realtime_server)[0]["output"])["error"]
        await realtime_server.async_wait_sent("response.done", count=2)  # the model is asked to go on
        assert notes.written == []

    with_controller(scenario)


def test_always_allow_persists_for_a_new_service(qloop: asyncio.Runner, tmp_path: Path) -> None:
    notes = Notes()

    async def first() -> None:
        service = ToolsService(tmp_path)
        service.registry.replace_source("notes", notes.tools())
        await service.start()
        service.approval_requested.connect(lambda r: service.answer(r.call_id, Answer.ALWAYS))
        call = _Call("c1", "notes_write", '{"text": "one"}')
        assert await service.run(call) == "saved"
        await service.aclose()

    async def second() -> None:
        service = ToolsService(tmp_path)
        service.registry.replace_source("notes", notes.tools())
        await service.start()
        asked: list[object] = []
        service.approval_requested.connect(asked.append)
        assert await service.run(_Call("c2", "notes_write", '{"text": "two"}')) == "saved"
        assert asked == []
        [source] = [s for s in service.catalogue() if s.name == "notes"]
        assert {t.title: t.policy for t in source.tools} == {"read": "allow", "write": "allow", "wait": "allow"}
        await service.aclose()

    qloop.run(first())
    assert json.loads((tmp_path / "tools.json").read_text())["tools"]["notes/write"]["policy"] == "allow"
    qloop.run(second())
    assert notes.written == ["one", "two"]


class _Call:
    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id, self.name, self.arguments = call_id, name, arguments

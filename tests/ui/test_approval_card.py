"""Approval cards in the real window (offscreen), answered with the keyboard, for calls the loopback Realtime
server issues: Enter allows, Esc denies, Alt+W always allows (kept for the next start), no answer times out.
Every client event is checked against the official models by the server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel

from desktop.app.controller import Controller
from desktop.app.tools_service import ToolsService
from desktop.tools.approvals import ApprovalRequest
from desktop.tools.registry import Tool
from desktop.ui.approval_card import ApprovalCard, shown_arguments
from desktop.ui.main_window import MainWindow
from tests.support.app_harness import TEST_KEY, make_controller, settings_in, until
from tests.support.realtime_server import RealtimeTestServer

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}, "tags": {"type": "array"}},
          "required": ["text"]}


@dataclass
class App:
    controller: Controller
    window: MainWindow
    server: RealtimeTestServer
    written: list[str]

    def card(self) -> ApprovalCard:
        card = self.window.approvals.card
        assert card is not None and card.isVisible()
        return card

    def outputs(self) -> list[str]:
        return [e["item"]["output"] for e in self.server.received
                if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]

    async def ask(self, *arguments: str) -> ApprovalCard:
        """The model calls notes_write with each of `arguments`; returns the card once it takes keys."""
        self.server.script_response(function_calls=[("notes_write", a) for a in arguments])
        self.controller.send_text("Please take a note")
        await until(lambda: self.window.approvals.card is not None, what="approval card")
        card = self.card()
        await until(card.accepts_keys, what="card takes keys")
        return card


Scenario = Callable[[App], Awaitable[None]]


@pytest.fixture
def with_window(qloop: asyncio.Runner, realtime_server: RealtimeTestServer, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Scenario], None]]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    def run(scenario: Scenario) -> None:
        async def whole() -> None:
            controller = make_controller(realtime_server.url, settings_in(tmp_path), audio=False)
            written: list[str] = []

            def write(text: str, tags: list[str] | None = None) -> str:
                written.append(text)
                return "saved"

            controller.tools.registry.replace_source("notes", [
                Tool("notes_write", "Add a note", SCHEMA, write, source="notes", title="write")])
            window = MainWindow(controller)
            window.show()
            window.activateWindow()
            await controller.start()
            await controller.wait_ready()
            await until(lambda: controller.turn_state == "idle", what="session ready")
            await until(window.isActiveWindow, what="window active")
            window.mode_box.setFocus()  # (Talk is disabled without audio)
            try:
                await scenario(App(controller, window, realtime_server, written))
            finally:
                await controller.aclose()
                window.close()
                window.deleteLater()

        qloop.run(whole())

    yield run
    assert realtime_server.violations == []


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    focus = QApplication.focusWidget()
    assert focus is not None
    QTest.keyClick(focus, key, modifier)


def test_the_card_takes_the_focus_shows_the_call_and_enter_allows(with_window: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        assert QApplication.focusWidget() is app.window.mode_box
        card = await app.ask('{"text": "call the dentist", "tags": ["health", "today"]}')
        assert QApplication.focusWidget() is card.allow
        assert "“write”" in card.findChild(QLabel, "approval_title").text()
        assert json.loads(card.arguments.text()) == {"text": "call the dentist", "tags": ["health", "today"]}
        assert "MCP server “notes”" in card.findChild(QLabel, "approval_source").text()
        assert "waiting for your approval" in app.window.transcript.plain_text()
        assert card.hint.text().startswith("Enter allows · Esc denies · ") and card.hint.text().endswith(" s left")
        assert 50 <= int(card.hint.text().split("· ")[-1].split()[0]) <= 60  # the 60 s the gate waits
        press(Qt.Key.Key_Return)
        await until(lambda: app.outputs() == ["saved"], what="allowed call answered")
        assert app.written == ["call the dentist"]
        assert app.window.approvals.card is None and not app.window.approvals.isVisible()
        assert QApplication.focusWidget() is app.window.mode_box  # focus back where it was
        await until(lambda: "→ saved" in app.window.transcript.plain_text(), what="result in the transcript")

    with_window(scenario)


def test_escape_denies(with_window: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        await app.ask('{"text": "x"}')
        press(Qt.Key.Key_Escape)
        await until(lambda: len(app.outputs()) == 1, what="denied call answered")
        assert "denied" in json.loads(app.outputs()[0])["error"] and app.written == []

    with_window(scenario)


def test_always_allow_by_mnemonic_persists_across_a_new_service(with_window: Callable[[Scenario], None],
                                                              tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        await app.ask('{"text": "first"}')
        press(Qt.Key.Key_W, Qt.KeyboardModifier.AltModifier)
        await until(lambda: app.outputs() == ["saved"], what="first call answered")
        await until(lambda: (tmp_path / "tools.json").exists(), what="choice saved")
        # The answer the call's result asks for comes first: scripted any sooner, the second call would go to it.
        await until(lambda: [e["type"] for e in app.server.sent].count("response.done") == 2, what="follow-up")
        fresh = ToolsService(tmp_path, registry=app.controller.tools.registry)
        await fresh.start()
        [source] = [s for s in fresh.catalogue() if s.name == "notes"]
        assert source.tools[0].policy == "allow"
        await fresh.aclose()
        app.server.script_response(function_calls=[("notes_write", '{"text": "second"}')])
        app.controller.send_text("Another note")
        await until(lambda: len(app.outputs()) == 2, what="second call answered without a card")
        assert app.window.approvals.card is None and app.written == ["first", "second"]

    with_window(scenario)


def test_no_answer_times_out_as_a_deny(with_window: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        app.controller.tools.gate.timeout_s = 0.5
        await app.ask('{"text": "x"}')
        await until(lambda: len(app.outputs()) == 1, what="timed-out call answered")
        assert "did not answer within 0.5 s" in json.loads(app.outputs()[0])["error"]
        assert app.window.approvals.card is None and app.written == []

    with_window(scenario)


def test_two_questions_queue_and_stop_clears_them(with_window: Callable[[Scenario], None]) -> None:
    async def scenario(app: App) -> None:
        first = await app.ask('{"text": "one"}', '{"text": "two"}')
        await until(lambda: len(app.window.approvals.pending()) == 2, what="second question queued")
        assert first.queue.text() == "1 more waiting"
        first.allow.click()
        await until(lambda: app.window.approvals.card is not first and app.window.approvals.card is not None,
                    what="second card")
        assert json.loads(app.card().arguments.text()) == {"text": "two"}
        assert app.card().queue.text() == ""
        app.controller.stop_reply()  # the user moves on: the open question is withdrawn and answered
        await until(lambda: len(app.outputs()) == 2, what="both answered")
        assert app.outputs()[0] == "saved" and "cancelled" in json.loads(app.outputs()[1])["error"]
        assert app.window.approvals.card is None and app.window.approvals.pending() == []

    with_window(scenario)


def test_long_arguments_are_cut_for_the_card_only() -> None:
    request = ApprovalRequest("c", "t", "t", "builtin", "", {f"k{i:02}": "v" * 10 for i in range(40)})
    text = shown_arguments(request)
    assert text.count("\n") <= 15 and "more lines" in text
    assert len(request.pretty_arguments().splitlines()) == 42



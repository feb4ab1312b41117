"""The MCP join, end to end: the controller and its window (offscreen, no audio), the loopback Realtime server
issuing function calls (checking every client event against the official models), and real MCP servers written
with the SDK (tests/support/mcp_servers.py) configured through an mcp.json in the test's config folder (or given
with --mcp-config). The marker file is the MCP server's own account of what it saw."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.app.controller import Controller
from desktop.app.options import Options
from desktop.app.secrets import KeyStore
from desktop.app.tools_service import ToolsService
from desktop.tools.approvals import Answer
from desktop.ui.approval_card import ApprovalCard
from desktop.ui.main_window import MainWindow
from desktop.ui.tools_page import ToolsPage
from tests.support.app_harness import TEST_KEY, settings_in, until
from tests.support.mcp_servers import spawn_http, stdio_entry
from tests.support.realtime_server import RealtimeTestServer
from tests.support.secret_service import SecretServiceEnv

WITHIN = 60.0  # generous: eight engineers share two cores


@dataclass
class App:
    controller: Controller
    window: MainWindow
    server: RealtimeTestServer
    marker: Path

    @property
    def tools(self) -> ToolsService:
        return self.controller.tools

    def outputs(self) -> list[str]:
        return [e["item"]["output"] for e in self.server.received
                if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]

    def updates(self) -> list[list[str]]:
        """The tool names of every session.update, in order."""
        return [[t["name"] for t in e["session"].get("tools", [])] for e in self.server.received
                if e["type"] == "session.update" and "tools" in e["session"]]

    def offered(self) -> list[str]:
        return self.updates()[-1] if self.updates() else []

    def marker_lines(self) -> list[str]:
        return self.marker.read_text().splitlines() if self.marker.exists() else []

    async def card(self) -> ApprovalCard:
        await until(lambda: self.window.approvals.card is not None, within=WITHIN, what="approval card")
        card = self.window.approvals.card
        assert card is not None and card.isVisible()
        await until(card.accepts_keys, within=WITHIN, what="card takes keys")
        return card

    def allow_everything(self) -> None:
        self.tools.approval_requested.connect(lambda r: self.tools.answer(r.call_id, Answer.ALLOW))


Scenario = Callable[[App], Awaitable[None]]


@pytest.fixture
def with_app(qloop: asyncio.Runner, realtime_server: RealtimeTestServer, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """run(scenario, servers=None, text=None, mcp_config=None): mcp.json holds `servers` (or `text` verbatim),
    in the config folder or, with mcp_config, at that path given as --mcp-config."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    config = tmp_path / "config"
    config.mkdir()

    def run(scenario: Scenario, servers: dict[str, Any] | None = None, text: str | None = None,
            mcp_config: Path | None = None, wait_for: str = "echo") -> None:
        marker = tmp_path / "marker"
        target = mcp_config if mcp_config is not None else config / "mcp.json"
        target.write_text(text if text is not None else json.dumps({"mcpServers": servers or {}}, indent=2))

        async def whole() -> None:
            options = Options(url=realtime_server.url, mcp_config=str(mcp_config) if mcp_config else None)
            controller = Controller(options, settings_in(config), KeyStore(), audio=False)
            window = MainWindow(controller)
            window.show()
            await controller.start()
            app = App(controller, window, realtime_server, marker)
            try:
                await controller.wait_ready()
                await until(lambda: controller.turn_state == "idle", within=WITHIN, what="session ready")
                await until(lambda: wait_for in app.offered(), within=WITHIN, what=f"{wait_for} offered")
                await scenario(app)
            finally:
                await controller.aclose()
                window.close()
                window.deleteLater()

        qloop.run(whole())

    yield run
    assert realtime_server.violations == []


def test_an_mcp_tool_is_offered_called_and_answered_then_one_response_create(
        with_app: Callable[..., None], realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        offered = {t["name"]: t for t in [e for e in realtime_server.received if e["type"] == "session.update"
                                          and "tools" in e["session"]][-1]["session"]["tools"]}
        assert {"echo", "add", "files_read_all", "get_current_time"} <= set(offered)
        assert offered["echo"]["description"] == "Repeats the text back."
        assert offered["add"]["parameters"]["required"] == ["a", "b"]  # the server's JSON schema, passed through
        creates = realtime_server.received_types().count("response.create")
        realtime_server.script_response(function_calls=[("echo", '{"text": "hello from MCP"}'),
                                                        ("add", '{"a": 2, "b": 3.5}')])
        app.tools.approval_requested.connect(lambda r: pytest.fail("a read-only tool must not ask"))
        app.controller.send_text("Echo hello and add two numbers")
        await until(lambda: len(app.outputs()) == 2, within=WITHIN, what="both calls answered")
        echo, added = app.outputs()
        assert echo == "hello from MCP"
        assert json.loads(added) == {"sum": 5.5}  # the structured result
        await realtime_server.async_wait_sent("response.done", timeout=WITHIN, count=2)
        types = realtime_server.received_types()
        assert types.count("response.create") == creates + 2  # the user's turn, then ONE after both outputs
        last_output = max(i for i, e in enumerate(realtime_server.received) if e["type"] == "conversation.item.create"
                          and e["item"]["type"] == "function_call_output")
        assert types.index("response.create", last_output) > last_output

    with_app(scenario, {"t": stdio_entry(tmp_path / "marker")})


@pytest.mark.parametrize("button", ["allow", "deny", "always", "no answer"])
def test_a_tool_that_is_not_read_only_asks_first(with_app: Callable[..., None], realtime_server: RealtimeTestServer,
                                                 tmp_path: Path, button: str, qtbot: QtBot) -> None:
    async def scenario(app: App) -> None:
        app.tools.gate.timeout_s = 1.0 if button == "no answer" else 60.0
        realtime_server.script_response(function_calls=[("slow", '{"seconds": 0}')])
        app.controller.send_text("Take no time at all")
        card = await app.card()
        assert app.outputs() == [] and not any(line.startswith("started") for line in app.marker_lines())
        assert "MCP server “t”" in card.findChild(QLabel, "approval_source").text()
        if button != "no answer":
            qtbot.mouseClick(getattr(card, button), Qt.MouseButton.LeftButton)
        await until(lambda: len(app.outputs()) == 1, within=WITHIN, what="call answered")
        if button in ("allow", "always"):
            assert app.outputs() == ["slept 0"] and "finished 0" in app.marker_lines()
        else:
            assert ("denied" if button == "deny" else "did not answer within 1 s") in json.loads(
                app.outputs()[0])["error"]
            assert not any(line.startswith("started") for line in app.marker_lines())  # never reached the server
        [source] = [s for s in app.tools.catalogue() if s.name == "t"]
        [slow] = [t for t in source.tools if t.title == "slow"]
        assert slow.policy == ("allow" if button == "always" else "ask")  # kept per tool (tools.json)

    with_app(scenario, {"t": stdio_entry(tmp_path / "marker")})


def test_list_changed_updates_the_session_live(with_app: Callable[..., None], realtime_server: RealtimeTestServer,
                                               tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        app.allow_everything()
        assert "extra_tool" not in app.offered()
        realtime_server.script_response(function_calls=[("grow", "{}")])
        app.controller.send_text("Grow a tool")
        await until(lambda: "extra_tool" in app.offered(), within=WITHIN, what="session.update with the new tool")
        await until(lambda: app.outputs() == ["grown"], within=WITHIN, what="the call answered")  # it may come after
        # The answer the call's result asks for comes first: scripted any sooner, the next call would go to it.
        await until(lambda: [e["type"] for e in realtime_server.sent].count("response.done") == 2, within=WITHIN,
                    what="the follow-up answered")
        realtime_server.script_response(function_calls=[("extra_tool", "{}")])
        app.controller.send_text("Use it")
        await until(lambda: len(app.outputs()) == 2, within=WITHIN, what="the new tool answered")
        assert app.outputs()[1] == "extra"

    with_app(scenario, {"t": stdio_entry(tmp_path / "marker")})


def test_a_server_crashing_mid_call_fails_the_call_its_tools_leave_and_return(
        with_app: Callable[..., None], realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        app.allow_everything()
        before = len(app.updates())
        realtime_server.script_response(function_calls=[("crash", "{}")])
        app.controller.send_text("Crash, please")
        await until(lambda: len(app.outputs()) == 1, within=WITHIN, what="the call answered")
        error = json.loads(app.outputs()[0])["error"]  # the model is told the call failed, and why
        assert error.startswith("crash failed") and "stopped during the call" in error
        await until(lambda: any("echo" not in names for names in app.updates()[before:]), within=WITHIN,
                    what="the tools leaving the session")
        await until(lambda: "echo" in app.offered(), within=WITHIN, what="the tools back after the restart")
        assert sum(line.startswith("pid ") for line in app.marker_lines()) == 2  # restarted once
        realtime_server.script_response(function_calls=[("echo", '{"text": "back"}')])
        app.controller.send_text("Are you back?")
        await until(lambda: app.outputs()[1:] == ["back"], within=WITHIN, what="a call to the restarted server")

    with_app(scenario, {"t": stdio_entry(tmp_path / "marker")})


def test_stop_during_a_slow_call_cancels_it_at_the_server_and_answers_it(
        with_app: Callable[..., None], realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        app.allow_everything()
        realtime_server.script_response(function_calls=[("slow", '{"seconds": 120}')])
        app.controller.send_text("Take your time")
        await until(lambda: "started 120" in app.marker_lines(), within=WITHIN, what="the server started the call")
        await realtime_server.async_wait_sent("response.done", timeout=WITHIN)
        app.controller.stop_reply()
        await until(lambda: len(app.outputs()) == 1, within=WITHIN, what="the call answered")
        assert "cancelled: the user interrupted" in json.loads(app.outputs()[0])["error"]
        await until(lambda: "cancelled 120" in app.marker_lines(), within=WITHIN, what="MCP cancellation at the server")
        assert "finished 120" not in app.marker_lines()
        assert realtime_server.received_types().count("response.create") == 1  # no follow-up after Stop

    with_app(scenario, {"t": stdio_entry(tmp_path / "marker")})


def test_a_keyring_header_reaches_the_http_server(with_app: Callable[..., None], realtime_server: RealtimeTestServer,
                                                  secret_service: SecretServiceEnv, tmp_path: Path) -> None:
    import keyring

    proc, url = spawn_http(tmp_path / "marker")
    keyring.set_password("parley", "mcp-web-token", "test-key-not-a-secret")
    try:
        async def scenario(app: App) -> None:
            realtime_server.script_response(function_calls=[("header", '{"name": "Authorization"}')])
            app.controller.send_text("Which token did you get?")
            await until(lambda: len(app.outputs()) == 1, within=WITHIN, what="the call answered")
            assert app.outputs() == ["Bearer test-key-not-a-secret"]
            mcp_json = (Path(app.controller.settings.file_name()).parent / "mcp.json").read_text()
            assert "test-key-not-a-secret" not in mcp_json  # the file holds only the reference

        headers = {"Authorization": "Bearer ${keyring:mcp-web-token}"}
        with_app(scenario, {"web": {"url": url, "headers": headers}}, wait_for="header")
    finally:
        keyring.delete_password("parley", "mcp-web-token")
        proc.kill()
        proc.wait(timeout=30)


def test_a_broken_mcp_json_from_the_command_line_still_offers_the_valid_server(
        with_app: Callable[..., None], tmp_path: Path) -> None:
    good = json.dumps(stdio_entry(tmp_path / "marker"))
    text = f'{{\n  "mcpServers": {{\n    "good": {good},\n    "bad": {{"command": 42}}\n  }}\n}}\n'

    async def scenario(app: App) -> None:
        assert app.tools.mcp_config == tmp_path / "servers.json"
        assert not (Path(app.controller.settings.file_name()).parent / "mcp.json").read_text().count("good")
        dialog = app.window.open_settings()  # the window's child: it goes with the window
        page = dialog.page(ToolsPage)
        assert isinstance(page, ToolsPage)
        await until(lambda: "line 4" in page.problems.text(), within=WITHIN, what="the error on the Tools page")
        assert "'bad'" in page.problems.text() and not page.problems.isHidden()
        assert {"good/echo", "good/add"} <= set(page.switches)
        dialog.reject()

    # the config folder's own mcp.json (empty here) is replaced by --mcp-config
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "mcp.json").write_text('{"mcpServers": {}}')
    (tmp_path / "servers.json").write_text(text)
    with_app(scenario, text=text, mcp_config=tmp_path / "servers.json")


def test_servers_start_only_once_the_app_starts_after_the_window(qloop: asyncio.Runner, tmp_path: Path,
                                                                realtime_server: RealtimeTestServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """bootstrap shows the window, then calls controller.start(): building the controller and the window must not
    start a server (nor read mcp.json), so nothing MCP sits between launch and the window."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    marker = tmp_path / "marker"
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"t": stdio_entry(marker)}}))

    async def scenario() -> None:
        controller = Controller(Options(url=realtime_server.url), settings_in(tmp_path), KeyStore(), audio=False)
        window = MainWindow(controller)
        window.show()
        assert controller.tools.host is None and not marker.exists()
        await controller.start()
        try:
            await until(lambda: "echo" in controller.tools.registry.names(), within=WITHIN, what="the server up")
            assert marker.read_text().startswith("pid ")
        finally:
            await controller.aclose()
            window.close()
            window.deleteLater()

    qloop.run(scenario())


def test_the_mcp_sdk_is_not_imported_on_the_way_to_the_window() -> None:
    import subprocess
    import sys

    code = ("import sys; import desktop.app.bootstrap, desktop.app.controller, desktop.ui.main_window; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'jsonschema')))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                         timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_reload_pressed_while_the_servers_start_makes_no_second_host(qloop: asyncio.Runner, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"t": stdio_entry(marker)}}))

    async def scenario() -> None:
        service = ToolsService(tmp_path)
        hosts: list[object] = []
        service.catalogue_changed.connect(lambda: hosts.append(service.host) if service.host not in hosts else None)
        await service.start()
        service.reload()  # before the host exists: mcp.json is still being read, the SDK imported
        service.reload()
        try:
            await until(lambda: "echo" in service.registry.names(), within=WITHIN, what="the server up")
            await until(lambda: not service._tasks, within=WITHIN, what="start and reloads done")
            assert [h for h in hosts if h is not None] == [service.host]  # one host, kept
            assert sum(line.startswith("pid ") for line in marker.read_text().splitlines()) == 1  # one process
        finally:
            await service.aclose()

    qloop.run(scenario())


def test_invalid_arguments_a_raising_tool_an_unknown_tool_and_a_timeout_are_all_answered(
        with_app: Callable[..., None], realtime_server: RealtimeTestServer, tmp_path: Path) -> None:
    async def scenario(app: App) -> None:
        app.allow_everything()
        realtime_server.script_response(function_calls=[
            ("add", '{"a": "two", "b": 1}'), ("fail", '{"message": "the disk is on fire"}'), ("nope", "{}"),
            ("slow", '{"seconds": 60}')])
        app.controller.send_text("Four things at once")
        await until(lambda: len(app.outputs()) == 4, within=WITHIN, what="all four answered")
        errors = [json.loads(o)["error"] for o in app.outputs()]  # in the order they finished
        for expected in ("'two' is not of type 'number'", "the disk is on fire", "unknown tool 'nope'",
                         "slow took longer than 2 s"):
            assert sum(expected in error for error in errors) == 1, (expected, errors)
        await until(lambda: "cancelled 60" in app.marker_lines(), within=WITHIN, what="the late call cancelled")
        await realtime_server.async_wait_sent("response.done", timeout=WITHIN, count=2)
        assert realtime_server.received_types().count("response.create") == 2  # the turn, then one follow-up

    with_app(scenario, {"t": {**stdio_entry(tmp_path / "marker"), "timeout": 2}})

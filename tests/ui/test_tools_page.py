"""Settings → Tools over a real ToolsService and real MCP servers (tests/support/mcp_servers.py) configured in
mcp.json: sources with their state (ready, failed with its stderr tail), the file's problems with their line,
per-tool switches and policies applied on OK, redraws when a server changes, Reload."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore
from desktop.app.tools_service import ToolsService
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.tools_page import ToolsPage
from tests.support.app_harness import until
from tests.support.mcp_servers import demo_entry, failing_entry

WITHIN = 60.0


def stderr(lines: int) -> list[str]:
    return [f"line {i}" for i in range(lines)]


def mcp_json(calendar: dict[str, object]) -> str:
    """files and calendar servers, then a broken entry on line 5."""
    return ('{\n  "mcpServers": {\n'
            f'    "files": {json.dumps(demo_entry("files"))},\n'
            f'    "calendar": {json.dumps(calendar)},\n'
            '    "weather": {"env": {}}\n  }\n}\n')


def state(service: ToolsService, name: str) -> str:
    return next((s.state for s in service.catalogue() if s.name == name), "absent")


@pytest.fixture
def service(qloop: asyncio.Runner, tmp_path: Path) -> Iterator[ToolsService]:
    (tmp_path / "mcp.json").write_text(mcp_json(failing_entry(stderr(10))))
    tools = ToolsService(tmp_path)
    qloop.run(tools.start())
    qloop.run(until(lambda: state(tools, "files") == "ready" and state(tools, "calendar") == "failed", within=WITHIN,
                    what="files ready, calendar failed"))
    yield tools
    qloop.run(tools.aclose())


def open_page(qtbot: QtBot, tmp_path: Path, service: ToolsService) -> tuple[SettingsDialog, ToolsPage]:
    store = SettingsStore(QSettings(str(tmp_path / "parley.ini"), QSettings.Format.IniFormat))
    dialog = SettingsDialog(store, KeyStore(), lambda kind: [], lambda: None, lambda: (False, "none"), tools=service)
    qtbot.addWidget(dialog)
    page = dialog.page(ToolsPage)
    assert isinstance(page, ToolsPage)
    return dialog, page


def texts(page: ToolsPage, name: str) -> list[str]:
    return [label.text() for label in page.findChildren(QLabel, name)]


def test_sources_states_and_tools_are_listed(qtbot: QtBot, tmp_path: Path, service: ToolsService,
                                             secret_service: object) -> None:
    _, page = open_page(qtbot, tmp_path, service)
    titles = texts(page, "source_title")
    assert len(titles) == 3
    assert "Built-in" in titles[0] and "ready · 2 tools" in titles[0]
    assert "files" in titles[1] and "ready · 2 tools" in titles[1]
    assert "calendar" in titles[2] and "failed: " in titles[2]
    # the failed server's last six stderr lines; not the ready one's ("server files up" is chatter there)
    assert texts(page, "source_stderr") == ["\n".join(stderr(10)[-6:])]
    assert "line 5" in page.problems.text() and "'weather'" in page.problems.text()
    assert not page.problems.isHidden()
    assert set(page.switches) == {"builtin/get_current_time", "builtin/calculate", "files/read_file",
                                  "files/write_file"}
    assert all(switch.isChecked() for switch in page.switches.values())
    policies = {key: combo.currentData() for key, combo in page.policies.items()}
    assert policies["files/read_file"] == "allow" and policies["files/write_file"] == "ask"  # readOnlyHint


def test_switches_and_policies_apply_on_ok_and_survive_a_redraw(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path,
                                                                service: ToolsService, secret_service: object) -> None:
    dialog, page = open_page(qtbot, tmp_path, service)
    changed: list[int] = []
    service.tools_changed.connect(lambda: changed.append(1))
    page.switches["builtin/calculate"].setChecked(False)
    assert not page.policies["builtin/calculate"].isEnabled()
    page.policies["files/write_file"].setCurrentIndex(page.policies["files/write_file"].findData("allow"))
    assert [s["name"] for s in service.schemas()].count("calculate") == 1  # nothing applied before OK

    async def calendar_fixed() -> None:  # the user fixes mcp.json and presses Reload: calendar comes up
        (tmp_path / "mcp.json").write_text(mcp_json(demo_entry("calendar")))
        page.reload_button.click()
        await until(lambda: any("calendar" in t and "ready · 2 tools" in t for t in texts(page, "source_title")),
                    within=WITHIN, what="calendar up")

    qloop.run(calendar_fixed())
    assert {"calendar/create_event", "calendar/list_events"} <= set(page.switches)
    assert not page.switches["builtin/calculate"].isChecked()  # the edit survived the redraws

    async def ok_then_quit() -> None:  # as in the app: OK is pressed while the loop runs
        dialog.accept()
        assert "calculate" not in [s["name"] for s in service.schemas()] and changed
        [files] = [s for s in service.catalogue() if s.name == "files"]
        assert {t.title: t.policy for t in files.tools} == {"read_file": "allow", "write_file": "allow"}
        await service.aclose()  # waits for the save

    qloop.run(ok_then_quit())
    saved = json.loads((tmp_path / "tools.json").read_text())["tools"]
    assert saved == {"builtin/calculate": {"enabled": False},
                     "files/write_file": {"enabled": True, "policy": "allow"}}
    assert service.host is not None and service.host.statuses() == []  # the servers were stopped on close
    assert {t.source for t in service.registry.tools()} == {"builtin"}


def test_reload_asks_the_service(qtbot: QtBot, tmp_path: Path, service: ToolsService, secret_service: object,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reloads: list[int] = []
    monkeypatch.setattr(service, "reload", lambda: reloads.append(1))
    _, page = open_page(qtbot, tmp_path, service)
    page.reload_button.click()
    assert reloads == [1]


def test_a_closed_page_no_longer_listens(qtbot: QtBot, tmp_path: Path, service: ToolsService,
                                         secret_service: object) -> None:
    import shiboken6

    dialog, page = open_page(qtbot, tmp_path, service)
    shiboken6.delete(dialog)
    assert not shiboken6.isValid(page)
    service.catalogue_changed.emit()  # a slot still connected to the deleted page would raise (failing the test)

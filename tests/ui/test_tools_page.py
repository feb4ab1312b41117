"""Settings → Tools over a real ToolsService: sources with their state, per-tool switches and policies applied on
OK, redraws when a server changes, Reload. The MCP host is a stand-in (tests/support/mcp_stand_in.py): the real
host is built on another branch and joins later."""

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
from desktop.tools.registry import Tool
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.tools_page import ToolsPage
from tests.support.mcp_stand_in import StandInHost, Status


def files_tools() -> list[Tool]:
    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    return [Tool("files_read", "Read a file", schema, lambda path: "", source="files", title="read", read_only=True),
            Tool("files_write", "Write a file", schema, lambda path: "", source="files", title="write")]


def stderr(lines: int) -> str:
    return "\n".join(f"line {i}" for i in range(lines))


def stand_in_host() -> StandInHost:
    return StandInHost([Status("files", "ready", 2), Status("calendar", "failed", 0, "exited with code 1", stderr(10))],
                       config_errors=["mcp.json line 7: \"weather\": needs \"command\" or \"url\""])


@pytest.fixture
def service(qloop: asyncio.Runner, tmp_path: Path) -> Iterator[ToolsService]:
    tools = ToolsService(tmp_path)
    tools.registry.replace_source("files", files_tools())
    qloop.run(tools.start())
    tools.attach_host(stand_in_host())  # type: ignore[arg-type]
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
    assert "calendar" in titles[2] and "failed: exited with code 1" in titles[2]
    assert texts(page, "source_stderr") == [stderr(10).split("\n", 4)[-1]]  # the last six lines
    assert "line 7" in page.problems.text() and not page.problems.isHidden()
    assert set(page.switches) == {"builtin/get_current_time", "builtin/calculate", "files/read", "files/write"}
    assert all(switch.isChecked() for switch in page.switches.values())
    policies = {key: combo.currentData() for key, combo in page.policies.items()}
    assert policies["files/read"] == "allow" and policies["files/write"] == "ask"


def test_switches_and_policies_apply_on_ok_and_survive_a_redraw(qloop: asyncio.Runner, qtbot: QtBot, tmp_path: Path,
                                                                service: ToolsService, secret_service: object) -> None:
    dialog, page = open_page(qtbot, tmp_path, service)
    changed: list[int] = []
    service.tools_changed.connect(lambda: changed.append(1))
    page.switches["builtin/calculate"].setChecked(False)
    assert not page.policies["builtin/calculate"].isEnabled()
    page.policies["files/write"].setCurrentIndex(page.policies["files/write"].findData("allow"))
    assert [s["name"] for s in service.schemas()].count("calculate") == 1  # nothing applied before OK
    service.host.servers[1] = Status("calendar", "ready", 0)  # type: ignore[union-attr]
    service.host.changed()  # type: ignore[union-attr]
    assert "ready" in texts(page, "source_title")[2]
    assert not page.switches["builtin/calculate"].isChecked()  # the edit survived the redraw


    async def ok_then_quit() -> None:  # as in the app: OK is pressed while the loop runs
        dialog.accept()
        assert "calculate" not in [s["name"] for s in service.schemas()] and changed
        [files] = [s for s in service.catalogue() if s.name == "files"]
        assert {t.title: t.policy for t in files.tools} == {"read": "allow", "write": "allow"}
        await service.aclose()  # waits for the save

    qloop.run(ok_then_quit())
    saved = json.loads((tmp_path / "tools.json").read_text())["tools"]
    assert saved == {"builtin/calculate": {"enabled": False}, "files/write": {"enabled": True, "policy": "allow"}}
    assert service.host.closed  # type: ignore[union-attr]


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
    service.host.changed()  # type: ignore[union-attr]

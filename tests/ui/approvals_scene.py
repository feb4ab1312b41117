"""Saves PNGs of an approval card in the conversation and of Settings → Tools, in a real window.

Run by tests/ui/test_approval_screenshots.py in a child process on the xcb platform (Xvfb), with the test's
PulseAudio and loopback Realtime server, which issues the tool call. `python -m tests.ui.approvals_scene OUT URL`.
The calendar and files tools are small local functions standing in for MCP servers' tools (the MCP host joins
from another branch); the Tools page's server states come from tests/support/mcp_stand_in.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync

from desktop.app.bootstrap import make_application
from desktop.tools.registry import Tool
from desktop.ui.main_window import MainWindow
from desktop.ui.tools_page import ToolsPage
from tests.support.app_harness import make_controller, settings_in, until
from tests.support.mcp_stand_in import StandInHost, Status

EVENT = {"type": "object", "properties": {"title": {"type": "string"}, "start": {"type": "string"},
                                          "reminder_minutes": {"type": "integer"}}, "required": ["title", "start"]}
PATH = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
CALL = '{"title": "Dentist", "start": "2026-12-03T17:00", "reminder_minutes": 10}'
STDERR = """Traceback (most recent call last):
  File "/opt/weather-mcp/server.py", line 12, in <module>
    api_key = os.environ["WEATHER_API_KEY"]
KeyError: 'WEATHER_API_KEY'"""


def stand_in_tools() -> list[Tool]:
    return [
        Tool("calendar_create_event", "Create an event in the user's calendar", EVENT, lambda **_: "created",
             source="calendar", title="create_event"),
        Tool("calendar_list_events", "List the user's events", {"type": "object", "properties": {}},
             lambda **_: "[]", source="calendar", title="list_events", read_only=True),
        Tool("files_read_file", "Read a text file", PATH, lambda **_: "", source="files", title="read_file",
             read_only=True),
        Tool("files_write_file", "Write a text file", PATH, lambda **_: "", source="files", title="write_file"),
    ]


async def scene(out: Path, url: str) -> None:
    controller = make_controller(url, settings_in(Path(tempfile.mkdtemp())))
    registry = controller.tools.registry
    registry.replace_source("calendar", [t for t in stand_in_tools() if t.source == "calendar"])
    registry.replace_source("files", [t for t in stand_in_tools() if t.source == "files"])
    window = MainWindow(controller)
    window.resize(780, 680)
    window.show()
    await controller.start()
    await controller.wait_ready()
    controller.tools.attach_host(StandInHost(  # type: ignore[arg-type]
        [Status("calendar", "ready", 2), Status("files", "ready", 2), Status("home", "starting"),
         Status("weather", "failed", 0, "exited with code 1 during start-up", STDERR)]))
    await until(lambda: controller.turn_state == "idle", what="connected")
    await until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), what="mapped")

    controller.send_text("Put the dentist in my calendar at five, with a reminder ten minutes before.")
    await until(lambda: window.approvals.card is not None, within=15, what="approval card")
    card = window.approvals.card
    assert card is not None
    await until(card.accepts_keys, what="card settled")
    window.grab().save(str(out / "approval-card.png"))
    card.allow.click()
    await until(lambda: window.approvals.card is None, what="card answered")

    dialog = window.open_settings()
    dialog.resize(640, 760)
    await until(dialog.isVisible, what="dialog shown")
    dialog.tabs.setCurrentWidget(dialog.page(ToolsPage))
    await asyncio.sleep(0.2)  # one paint
    dialog.grab().save(str(out / "settings-tools.png"))
    dialog.reject()
    await controller.aclose()
    window.close()


def main() -> int:
    out, url = Path(sys.argv[1]), sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(scene(out, url))
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

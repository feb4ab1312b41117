"""Saves PNGs of an approval card in the conversation and of Settings → Tools, in a real window.

Run by tests/ui/test_approval_screenshots.py in a child process on the xcb platform (Xvfb), with the test's
PulseAudio and loopback Realtime server, which issues the tool call. `python -m tests.ui.approvals_scene OUT URL`.
The tools come from real MCP servers configured in mcp.json (tests/support/mcp_servers.py): calendar and files
(the demo tool sets), home (never answers, so it stays "starting") and weather (exits at once with a traceback).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import qasync

from desktop.app.bootstrap import make_application
from desktop.app.tools_service import ToolsService
from desktop.ui.main_window import MainWindow
from desktop.ui.tools_page import ToolsPage
from tests.support.app_harness import make_controller, settings_in, until
from tests.support.mcp_servers import demo_entry, failing_entry, hanging_entry

NAME = "create_event"
CALL = '{"title": "Dentist", "start": "2026-12-03T17:00", "reminder_minutes": 10}'
STDERR = """Traceback (most recent call last):
  File "/opt/weather-mcp/server.py", line 12, in <module>
    api_key = os.environ["WEATHER_API_KEY"]
KeyError: 'WEATHER_API_KEY'"""
WITHIN = 60.0


def state(tools: ToolsService, name: str) -> str:
    return next((s.state for s in tools.catalogue() if s.name == name), "absent")


async def scene(out: Path, url: str) -> None:
    config = Path(tempfile.mkdtemp())
    servers = {"calendar": demo_entry("calendar"), "files": demo_entry("files"), "home": hanging_entry(),
               "weather": failing_entry(STDERR.splitlines())}
    (config / "mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=2))
    controller = make_controller(url, settings_in(config))
    tools = controller.tools
    window = MainWindow(controller)
    window.resize(780, 680)
    window.show()
    await controller.start()
    await controller.wait_ready()
    await until(lambda: controller.turn_state == "idle", what="connected")
    await until(lambda: state(tools, "calendar") == state(tools, "files") == "ready", within=WITHIN,
                what="calendar and files ready")
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
    # weather fails and retries with backoff; grab in a moment it shows as failed (nothing runs in between)
    await until(lambda: state(tools, "weather") == "failed" and state(tools, "home") == "starting", within=WITHIN,
                what="weather failed, home starting")
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

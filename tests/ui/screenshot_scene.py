"""Plays one short conversation in a real window and saves PNGs of it: idle, mid-conversation, settings.

Run by tests/ui/test_screenshots.py in a child process on the xcb platform (a real X11 window under Xvfb), with
the test's PulseAudio server and loopback Realtime server. `python -m tests.ui.screenshot_scene OUT URL`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync

from desktop.app.bootstrap import make_application
from desktop.ui.main_window import MainWindow
from tests.support.app_harness import make_controller, settings_in, until


async def scene(out: Path, url: str) -> None:
    controller = make_controller(url, settings_in(Path(tempfile.mkdtemp())))
    window = MainWindow(controller)
    window.resize(780, 620)
    window.show()
    await controller.start()
    await controller.wait_ready()
    await until(lambda: controller.turn_state == "idle", what="connected")
    await until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), what="mapped")
    window.grab().save(str(out / "main-idle.png"))

    controller.send_text("What time is it? And how long until my 3 o'clock meeting?")
    await until(lambda: controller.turn_state == "speaking", within=15, what="reply playing")
    await until(lambda: len(window.waveform.lane_columns("assistant")[1]) > 150, within=15, what="reply heard")
    window.grab().save(str(out / "main-conversation.png"))
    controller.stop_reply()
    await until(lambda: controller.turn_state == "idle", what="stopped")
    await until(lambda: not window.waveform.is_animating(), within=5, what="waveform idle")
    window.grab().save(str(out / "main-interrupted.png"))

    dialog = window.open_settings()
    await until(dialog.isVisible, what="dialog shown")
    dialog.grab().save(str(out / "settings.png"))
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

"""The app runs on a qasync loop, shows its window, and shuts down cleanly when the window closes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from PySide6.QtWidgets import QApplication

from desktop.app.bootstrap import run_window
from desktop.app.options import Options
from desktop.ui.main_window import MainWindow


def test_window_shows_and_closing_it_ends_the_run(qloop: asyncio.Runner, qapp: QApplication) -> None:
    async def scenario() -> int:
        task = asyncio.ensure_future(run_window(qapp, Options(), self_test=False))
        window = None
        for _ in range(200):
            window = next((w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)
            if window is not None:
                break
            await asyncio.sleep(0.01)
        assert window is not None, "the main window never appeared"
        window.close()
        return await asyncio.wait_for(task, timeout=10)

    assert qloop.run(scenario()) == 0


def test_qloop_fixture_is_usable_in_a_second_test(qloop: asyncio.Runner) -> None:
    async def tick() -> str:
        await asyncio.sleep(0)
        return "ok"

    assert qloop.run(tick()) == "ok"


def test_process_exits_zero_without_warnings_when_asked_to_close() -> None:
    """A real process: SIGTERM asks the window to close; exit must be 0 with nothing on stderr but our log."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    log_file = os.path.join(os.environ["XDG_STATE_HOME"], "parley", "log", "parley.log")
    earlier = os.path.getsize(log_file) if os.path.exists(log_file) else 0  # other tests' runs log there too
    proc = subprocess.Popen([sys.executable, "-m", "desktop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(log_file) and "window shown" in _read_from(log_file, earlier):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Warning" not in err and "Traceback" not in err and "destroyed" not in err, err


def _read_from(path: str, offset: int) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        file.seek(offset)
        return file.read()

"""Starts Qt with qasync's asyncio loop, shows the window, and shuts everything down in order.

One QApplication, one qasync loop, run through asyncio.Runner so that on exit every leftover task is cancelled and
the loop closed before Qt goes away: that ordering is what keeps the exit free of "Task was destroyed" and
QObject warnings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading

import qasync
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop import __version__
from desktop.app.collector import MainThreadCollector
from desktop.app.logs import setup_logging
from desktop.app.options import Options
from desktop.app.resources import resource_path
from desktop.app.unix_signals import SignalCloser

log = logging.getLogger(__name__)


def make_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Parley")
    app.setOrganizationName("Parley")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("parley")
    icon = QIcon()  # PNGs at every size: the bundle ships no SVG image plugin
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        path = resource_path(f"icons/parley-{size}.png")
        if path.exists():
            icon.addFile(str(path), QSize(size, size))
    if not icon.isNull():
        app.setWindowIcon(icon)
    return app


async def run_window(app: QApplication, options: Options, self_test: bool) -> int:
    """Builds the controller and window, waits for the window to close, then closes sockets and streams."""
    from desktop.app.controller import Controller
    from desktop.app.history_recorder import HistoryRecorder
    from desktop.app.network_watch import NetworkWatch
    from desktop.ui.main_window import MainWindow

    app.setQuitOnLastWindowClosed(False)  # this coroutine decides when to stop, after cleanup
    controller = Controller(options)
    window = MainWindow(controller)
    history = HistoryRecorder.open(controller)
    window.attach_history(history)
    network = NetworkWatch(window)  # the network came back or the computer woke up: try the link at once
    network.back.connect(controller.retry_now)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.shell.first_show()
    log.info("window %s", "shown" if window.isVisible() else "hidden in the tray")
    # Ctrl+C / SIGTERM quit: a plain close may only hide the window to the tray.
    closer = SignalCloser(window.shell.quit) if threading.current_thread() is threading.main_thread() else None
    collector = MainThreadCollector()
    collector.start()
    await controller.start()
    history.start()
    try:
        if self_test:
            from desktop.app.selftest import run_checks

            return await run_checks(window)
        await closed.wait()
        return 0
    finally:
        if closer is not None:
            closer.restore()
        await controller.aclose()
        await history.aclose()
        window.close()
        window.deleteLater()
        collector.stop()


def display_problem() -> str | None:
    """Explains a missing display up front: Qt's own message blames a missing xcb-cursor library instead."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform != "linux":
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("parley: no display found (DISPLAY and WAYLAND_DISPLAY are unset). Run it in a desktop session, "
            "under `xvfb-run -a parley`, or with QT_QPA_PLATFORM=offscreen for a self-test.")


def run(options: Options, self_test: bool = False) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    log_file = setup_logging(options.verbose)
    log.info("Parley %s starting (log file: %s)", __version__, log_file)
    app = make_application()
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        code = runner.run(run_window(app, options, self_test))
    log.info("Parley exiting with %d", code)
    return code

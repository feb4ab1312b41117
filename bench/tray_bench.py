"""What Parley costs while it waits in the tray: the window hidden, the global talk key bound through the desktop
portal (a fake one on a private session bus), the microphone and speaker resting. Then how fast a press of the
portal key wakes the resting microphone. The whole app runs as for a user (controller, window offscreen,
PulseAudio virtual devices, the loopback Realtime server in its own process).

    .venv/bin/python bench/tray_bench.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_env  # noqa: F401  (isolated home, offscreen Qt, fake key: before Qt and desktop/)
import qasync
from PySide6.QtWidgets import QApplication
from window_bench import WINDOWS, cpu_percent, start_server

from desktop.app.collector import MainThreadCollector
from tests.support.app_harness import start_app, stop_app, until
from tests.support.fake_desktop import FakeDesktop
from tests.support.pulse import WARM_UP_S, start_pulse
from tests.support.session_bus import start_session_bus, stop_session_bus

REST_S = 2.0  # the app's default is 10 s; shorter here to keep the bench quick


async def run(seconds: float) -> list[tuple[str, str, str]]:
    collector = MainThreadCollector()
    collector.start()
    for var in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(var, None)  # only the portal can carry the key
    bus, address = start_session_bus(Path(tempfile.mkdtemp()) / "bus")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    desktop = FakeDesktop(address, notifications=True).start()
    pulse = start_pulse()
    await asyncio.sleep(WARM_UP_S)
    server, url = start_server(4)
    rows: list[tuple[str, str, str]] = []
    try:
        app = await start_app(url, Path(tempfile.mkdtemp()), turn_mode="push_to_talk", audio_rest_s=int(REST_S),
                              global_hotkey_enabled=True)
        try:
            window, audio = app.window, app.controller.audio
            window._apply_hotkeys()  # as at start-up (start_app builds the window before its loop task runs)
            await until(lambda: window.global_talk.mechanism == "portal", what="portal key bound")
            window.hide()  # what closing to the tray does (offscreen has no tray, where closing would quit)
            await until(lambda: audio.capture.is_resting and audio.playback.is_resting, within=REST_S + 10,
                        what="audio resting")
            await asyncio.sleep(1.0)
            found = [await cpu_percent(seconds / WINDOWS) for _ in range(WINDOWS)]
            found.sort(key=lambda item: item[0])
            cpu, threads = found[WINDOWS // 2]
            rows.append(("hidden in the tray, portal key bound, audio resting: CPU", f"{cpu:.2f} %",
                         f"<= 0.5 % of one core (median of {WINDOWS} windows of {seconds / WINDOWS:.0f} s; "
                         f"{found[0][0]:.2f}-{found[-1][0]:.2f})"))
            for name, value in sorted(threads.items(), key=lambda item: -item[1])[:4]:
                rows.append((f"  thread {name[:38]}", f"{value:.2f} %", ""))
            rows.append(("  overlay built / waveform animating", f"{window.shell.overlay is not None} / "
                         f"{window.waveform.is_animating()}", "False / False"))
            blocks, pressed = audio.capture.stats.blocks, time.monotonic()
            desktop.press()
            await until(lambda: audio.capture.stats.blocks > blocks, what="mic delivering after the portal press")
            woke_ms = (time.monotonic() - pressed) * 1000
            rows.append(("portal press on a resting mic -> first mic block", f"{woke_ms:.0f} ms", ""))
            await until(lambda: window.shell.overlay is not None and window.shell.overlay.isVisible(),
                        what="overlay shown")
            rows.append(("portal press -> overlay shown", f"{(time.monotonic() - pressed) * 1000:.0f} ms", ""))
            desktop.release()
        finally:
            await stop_app(app)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=20)
        pulse.stop()
        desktop.stop()
        stop_session_bus(bus)
        collector.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # as bootstrap.py: the hidden window is not the end
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        rows = runner.run(run(args.seconds))
    print(f"tray bench: pid {os.getpid()}, {os.cpu_count()} cores")
    print(f"{'figure':58} {'value':>12}  goal")
    for name, value, goal in rows:
        print(f"{name:58} {value:>12}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The window's cost: event-loop lag and CPU while full-duplex audio flows and the waveform animates, and CPU
when idle. The whole app runs as for a user (controller, window offscreen, PulseAudio virtual devices, the
loopback Realtime server streaming a reply in real time); CPU is the process's, audio threads included.

    .venv/bin/python bench/window_bench.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_home = tempfile.mkdtemp(prefix="parley-bench-")
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = os.path.join(_home, _var.lower())
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["OPENAI_API_KEY"] = "test-key-not-a-secret"

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.support.app_harness import start_app, stop_app, until  # noqa: E402
from tests.support.pulse import start_pulse  # noqa: E402
from tests.support.realtime_server import RealtimeTestServer, spoken_tone  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def loop_lag(seconds: float, tick: float = 0.01) -> list[float]:
    """How late a 10 ms timer wakes up: what a key press or a socket message waits behind."""
    lags: list[float] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        before = time.monotonic()
        await asyncio.sleep(tick)
        lags.append((time.monotonic() - before - tick) * 1000)
    return lags


async def cpu_percent(seconds: float) -> float:
    """CPU % of one core over `seconds`, with nothing of the bench's own running meanwhile."""
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds() - cpu0) / (time.monotonic() - wall0)


async def run(seconds: float) -> list[tuple[str, str, str]]:
    pulse = start_pulse()
    server = RealtimeTestServer().start()
    rows: list[tuple[str, str, str]] = []
    try:
        folder = Path(tempfile.mkdtemp())
        app = await start_app(server.url, folder, hands_free=True)
        try:
            room = np.random.default_rng(1).normal(0, 150, int(24000 * (seconds + 6))).astype(np.int16)
            pulse.play_into_mic(room)  # a quiet room: the mic lane moves, nobody interrupts
            server.script_response(audio=spoken_tone(seconds + 6), speed=1.0)
            app.controller.send_text("Talk for a while.")
            await until(lambda: app.controller.turn_state == "speaking", what="reply playing")
            painted = app.window.waveform.frames_painted
            cpu = await cpu_percent(seconds / 2)
            fps = (app.window.waveform.frames_painted - painted) / (seconds / 2)
            lags = await loop_lag(seconds / 2)
            rows.append(("duplex: event-loop lag p50 / p99", f"{np.percentile(lags, 50):.1f} / "
                         f"{np.percentile(lags, 99):.1f} ms", "p99 <= 8 ms"))
            rows.append(("duplex: CPU (whole process, one core = 100%)", f"{cpu:.1f} %", "<= 8 %"))
            rows.append(("duplex: waveform frames painted per second", f"{fps:.0f}", "<= 60"))
            app.controller.stop_reply()
        finally:
            await stop_app(app)
        app = await start_app(server.url, folder, turn_mode="push_to_talk")
        try:
            await until(lambda: not app.window.waveform.is_animating(), what="waveform idle")
            cpu = await cpu_percent(5.0)
            rows.append(("idle (connected, mic open): CPU", f"{cpu:.2f} %", "<= 0.5 %"))
            rows.append(("idle: waveform timer running", str(app.window.waveform.is_animating()), "False"))
        finally:
            await stop_app(app)
    finally:
        server.stop()
        pulse.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        rows = runner.run(run(args.seconds))
    print(f"window bench: {args.seconds:.0f} s of full-duplex audio, pid {os.getpid()}, {os.cpu_count()} cores")
    print(f"{'figure':48} {'value':>16}  goal")
    for name, value, goal in rows:
        print(f"{name:48} {value:>16}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast the offline engine ends after Parley is killed outright (SIGKILL: no clean-up of Parley's runs).

Starts `python -m desktop` with no key (the offline engine comes up as its child), waits for the engine to be
ready, SIGKILLs the app and times until the engine process has ended (Linux, through /proc). The goal (issue 17)
is under 2 s; the lifeline makes it the engine's own graceful stop.

    .venv/bin/python bench/orphan_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_WITHIN_S = 180.0
sys.path.insert(0, str(ROOT))

from tests.support.processes import children, kill_quietly, running  # noqa: E402


def one_run() -> float:
    home = tempfile.mkdtemp(prefix="parley-orphan-bench-")
    env = {key: value for key, value in os.environ.items() if key not in ("OPENAI_API_KEY", "PARLEY_REALTIME_URL")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                **{var: os.path.join(home, var.lower()) for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME",
                                                                    "XDG_DATA_HOME", "XDG_CACHE_HOME")}})
    app = subprocess.Popen([sys.executable, "-m", "desktop", "--verbose"], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(READY_WITHIN_S, app.kill)  # an app whose engine never comes up must not hang us
    watchdog.start()
    engine = None
    try:
        assert app.stderr is not None
        for line in app.stderr:
            if "offline engine ready at" in line:
                break
        engines = [pid for pid, command in children(app.pid) if "desktop.engine" in command]
        if len(engines) != 1:
            raise SystemExit(f"expected one engine child, found {children(app.pid)}")
        engine = engines[0]
        app.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        while running(engine):
            if time.perf_counter() - killed > 30:
                return float("inf")
            time.sleep(0.002)
        return time.perf_counter() - killed
    finally:
        watchdog.cancel()
        app.kill()
        app.wait(timeout=30)
        if app.stderr is not None:
            app.stderr.close()
        if engine is not None:
            kill_quietly(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = [one_run() * 1000 for _ in range(args.runs)]
    print(f"{'offline engine gone after the app is SIGKILLed (ms)':58} {statistics.median(times):>9.0f} "
          f"{max(times):>9.0f}  < 2000 (median, max of {args.runs})")


if __name__ == "__main__":
    main()

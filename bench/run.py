"""Prints Parley's figures as one table: start-up first, then every bench/*_bench.py that exists.

Usage: .venv/bin/python bench/run.py [--starts N]
Each *_bench.py script prints its own rows; this runner only adds the start-up rows and gathers the rest, so a
layer's benchmark stays beside nothing but its own code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_to_window(env: dict[str, str], command: list[str]) -> float:
    """Seconds from spawning the process to its "window shown" log line (a cold interpreter each time)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
                            cwd=ROOT)
    assert proc.stderr is not None
    elapsed = float("nan")
    for line in proc.stderr:
        if "window shown" in line:
            elapsed = time.perf_counter() - start
            break
    proc.terminate()
    proc.communicate(timeout=30)
    return elapsed


def startup_rows(starts: int, command: list[str] | None = None, label: str = "python -m desktop") -> list[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    command = command or [sys.executable, "-m", "desktop", "--verbose"]
    times = [time_to_window(env, command) for _ in range(starts)]
    return [f"| start-up to window shown ({label}), median of {starts} | {statistics.median(times) * 1000:.0f} ms "
            f"| min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} | goal <= 1500 ms |"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--only-startup", action="store_true")
    args = parser.parse_args()
    print("| figure | value | spread | goal |")
    print("|---|---|---|---|")
    for row in startup_rows(args.starts):
        print(row, flush=True)
    if args.only_startup:
        return 0
    for script in sorted((ROOT / "bench").glob("*_bench.py")):
        print(f"\n## {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

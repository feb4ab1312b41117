"""Timers: what the GUI thread pays per timer tool call and per save, what the worker pays to write the file, and
the chime's one-off generation.

Run: .venv/bin/python bench/timers_bench.py
The loop's share (the tool call, the JSON text) should be well under a millisecond: the disk write (fsync) happens
on the worker thread.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop.tools.registry import ToolRegistry  # noqa: E402
from desktop.tools.timer_tools import timer_tools  # noqa: E402
from desktop.tools.timers import TimerBook, _write  # noqa: E402

CALLS = 200


def row(figure: str, samples: list[float], unit: str = "us", scale: float = 1e6) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {figure} | p50 {statistics.median(samples) * scale:.0f} {unit} | p95 {p95 * scale:.0f} {unit} | |"


async def tool_calls(folder: Path) -> tuple[list[float], list[float], list[float]]:
    book = TimerBook(folder / "timers.json")
    await book.start()
    registry = ToolRegistry(timer_tools(book))
    calls, lists, cancels = [], [], []
    for index in range(CALLS):
        arguments = json.dumps({"seconds": 600 + index, "label": f"timer {index}"})
        start = time.perf_counter()
        await registry.call("set_timer", arguments)
        calls.append(time.perf_counter() - start)
        if index % 10 == 9:  # a book of 10 timers: list, then cancel them all
            start = time.perf_counter()
            await registry.call("list_timers", "{}")
            lists.append(time.perf_counter() - start)
            start = time.perf_counter()
            await registry.call("cancel_timer", '{"all": true}')
            cancels.append(time.perf_counter() - start)
    await book.aclose()
    return calls, lists, cancels


def writes(folder: Path) -> list[float]:
    text = json.dumps({"version": 1, "timers": [{"id": str(i), "label": "x" * 20} for i in range(20)]})
    samples = []
    for _ in range(50):
        start = time.perf_counter()
        _write(folder / "timers.json", text)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        calls, lists, cancels = asyncio.run(tool_calls(Path(folder)))
        written = writes(Path(folder))
    import numpy  # noqa: F401  (loaded by the audio layer long before a timer fires)

    from desktop.app.timer_alerts import chime_pcm

    start = time.perf_counter()
    chime_pcm()
    chime_s = time.perf_counter() - start
    print("| figure | value | spread | goal |")
    print("|---|---|---|---|")
    print(row("set_timer call on the loop (incl. the JSON text handed to the writer)", calls))
    print(row("list_timers with 1-10 timers", lists))
    print(row("cancel_timer all=true (10 timers)", cancels))
    print(row("atomic write + fsync of timers.json (worker thread)", written, "ms", 1e3))
    print(f"| chime generation, once per run (worker thread, at start) | {chime_s * 1000:.1f} ms | | |")


if __name__ == "__main__":
    main()

"""The history's cost: write cost per event (on the GUI thread, which only enqueues, and on the writer thread),
event-loop lag while a conversation is recorded, and a history of 10,000 conversations: the history view's list
and a full-text search, timed from the click to the rows being in the widget.

    .venv/bin/python bench/history_bench.py [--conversations 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_env  # noqa: F401  (isolated home, offscreen Qt, fake key: before Qt and desktop/)
import numpy as np
import qasync
from PySide6.QtWidgets import QApplication

from desktop.history.models import StoredItem
from desktop.history.store import HistoryStore, new_conversation_id
from tests.support.app_harness import make_controller, settings_in, until

WORDS = ("weather lisbon bread volcano meeting reminder music train ticket garden recipe coffee budget invoice "
         "holiday doctor appointment birthday present museum river bridge mountain bicycle library python "
         "translate spanish french german kitchen window battery charger laptop printer paper letter").split()


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def fill(store: HistoryStore, conversations: int, items: int = 6) -> None:
    rng = random.Random(5)
    now = time.time()
    for n in range(conversations):
        cid = new_conversation_id()
        store.begin(cid, "openai", "gpt-realtime", started=now - (conversations - n) * 60)
        for i in range(items):
            role = "user" if i % 2 == 0 else "assistant"
            store.record(cid, StoredItem(f"item_{i}", role, "message", sentence(rng), created=now, done=True))
        store.set_usage(cid, 0.01, {"responses": items // 2})
    store.stats.writes = 0
    store.stats.seconds = 0.0


async def write_costs(folder: Path, events: int = 20_000) -> list[tuple[str, str, str]]:
    store = HistoryStore(folder / "writes.sqlite3")
    cid = new_conversation_id()
    store.begin(cid, "openai", "gpt-realtime")
    await store.flush()
    store.stats.writes = 0
    store.stats.seconds = 0.0
    rng = random.Random(1)
    items = [StoredItem(f"item_{n}", "assistant", "message", sentence(rng, 30), created=time.time(), done=True)
             for n in range(events)]
    enqueue: list[float] = []
    for item in items:
        started = time.perf_counter()
        store.record(cid, item)
        enqueue.append(time.perf_counter() - started)
    await store.flush()
    writer_us = store.stats.seconds / max(store.stats.writes, 1) * 1e6
    await store.aclose()
    enq = np.array(enqueue) * 1e6
    return [("write: GUI-thread enqueue per event, median / p99", f"{np.median(enq):.1f} / "
             f"{np.percentile(enq, 99):.1f} µs", "returns at once"),
            ("write: writer thread per event (batched commits)", f"{writer_us:.1f} µs",
             f"{store.stats.commits} commits for {events} events")]


async def loop_lag(seconds: float, tick: float = 0.01) -> list[float]:
    lags: list[float] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        before = time.monotonic()
        await asyncio.sleep(tick)
        lags.append((time.monotonic() - before - tick) * 1000)
    return lags


async def recording_lag(folder: Path, keep: bool, seconds: float = 5.0) -> float:
    """Loop lag p99 while the controller's signals carry a busy conversation (streaming deltas at 100/s, an
    item done every 100 ms) into the recorder; with keep=False nothing is written."""
    from desktop.app.history_recorder import HistoryRecorder

    controller = make_controller(None, settings_in(folder, keep_history=keep), audio=False)
    recorder = HistoryRecorder(controller, HistoryStore(folder / f"lag-{keep}.sqlite3"))
    stop = asyncio.Event()

    async def talk() -> None:
        rng = random.Random(2)
        n = 0
        while not stop.is_set():
            n += 1
            text = ""
            for _ in range(10):
                text += " " + rng.choice(WORDS)
                controller.transcript_updated.emit(f"a{n}", "assistant", text, False)
                await asyncio.sleep(0.01)
            controller.transcript_updated.emit(f"a{n}", "assistant", text, True)

    task = asyncio.ensure_future(talk())
    lags = await loop_lag(seconds)
    stop.set()
    await task
    await recorder.aclose()
    return float(np.percentile(lags, 99))


async def view_times(folder: Path, conversations: int) -> list[tuple[str, str, str]]:
    from desktop.app.history_recorder import HistoryRecorder
    from desktop.ui.main_window import MainWindow

    store = HistoryStore(folder / "big.sqlite3")
    started = time.perf_counter()
    fill(store, conversations)
    await store.flush()
    filled = time.perf_counter() - started
    controller = make_controller(None, settings_in(folder), audio=False)
    recorder = HistoryRecorder(controller, store)
    window = MainWindow(controller)
    window.attach_history(recorder)
    window.show()
    opens, searches, rare = [], [], []
    try:
        for _ in range(7):
            started = time.perf_counter()
            dialog = window.history.open()
            await until(lambda d=dialog: d.conversations.count() > 0, within=30, what="list shown")
            opens.append(time.perf_counter() - started)
            for word, into in (("meeting", searches), ("invoice budget", rare)):
                dialog.search.setText(word)
                dialog._search_timer.stop()  # timed without the typing debounce
                started = time.perf_counter()
                await dialog.run_search()
                into.append(time.perf_counter() - started)
            dialog.close()
            await until(lambda: window.history.dialog is None, what="dialog closed")
    finally:
        await recorder.aclose()
        window.close()
        window.deleteLater()
    size = _size(folder, "big.sqlite3") / 1e6

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f})"

    return [(f"db: {conversations} conversations x 6 items written", f"{filled:.1f} s, {size:.0f} MB", "setup"),
            ("view: History click to 200 rows listed, median of 7", ms(opens), "<= 200 ms"),
            ("view: search 'meeting' (50 hits shown), median of 7", ms(searches), "<= 100 ms"),
            ("view: search 'invoice budget' (2 words), median of 7", ms(rare), "<= 100 ms")]


def _size(folder: Path, name: str) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(name))


async def bench(conversations: int) -> list[tuple[str, str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="parley-history-bench-"))
    rows = await write_costs(folder)
    offs, ons = [], []
    for n in range(3):  # interleaved: the machine's load drifts during a run
        for keep, into in ((False, offs), (True, ons)):
            run_folder = folder / f"lag-{n}-{keep}"
            run_folder.mkdir()
            into.append(await recording_lag(run_folder, keep))
    rows.append(("loop lag p99 while recording 10 items/s: off / on", f"{statistics.median(offs):.1f} / "
                 f"{statistics.median(ons):.1f} ms", "unchanged (median of 3 runs each)"))
    rows += await view_times(folder, conversations)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        rows = runner.run(bench(args.conversations))
    print(f"{'figure':56} {'value':>24}  goal")
    for name, value, goal in rows:
        print(f"{name:56} {value:>24}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

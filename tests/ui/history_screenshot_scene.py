"""Saves PNGs of the history view over a small, realistic history: the list with one conversation open, and a
search with its matches highlighted. Run by tests/ui/test_history_screenshots.py in a child process on the xcb
platform (a real X11 window under Xvfb). `python -m tests.ui.history_screenshot_scene OUT`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import qasync

from desktop.app.bootstrap import make_application
from desktop.app.history_recorder import HistoryRecorder
from desktop.history.models import StoredItem
from desktop.history.store import HistoryStore
from desktop.ui.main_window import MainWindow
from tests.support.app_harness import make_controller, settings_in, until

TALKS = [
    ("openai", 0.041, [("user", "What's a good recipe for a quick weeknight pasta?"),
                       ("assistant", "Try aglio e olio: spaghetti, garlic, chilli, olive oil and parsley. Ten "
                                     "minutes, and it tastes far better than it sounds.")]),
    ("offline", 0.0, [("user", "What is seven times eight?"), ("assistant", "Seven times eight is fifty-six.")]),
    ("openai", 0.087, [("user", "Help me plan a day in Lisbon next Saturday."),
                       ("assistant", "Start early in Alfama, take tram 28 up to the castle for the view, then "
                                     "lunch in Baixa."),
                       ("tool", "get_weather"),
                       ("assistant", "Saturday looks sunny and 24 degrees, so the river walk to Belém works "
                                     "well in the afternoon. Do you want me to"),
                       ("user", "Yes, and find a place for pastries in Belém.")]),
    ("openai", 0.023, [("user", "Remind me what time my dentist appointment is tomorrow."),
                       ("assistant", "Your dentist appointment is at 9:30 tomorrow morning.")]),
]


def fill(store: HistoryStore) -> str:
    now = time.time()
    last = ""
    for n, (backend, cost, items) in enumerate(TALKS):
        cid = last = f"conversation-{n}"
        store.begin(cid, backend, "offline engine" if backend == "offline" else "gpt-realtime",
                    started=now - 86400 * (len(TALKS) - n) + 3600 * n)
        for i, (role, text) in enumerate(items):
            if role == "tool":
                store.record(cid, StoredItem(f"call{i}", "assistant", "function_call", text,
                                             arguments='{"city": "Lisbon", "day": "Saturday"}',
                                             output='{"sky": "sunny", "high_c": 24}', done=True))
            elif text.endswith("Do you want me to"):
                store.record(cid, StoredItem(f"i{i}", role, "message", text + " book a table?",
                                             heard=text, unheard=" book a table?", done=True))
            else:
                store.record(cid, StoredItem(f"i{i}", role, "message", text, done=True))
        store.set_usage(cid, cost, {"responses": len(items) // 2})
    return last


async def scene(out: Path) -> None:
    folder = Path(tempfile.mkdtemp())
    controller = make_controller(None, settings_in(folder), audio=False)
    recorder = HistoryRecorder(controller, HistoryStore(folder / "history.sqlite3"))
    fill(recorder.store)
    window = MainWindow(controller)
    window.attach_history(recorder)
    window.show()
    dialog = window.history.open()
    dialog.resize(940, 560)
    await until(lambda: dialog.conversations.count() == len(TALKS), what="listed")
    dialog.conversations.setCurrentRow(1)
    await until(lambda: dialog.shown_id == "conversation-2", what="opened")
    await until(lambda: dialog.windowHandle() is not None and dialog.windowHandle().isExposed(), what="mapped")
    await asyncio.sleep(0.3)  # let the X server finish drawing the first frame before grabbing
    dialog.grab().save(str(out / "history-list.png"))
    dialog.search.setText("lisbon")
    await dialog.run_search()
    dialog.results.setCurrentRow(0)
    await until(lambda: dialog.shown_id == "conversation-2", what="hit opened")
    await asyncio.sleep(0.3)
    dialog.grab().save(str(out / "history-search.png"))
    dialog.close()
    await controller.aclose()
    await recorder.aclose()
    window.close()


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    app = make_application()
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(scene(out))
    print("\n".join(str(p) for p in sorted(out.glob("history-*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

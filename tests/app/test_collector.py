"""The GUI-thread collector: automatic collection off while it runs, cycles still freed, on the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

from pytestqt.qtbot import QtBot

from desktop.app.collector import MainThreadCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_on_the_gui_thread(qtbot: QtBot) -> None:
    collector = MainThreadCollector()
    freed_in: list[str] = []
    collector.start()
    try:
        assert not gc.isenabled()
        cycle = Cycle()
        weakref.finalize(cycle, lambda: freed_in.append(threading.current_thread().name))
        del cycle
        qtbot.waitUntil(lambda: bool(freed_in), timeout=3000)
    finally:
        collector.stop()
    assert gc.isenabled()
    assert freed_in == [threading.main_thread().name]

"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate: the voice-detection worker, an
executor thread, a PortAudio callback. A Qt object collected there (a closed dialog, a finished helper with a
timer) is destroyed outside its thread; Qt then cannot unregister its timers and later fires one on freed
memory. The test suite hit exactly that. So automatic collection is switched off and a timer on the GUI thread
collects instead: the young generation often (cheap), everything now and then.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

YOUNG_EVERY_MS = 1000
FULL_EVERY = 60  # ticks


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(YOUNG_EVERY_MS)
        self._timer.timeout.connect(self._collect)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        gc.enable()

    def _collect(self) -> None:
        self._ticks += 1
        gc.collect(2 if self._ticks % FULL_EVERY == 0 else 0)

"""The link bar: while the connection is down it says why, counts down to the next attempt and offers "Retry now".
Hidden while connected. A thin view: it draws the LinkStatus the controller forwards and emits `retry`."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.core.link import LinkPhase, LinkStatus

STYLE = """
QFrame#link_bar { background: #3d3422; border-radius: 6px; }
QFrame#link_bar[stopped="true"] { background: #5c2b2b; }
QFrame#link_bar QLabel { color: #ffe8b0; }
"""


class LinkBar(QFrame):
    retry = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("link_bar")
        self.setStyleSheet(STYLE)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 6, 4)
        self.text = QLabel(self)
        self.text.setObjectName("link_text")
        self.text.setWordWrap(True)
        self.button = QPushButton("Retry now", self)
        self.button.setObjectName("retry_now")
        self.button.clicked.connect(self.retry.emit)
        row.addWidget(self.text, 1)
        row.addWidget(self.button)
        self._status: LinkStatus | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(250)  # only runs while a countdown is shown
        self._tick.timeout.connect(self._draw)
        self.hide()

    def show_status(self, status: LinkStatus) -> None:
        self._status = status
        phase = status.phase
        if phase is LinkPhase.CONNECTED:
            self._tick.stop()
            self.hide()
            return
        self.setProperty("stopped", phase is LinkPhase.STOPPED)
        self.style().unpolish(self)
        self.style().polish(self)
        self.button.setVisible(status.can_retry_now)
        if phase is LinkPhase.WAITING:
            self._tick.start()
        else:
            self._tick.stop()
        self._draw()
        self.show()

    def seconds_left(self) -> int | None:
        if self._status is None or self._status.retry_at is None:
            return None
        return max(0, math.ceil(self._status.retry_at - time.monotonic()))

    def _draw(self) -> None:
        status = self._status
        if status is None:
            return
        phase, reason = status.phase, status.reason or "Connection lost."
        if phase is LinkPhase.WAITING:
            left = self.seconds_left()
            when = "now" if not left else f"in {left} s"
            self.text.setText(f"{reason} Trying again {when} (attempt {status.attempt}).")
        elif phase is LinkPhase.CONNECTING:
            self.text.setText(f"{reason} Reconnecting (attempt {status.attempt})…")
        else:
            self.text.setText(f"{reason} Parley stopped trying: fix this, then Retry.")

"""The running timers and reminders, each with the time left and a Cancel button; hidden when there are none.

A thin view: it redraws on the alerts' `changed` signal and, while timers run, updates the countdowns once a
second (a Qt timer that stops when the list empties, so an idle window wakes for nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from desktop.app.timer_alerts import TimerAlerts
    from desktop.tools.timers import Timer

STYLE = """
QFrame#timers { background: #1f2430; border: 1px solid #3a4256; border-radius: 6px; }
QFrame#timers QPushButton { padding: 2px 10px; }
"""


def countdown(seconds: float) -> str:
    """ "4:05", "1:02:03"."""
    whole = max(0, int(seconds + 0.999))  # 4.2 s left reads 0:05 until it is really under 4 s
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TimersPanel(QFrame):
    def __init__(self, alerts: TimerAlerts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timers")
        self.setStyleSheet(STYLE)
        self.alerts = alerts
        self._rows: list[tuple[Timer, QLabel]] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.setSpacing(2)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.refresh)
        alerts.changed.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:  # later: its own Cancel button may be what is calling us
                widget.hide()
                widget.deleteLater()
        timers = self.alerts.timers()
        self._rows = []
        for timer in timers:
            self._layout.addWidget(self._row(timer))
        if len(timers) > 1:
            footer = QWidget(self)
            line = QHBoxLayout(footer)
            line.setContentsMargins(0, 0, 0, 0)
            everything = QPushButton("Cancel all", footer)
            everything.setAccessibleName("Cancel all timers and reminders")
            everything.setAutoDefault(True)
            everything.clicked.connect(self.alerts.cancel_all)
            line.addStretch(1)
            line.addWidget(everything)
            self._layout.addWidget(footer)
        self.setVisible(bool(timers))
        if timers:
            self._ticker.start()
        else:
            self._ticker.stop()
        self.refresh()

    def _row(self, timer: Timer) -> QWidget:
        row = QWidget(self)
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        name = QLabel(f"{'Reminder' if timer.kind == 'reminder' else 'Timer'}: {timer.label}", row)
        name.setObjectName(f"timer-{timer.id}")
        left = QLabel(row)
        cancel = QPushButton("Cancel", row)
        cancel.setObjectName(f"cancel-{timer.id}")
        cancel.setAccessibleName(f"Cancel {timer.title}")
        cancel.setAutoDefault(True)  # Enter presses it: Space belongs to the talk key in this window
        cancel.clicked.connect(lambda: self.alerts.cancel(timer.id))
        line.addWidget(name, 1)
        line.addWidget(left)
        line.addWidget(cancel)
        self._rows.append((timer, left))
        return row

    def refresh(self) -> None:
        book = self.alerts.book if self._rows else None
        for timer, label in self._rows:
            if book is None:
                break
            if timer.kind == "reminder":
                label.setText(f"at {book.due_text(timer)}")
            else:
                label.setText(countdown(book.remaining_s(timer)))

    def texts(self) -> list[str]:
        """What each row says, for tests and the screenshot scene."""
        return [label.text() for _, label in self._rows]

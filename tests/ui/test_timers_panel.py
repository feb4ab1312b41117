"""The timers panel: hidden with no timers, one row per timer or reminder with its countdown or due time, the
countdown ticking with the clock, and Cancel (one, or all) going through to the book."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from desktop.app.timer_alerts import TimerAlerts
from desktop.tools.timers import TimerBook
from desktop.ui.timers_panel import TimersPanel, countdown

ZONE = dt.timezone(dt.timedelta(hours=1), "CET")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 3, 16, 0, tzinfo=ZONE)

    def __call__(self) -> dt.datetime:
        return self.now


def test_countdown_text() -> None:
    assert [countdown(s) for s in (0, 4.2, 65, 3723)] == ["0:00", "0:05", "1:05", "1:02:03"]


def test_rows_countdown_and_cancel(qtbot: QtBot, qloop: asyncio.Runner, tmp_path: Path) -> None:
    clock = Clock()
    alerts = TimerAlerts(lambda: None, book=TimerBook(tmp_path / "timers.json", clock=clock, tz=ZONE))
    window = QWidget()
    qtbot.addWidget(window)
    panel = TimersPanel(alerts, window)
    window.show()
    assert panel.isHidden()  # nothing yet (and the book is not even read)
    qloop.run(alerts.start())
    tea = alerts.book.add_timer(300, "tea")
    alerts.book.add_reminder("17:30", "call the dentist")
    assert panel.isVisible() and panel.texts() == ["5:00", "at 17:30"]
    clock.now += dt.timedelta(seconds=61)
    qtbot.waitUntil(lambda: panel.texts()[0] == "3:59", timeout=5000)  # the once-a-second refresh
    cancel = panel.findChild(QPushButton, f"cancel-{tea.id}")
    assert cancel is not None and cancel.accessibleName() == "Cancel tea timer"
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert [t.label for t in alerts.book.timers()] == ["call the dentist"]
    assert panel.texts() == ["at 17:30"]
    alerts.book.add_timer(60, "eggs")

    def cancel_all_buttons() -> list[QPushButton]:  # replaced rows hide at once and go when the loop runs
        return [b for b in panel.findChildren(QPushButton) if b.text() == "Cancel all" and b.isVisible()]

    qtbot.waitUntil(lambda: len(cancel_all_buttons()) == 1, timeout=5000)
    everything = cancel_all_buttons()
    everything[0].setFocus()
    qtbot.keyClick(everything[0], Qt.Key.Key_Return)  # by keyboard too
    assert alerts.book.timers() == [] and panel.isHidden()
    qloop.run(alerts.aclose())


def test_saved_timers_show_when_parley_starts(qtbot: QtBot, qloop: asyncio.Runner, tmp_path: Path) -> None:
    clock = Clock()
    first = TimerBook(tmp_path / "timers.json", clock=clock, tz=ZONE)
    qloop.run(first.start())
    first.add_timer(600, "bread")
    qloop.run(first.aclose())
    alerts = TimerAlerts(lambda: None, book=TimerBook(tmp_path / "timers.json", clock=clock, tz=ZONE))
    window = QWidget()
    qtbot.addWidget(window)
    panel = TimersPanel(alerts, window)
    window.show()
    qloop.run(alerts.start())
    assert panel.isVisible() and panel.texts() == ["10:00"]
    qloop.run(alerts.aclose())

"""Hold-to-talk key: one pressed and one released per hold, whatever auto-repeat does, sent as real key events
to a real widget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.ui.hold_key import HoldKey, should_handle


class KeyWindow(QWidget):
    """Forwards key events the way the main window does, and records the ones the key did not take."""

    def __init__(self, hold: HoldKey) -> None:
        super().__init__()
        self.hold = hold
        self.unhandled: list[int] = []

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.hold.key_press(event):
            self.unhandled.append(event.key())

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if not self.hold.key_release(event):
            self.unhandled.append(event.key())


class Counts:
    def __init__(self, hold: HoldKey) -> None:
        self.pressed = 0
        self.released = 0
        hold.pressed.connect(self._press)
        hold.released.connect(self._release)

    def _press(self) -> None:
        self.pressed += 1

    def _release(self) -> None:
        self.released += 1


@pytest.fixture
def rig(qtbot: QtBot) -> Iterator[tuple[HoldKey, KeyWindow, Counts]]:
    hold = HoldKey("Space")
    window = KeyWindow(hold)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield hold, window, Counts(hold)


def send(widget: QWidget, kind: QEvent.Type, key: Qt.Key = Qt.Key.Key_Space, repeat: bool = False,
         modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    text = " " if key == Qt.Key.Key_Space else ""
    QApplication.sendEvent(widget, QKeyEvent(kind, key, modifiers, text, repeat))


PRESS, RELEASE = QEvent.Type.KeyPress, QEvent.Type.KeyRelease


def test_flagged_auto_repeat_gives_one_press_and_one_release(qtbot: QtBot,
                                                             rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    with qtbot.waitSignal(hold.pressed, timeout=1000):
        send(window, PRESS)
    for _ in range(20):
        send(window, RELEASE, repeat=True)
        send(window, PRESS, repeat=True)
    assert hold.is_held() and counts.released == 0
    with qtbot.waitSignal(hold.released, timeout=1000):
        send(window, RELEASE)
    assert (counts.pressed, counts.released) == (1, 1)
    assert not hold.is_held()


def test_unflagged_repeat_pairs_inside_the_grace_are_ignored(qtbot: QtBot,
                                                             rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    send(window, PRESS)
    for _ in range(10):  # what Qt's X11 heuristic lets through: a real-looking release, then a press at once
        send(window, RELEASE)
        send(window, PRESS)
        QApplication.processEvents()  # let the event loop run between pairs, as it would on a real desktop
    assert (counts.pressed, counts.released) == (1, 0)
    with qtbot.waitSignal(hold.released, timeout=1000):
        send(window, RELEASE)
    with qtbot.assertNotEmitted(hold.released, wait=150):  # and nothing trails behind
        pass
    assert (counts.pressed, counts.released) == (1, 1)


def test_a_tap_gives_press_then_release_and_taps_apart_are_separate_holds(
        qtbot: QtBot, rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    for n in (1, 2):
        with qtbot.waitSignals([hold.pressed, hold.released], order="strict", timeout=1000):
            send(window, PRESS)
            send(window, RELEASE)
        assert (counts.pressed, counts.released) == (n, n)


def test_other_keys_are_left_to_the_window(qtbot: QtBot, rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    with qtbot.assertNotEmitted(hold.pressed, wait=100):
        send(window, PRESS, Qt.Key.Key_A)
        send(window, RELEASE, Qt.Key.Key_A)
        send(window, PRESS, modifiers=Qt.KeyboardModifier.ControlModifier)  # Ctrl+Space is not Space
    assert window.unhandled == [Qt.Key.Key_A, Qt.Key.Key_A, Qt.Key.Key_Space]
    assert counts.pressed == 0


def test_configured_key_with_modifier(qtbot: QtBot, rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    hold.set_key("Ctrl+F8")
    assert hold.key() == "Ctrl+F8"
    send(window, PRESS)  # Space no longer talks
    send(window, PRESS, Qt.Key.Key_F8)  # F8 without Ctrl does not either
    assert counts.pressed == 0
    with qtbot.waitSignal(hold.pressed, timeout=1000):
        send(window, PRESS, Qt.Key.Key_F8, modifiers=Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(hold.released, timeout=1000):
        send(window, RELEASE, Qt.Key.Key_F8)  # Ctrl let go first: still ends the hold
    hold.set_key("")
    send(window, PRESS, Qt.Key.Key_F8, modifiers=Qt.KeyboardModifier.ControlModifier)
    assert counts.pressed == 1


def test_release_now_ends_a_hold_whose_key_up_went_elsewhere(qtbot: QtBot,
                                                             rig: tuple[HoldKey, KeyWindow, Counts]) -> None:
    hold, window, counts = rig
    send(window, PRESS)
    with qtbot.waitSignal(hold.released, timeout=1000):
        hold.release_now()
    hold.release_now()
    assert (counts.pressed, counts.released) == (1, 1)


def test_should_handle_only_outside_text_fields(qtbot: QtBot) -> None:
    editable_combo, plain_combo = QComboBox(), QComboBox()
    editable_combo.setEditable(True)
    read_only = QTextBrowser()
    widgets: list[QWidget] = [QLineEdit(), QTextEdit(), QPlainTextEdit(), QDoubleSpinBox(), editable_combo,
                              plain_combo, QPushButton(), read_only]
    for widget in widgets:
        qtbot.addWidget(widget)
    assert [should_handle(w) for w in widgets] == [False, False, False, False, False, True, True, True]
    assert should_handle(None)

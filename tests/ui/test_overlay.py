"""The overlay: shown and hidden with the turn while the window is hidden, never taking focus, with a level
meter fed only while it shows and a Stop that stops the reply."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app.controller import Controller
from desktop.app.secrets import KeyStore
from desktop.cli import Options
from desktop.ui.main_window import MainWindow
from desktop.ui.overlay import Overlay
from tests.support.app_harness import settings_in

# Showing a stay-on-top window raises it, which the offscreen platform cannot do (and says so).
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support raise")


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    controller = Controller(Options(), settings_in(tmp_path), KeyStore(), audio=False)
    win = MainWindow(controller)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shell.quit()


def speech_chunk(amplitude: int) -> np.ndarray:
    return (np.sin(np.arange(960) / 5.0) * amplitude).astype(np.int16)


def test_overlay_follows_the_turn_while_hidden(window: MainWindow, qtbot: QtBot) -> None:
    c = window.controller
    c.turn_state_changed.emit("listening")
    assert window.shell.overlay is None, "the window is visible: no overlay"
    window.hide()
    overlay = window.shell.overlay
    assert isinstance(overlay, Overlay) and overlay.isVisible() and overlay.mode == "listening"
    assert overlay.label.text() == "Listening…" and not overlay.stop_button.isVisibleTo(overlay)
    c.mic_samples.emit(speech_chunk(12000))
    assert overlay.meter.level > 0.8
    c.mic_samples.emit(speech_chunk(0))
    assert 0.0 < overlay.meter.level < 0.8, "falls back smoothly"
    c.turn_state_changed.emit("speaking")
    assert overlay.isVisible() and overlay.label.text() == "Speaking" and overlay.stop_button.isVisibleTo(overlay)
    c.assistant_samples.emit(speech_chunk(3000))
    assert overlay.meter.level > 0.5
    with qtbot.waitSignal(overlay.stop_requested, timeout=1000):
        qtbot.mouseClick(overlay.stop_button, Qt.MouseButton.LeftButton)
    c.turn_state_changed.emit("idle")
    assert not overlay.isVisible()
    level = overlay.meter.level
    c.mic_samples.emit(speech_chunk(12000))  # not fed while hidden
    assert overlay.meter.level == level
    c.turn_state_changed.emit("speaking")
    assert overlay.isVisible()
    window.shell.show_window()  # the user brings the window back: the window shows it all
    assert not overlay.isVisible()


def test_overlay_never_takes_focus_and_sits_at_the_bottom_edge(window: MainWindow) -> None:
    window.hide()
    window.controller.turn_state_changed.emit("listening")
    overlay = window.shell.overlay
    assert overlay is not None
    flags = overlay.windowFlags()
    for flag in (Qt.WindowType.WindowDoesNotAcceptFocus, Qt.WindowType.WindowStaysOnTopHint,
                 Qt.WindowType.FramelessWindowHint, Qt.WindowType.Tool):
        assert flags & flag
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert QApplication.activeWindow() is not overlay
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    area = screen.availableGeometry()
    frame = overlay.geometry()
    assert area.contains(frame) and area.bottom() - frame.bottom() < 80
    assert abs(frame.center().x() - area.center().x()) <= 2


def test_screenshot_of_the_overlay(window: MainWindow, tmp_path: Path) -> None:
    """docs/overlay-*.png: `PARLEY_SCREENSHOTS=docs pytest tests/ui/test_overlay.py -k screenshot` refreshes them."""
    out = Path(os.environ.get("PARLEY_SCREENSHOTS") or tmp_path)
    window.hide()
    for state, amplitude in (("listening", 9000), ("speaking", 4000)):
        window.controller.turn_state_changed.emit(state)
        overlay = window.shell.overlay
        assert overlay is not None
        signal = window.controller.mic_samples if state == "listening" else window.controller.assistant_samples
        signal.emit(speech_chunk(amplitude))
        image = overlay.grab().toImage()
        assert image.width() >= 300
        assert len({image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}) > 8
        assert image.save(str(out / f"overlay-{state}.png"))


def test_closing_the_window_mid_reply_shows_no_overlay(window: MainWindow) -> None:
    window.controller.turn_state_changed.emit("speaking")
    closed: list[int] = []
    window.closed.connect(lambda: closed.append(1))
    window.close()  # no tray here: the window really closes, and its hide is not "hidden while speaking"
    assert closed == [1]
    assert window.shell.overlay is None or not window.shell.overlay.isVisible()

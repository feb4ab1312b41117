"""A small always-on-top strip near the bottom of the screen saying Parley is listening or speaking, with a level
meter and Stop, shown while the window is hidden (the global key held, or a reply playing). It never takes focus:
the user is typing in another app.

Levels are fed only while it is visible (the shell connects the sample signals then), so a hidden, resting Parley
pays nothing for it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

MODES = {"listening": ("Listening…", "#42a5f5"), "thinking": ("Thinking…", "#ffca28"),
         "speaking": ("Speaking", "#ab47bc")}
FULL_SCALE_DB = 60.0  # the meter spans -60 dBFS to 0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = 0.0  # 0..1
        self.peak = 0.0  # the highest level since the last reset (what a glance would have caught)
        self.colour = QColor(MODES["listening"][1])
        self.setMinimumSize(120, 10)

    def push(self, pcm: np.ndarray) -> None:
        """An int16 chunk: the meter jumps up to its level and falls back smoothly."""
        if len(pcm) == 0:
            return
        rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) / 32768.0
        db = 20.0 * np.log10(max(rms, 1e-6))
        target = min(1.0, max(0.0, (db + FULL_SCALE_DB) / FULL_SCALE_DB))
        self.level = target if target > self.level else self.level * 0.7 + target * 0.3
        self.peak = max(self.peak, self.level)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2a3040"))
        rect = QRectF(self.rect())
        painter.drawRoundedRect(rect, 4, 4)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(QRectF(0, 0, rect.width() * self.level, rect.height()), 4, 4)
        painter.end()


class Overlay(QWidget):
    stop_requested = Signal()

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setObjectName("overlay")
        self.setWindowTitle("Parley")
        self.setStyleSheet("#overlay { background: #161a22; border: 1px solid #3a4256; border-radius: 10px; } "
                           "QLabel { color: #e6e9ef; font-weight: 600; } "
                           "QPushButton { background: #8a3b3b; color: #ffffff; border: none; border-radius: 6px; "
                           "padding: 4px 12px; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 10, 8)
        self.label = QLabel(self)
        self.label.setMinimumWidth(90)
        self.meter = LevelMeter(self)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stop_button.clicked.connect(self.stop_requested)
        layout.addWidget(self.label)
        layout.addWidget(self.meter, 1)
        layout.addWidget(self.stop_button)
        self.resize(340, 46)
        self.mode = ""
        self.set_mode("listening")

    def set_mode(self, mode: str) -> None:
        text, colour = MODES[mode]
        self.mode = mode
        self.label.setText(text)
        self.meter.colour = QColor(colour)
        self.meter.level = self.meter.peak = 0.0
        self.stop_button.setVisible(mode != "listening")  # there is nothing to stop while the user talks
        self.meter.update()

    def show_near_edge(self) -> None:
        """Bottom centre of the screen under the mouse (where the user is working), above the panel."""
        screen = QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.center().x() - self.width() // 2, area.bottom() - self.height() - 32)
        self.show()

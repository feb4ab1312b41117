"""The main window."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from desktop.app.controller import Controller


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("Parley")
        self.resize(720, 560)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.status_label = QLabel("Starting…", central)
        layout.addWidget(self.status_label)
        self.setCentralWidget(central)
        controller.status_changed.connect(self.status_label.setText)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)

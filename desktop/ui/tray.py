"""The system tray icon: Parley's state at a glance (idle, listening, thinking, speaking, offline) and a menu to
show or hide the window, switch push-to-talk / hands-free, mute the microphone, start a new conversation or quit.

A thin view: it draws what it is told and emits what the user picked; the window wires it to the controller.
Where no tray exists (some GNOME setups, the offscreen platform) the menu still exists and works, it is just not
on screen, and `available()` says so, so the window never hides itself into a tray nobody can open.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

STATES = {  # state: (colour, tooltip)
    "idle": ("#66bb6a", "ready: hold the talk key"),
    "listening": ("#42a5f5", "listening…"),
    "thinking": ("#ffca28", "thinking…"),
    "speaking": ("#ab47bc", "speaking"),
    "offline": ("#90a4ae", "offline"),
}
LINK_STATES = ("connecting", "reconnecting", "error")  # turn states that mean "not connected"
TRAY_MODES = (("push_to_talk", "Push-to-talk"), ("server_vad", "Hands-free"))


def tray_state(turn_state: str) -> str:
    """The controller's turn state as one of the five the tray shows."""
    return "offline" if turn_state in LINK_STATES or turn_state not in STATES else turn_state


def state_icon(state: str, size: int = 64, muted: bool = False) -> QIcon:
    """A round badge in the state's colour with a microphone drawn in it (struck through when muted)."""
    colour = QColor(STATES[state][0])
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(QRectF(2, 2, size - 4, size - 4))
    s = size / 64
    white = QPen(QColor("#ffffff"), 4 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(white)
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(QRectF(26 * s, 14 * s, 12 * s, 22 * s), 6 * s, 6 * s)  # the capsule
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(QRectF(20 * s, 22 * s, 24 * s, 20 * s), 180 * 16, 180 * 16)  # the holder
    painter.drawLine(QPointF(32 * s, 42 * s), QPointF(32 * s, 49 * s))
    if muted:
        painter.setPen(QPen(QColor("#c62828"), 6 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(16 * s, 16 * s), QPointF(48 * s, 48 * s))
    painter.end()
    return QIcon(pixmap)


class Tray(QObject):
    show_hide_requested = Signal()
    mode_requested = Signal(str)
    mute_requested = Signal(bool)
    new_conversation_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = "offline"
        self.muted = False
        self.menu = QMenu(parent)
        self.menu.setObjectName("tray_menu")
        self.status_action = self.menu.addAction("Parley: offline")
        self.status_action.setEnabled(False)
        self.menu.addSeparator()
        self.show_action = self.menu.addAction("Hide Parley")
        self.show_action.triggered.connect(self.show_hide_requested)
        self.mode_group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for mode, label in TRAY_MODES:
            action = self.menu.addAction(label)
            action.setCheckable(True)
            action.setData(mode)
            self.mode_group.addAction(action)
            action.triggered.connect(lambda _checked=False, m=mode: self.mode_requested.emit(m))
            self.mode_actions[mode] = action
        self.mute_action = self.menu.addAction("Mute microphone")
        self.mute_action.setCheckable(True)
        self.mute_action.toggled.connect(self.mute_requested)
        self.new_action = self.menu.addAction("New conversation")
        self.new_action.triggered.connect(self.new_conversation_requested)
        self.menu.addSeparator()
        self.quit_action = self.menu.addAction("Quit Parley")
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon = QSystemTrayIcon(self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self._icons: dict[tuple[str, bool], QIcon] = {}
        self.show_state("offline")

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        if self.available():
            self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_turn_state(self, turn_state: str) -> None:
        self.show_state(tray_state(turn_state))

    def show_state(self, state: str) -> None:
        self.state = state
        key = (state, self.muted)
        if key not in self._icons:  # drawn once per state: state changes come several times a turn
            self._icons[key] = state_icon(state, muted=self.muted)
        self.icon.setIcon(self._icons[key])
        self.status_action.setIcon(self._icons[key])
        text = f"Parley: {STATES[state][1]}" + (" (microphone muted)" if self.muted else "")
        self.icon.setToolTip(text)
        self.status_action.setText(text)

    def set_window_visible(self, visible: bool) -> None:
        self.show_action.setText("Hide Parley" if visible else "Show Parley")

    def set_mode(self, mode: str) -> None:
        action = self.mode_actions.get("push_to_talk" if mode == "push_to_talk" else "server_vad")
        if action is not None:
            action.setChecked(True)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(muted)
        self.mute_action.blockSignals(False)
        self.show_state(self.state)

    def message(self, title: str, body: str) -> None:
        """A balloon from the tray icon (where freedesktop notifications are not available)."""
        if self.available():
            self.icon.showMessage(title, body, self._icons[(self.state, self.muted)], 8000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_hide_requested.emit()

"""The main window: a thin view over the controller's signals. It owns no protocol or audio logic; it forwards what
the user does (hold Talk, Stop, switch mode, type) and draws what the controller reports."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.app.controller import Controller
from desktop.ui.approval_card import ApprovalTray
from desktop.ui.desktop_shell import DesktopShell
from desktop.ui.global_talk import GlobalTalkKey
from desktop.ui.hold_key import HoldKey, should_handle
from desktop.ui.link_bar import LinkBar
from desktop.ui.settings_dialog import ConnectionPage, SettingsDialog
from desktop.ui.timers_panel import TimersPanel
from desktop.ui.transcript_view import TranscriptView
from desktop.ui.waveform import WaveformView

if TYPE_CHECKING:
    from desktop.app.history_recorder import HistoryRecorder

MODES = (("push_to_talk", "Push-to-talk"), ("server_vad", "Hands-free"), ("semantic_vad", "Hands-free (semantic)"))
WINDOW_BACKGROUND = "#161a22"
STYLE = """
QMainWindow { background: @window; }
QLabel { color: #d8dee9; }
QLabel#connection { font-weight: 600; }
QFrame#banner { background: #5c2b2b; border-radius: 6px; }
QFrame#banner QLabel { color: #ffe0e0; }
QPushButton { background: #2a3040; color: #e6e9ef; border: 1px solid #3a4256; border-radius: 6px; padding: 6px 12px; }
QPushButton:disabled { color: #6b7385; }
QPushButton#talk { background: #2e7d5b; font-size: 16px; font-weight: 600; padding: 14px 28px; border: none; }
QPushButton#talk:pressed, QPushButton#talk[talking="true"] { background: #43a97a; }
QPushButton#talk:disabled { background: #2a3040; }
QPushButton#stop { background: #8a3b3b; border: none; }
QPushButton#stop:disabled { background: #2a3040; }
QDialog { background: @window; }
QTabWidget::pane { background: #1b202b; border: 1px solid #3a4256; border-radius: 4px; }
QTabWidget > QStackedWidget > QWidget { background: #1b202b; }
QTabBar::tab { background: #1f2430; color: #b8c0d0; padding: 6px 14px; border: 1px solid #3a4256; }
QTabBar::tab:selected { background: #2a3040; color: #ffffff; }
QCheckBox { color: #d8dee9; }
QSpinBox, QDoubleSpinBox, QPlainTextEdit { background: #1f2430; color: #e6e9ef; border: 1px solid #3a4256;
    border-radius: 6px; padding: 4px; }
QLineEdit, QComboBox { background: #1f2430; color: #e6e9ef; border: 1px solid #3a4256; border-radius: 6px;
    padding: 5px; }
""".replace("@window", WINDOW_BACKGROUND)


class MainWindow(QMainWindow):
    closed = Signal()
    new_conversation_requested = Signal()  # the tray's "New conversation"; the history feature handles it

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("Parley")
        self.resize(760, 600)
        self.setStyleSheet(STYLE)
        central = QWidget(self)
        layout = QVBoxLayout(central)

        status = self.status_row = QHBoxLayout()
        self.connection_label = QLabel("● Starting…", central)
        self.connection_label.setObjectName("connection")
        self.turn_label = QLabel("", central)
        self.turn_label.setObjectName("turn")
        self.cost_label = QLabel("$0.000", central)
        self.cost_label.setObjectName("cost")
        self.cost_label.setToolTip("Session cost so far, from the usage the server reports (list prices).")
        self.settings_button = QPushButton("Settings", central)
        status.addWidget(self.connection_label)
        status.addStretch(1)
        status.addWidget(self.turn_label)
        status.addSpacing(16)
        status.addWidget(self.cost_label)
        status.addWidget(self.settings_button)
        layout.addLayout(status)
        self.link_bar = LinkBar(central)
        layout.addWidget(self.link_bar)

        self.banner = QFrame(central)
        self.banner.setObjectName("banner")
        banner_row = QHBoxLayout(self.banner)
        self.banner_text = QLabel(self.banner)
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QPushButton("Dismiss", self.banner)
        dismiss.clicked.connect(self.banner.hide)
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(dismiss)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.transcript = TranscriptView(central)
        layout.addWidget(self.transcript, 1)
        self.approvals = ApprovalTray(central)  # asks before a tool with side effects runs
        layout.addWidget(self.approvals)
        self.timers_panel = TimersPanel(controller.timers, central)
        layout.addWidget(self.timers_panel)
        self.waveform = WaveformView(central)
        self.waveform.setMinimumHeight(110)
        self.waveform.set_surround(QColor(WINDOW_BACKGROUND))
        layout.addWidget(self.waveform)

        self.text_input = QLineEdit(central)
        self.text_input.setPlaceholderText("Type a message and press Enter (or hold Space outside this field to talk)")
        self.text_input.returnPressed.connect(self._send_text)
        layout.addWidget(self.text_input)

        controls = QHBoxLayout()
        self.mode_box = QComboBox(central)
        for value, label in MODES:
            self.mode_box.addItem(label, value)
        self.mode_box.setToolTip("Push-to-talk: hold Talk (or the hotkey). Hands-free: just speak.")
        self.talk_button = QPushButton("Hold to talk", central)
        self.talk_button.setObjectName("talk")
        self.talk_button.setMinimumHeight(56)
        self.stop_button = QPushButton("Stop", central)
        self.stop_button.setObjectName("stop")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Stop the reply now; the model is told how much you heard.")
        controls.addWidget(self.mode_box)
        controls.addWidget(self.talk_button, 1)
        controls.addWidget(self.stop_button)
        layout.addLayout(controls)
        self.setCentralWidget(central)

        self.shell = DesktopShell(self, controller)
        self.shell.new_conversation_requested.connect(self.new_conversation_requested)
        mic = self.shell.mute  # every talk press goes through it: muting covers them all
        self.hold_key = HoldKey(controller.settings.get("hotkey"), self)
        self.hold_key.pressed.connect(mic.press)
        self.hold_key.released.connect(mic.release)
        self.talk_button.pressed.connect(self._talk_pressed)
        self.talk_button.released.connect(self._talk_released)
        self.stop_button.clicked.connect(controller.stop_reply)
        self.settings_button.clicked.connect(self.open_settings)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        self.settings_dialog: SettingsDialog | None = None
        self.endpoint: tuple[str, str] | None = None  # where the app talks, in words, and the URL
        self.global_talk = GlobalTalkKey(parent=self)
        self.global_talk.pressed.connect(mic.press)
        self.global_talk.released.connect(mic.release)
        self.global_talk.problem.connect(self.show_error)
        self.global_talk.status_changed.connect(self._global_status_changed)
        self._wire(controller)
        self._select_mode(controller.turn_mode())
        self._apply_hotkeys()
        if controller.settings.get("start_at_login"):
            _spawn(controller, self.shell.sync_autostart())
        self._watch_keys(self)

    def _wire(self, c: Controller) -> None:
        c.connection_changed.connect(self.show_connection)
        c.endpoint_changed.connect(self.show_endpoint)
        c.turn_state_changed.connect(self.show_turn_state)
        c.transcript_updated.connect(self.transcript.add_or_update)
        c.transcript_truncated.connect(self.transcript.mark_truncated)
        c.tool_call.connect(self.transcript.add_tool_call)
        c.notice.connect(self.transcript.add_notice)
        c.timers.alerted.connect(lambda title, body: self.transcript.add_notice(f"{title}: {body}"))
        tools, note = c.tools, self.transcript.set_tool_note
        tools.approval_requested.connect(self.approvals.show_request)
        tools.approval_requested.connect(self.shell.approval_while_hidden)
        c.timers.notify = self.shell.notifier.notify
        tools.approval_requested.connect(lambda request: note(request.call_id, "waiting for your approval"))
        tools.approval_finished.connect(self.approvals.close_request)
        tools.approval_finished.connect(lambda call_id, _outcome: note(call_id))
        self.approvals.answered.connect(tools.answer)
        c.cost_changed.connect(self.show_cost)
        c.link_changed.connect(self.link_bar.show_status)
        self.link_bar.retry.connect(c.retry_now)
        c.error.connect(self.show_error)
        c.mic_samples.connect(self.waveform.push_mic)
        c.assistant_samples.connect(self.waveform.push_assistant)
        c.talk_availability.connect(self.set_talk_available)
        c.mode_changed.connect(self._select_mode)

    # --- controller -> view

    def show_connection(self, state: str, detail: str) -> None:
        colours = {"connected": "#66bb6a", "connecting": "#ffca28", "reconnecting": "#ffca28", "error": "#ef5350",
                   "offline": "#90a4ae"}
        colour = colours.get(state, "#90a4ae")
        self.connection_label.setText(f"<span style='color:{colour}'>●</span> {detail or state.capitalize()}")

    def show_endpoint(self, title: str, url: str) -> None:
        """The status line says where in words (show_connection); the URL is in its tooltip and in Settings."""
        self.endpoint = (title, url)
        self.connection_label.setToolTip(f"{title}\n{url}")
        if self.settings_dialog is not None:
            self.settings_dialog.page(ConnectionPage).show_endpoint(title, url)

    def show_turn_state(self, state: str) -> None:
        labels = {"idle": "Ready", "listening": "Listening…", "thinking": "Thinking…", "speaking": "Speaking",
                  "connecting": "", "reconnecting": "", "error": ""}
        self.turn_label.setText(labels.get(state, state))
        self.stop_button.setEnabled(state in ("thinking", "speaking"))
        self.talk_button.setProperty("talking", state == "listening")
        self.talk_button.style().unpolish(self.talk_button)
        self.talk_button.style().polish(self.talk_button)

    def show_cost(self, meter: str, detail: str, _cost_usd: float | None = None) -> None:
        self.cost_label.setText(meter)
        self.cost_label.setToolTip(detail)

    def show_error(self, message: str, advice: str) -> None:
        self.banner_text.setText(f"<b>{_escape(message)}</b><br>{_escape(advice)}" if advice else _escape(message))
        self.banner.show()

    def set_talk_available(self, available: bool, reason: str) -> None:
        self.talk_button.setEnabled(available)
        self.talk_button.setToolTip("" if available else reason)

    def attach_history(self, recorder: HistoryRecorder) -> None:
        """The History button, Ctrl+N and the transcript following conversation switches."""
        from desktop.ui.history_view import HistoryControls

        self.history = HistoryControls(self, recorder)
        self.new_conversation_requested.connect(self.history.new_conversation)

    # --- settings

    def open_settings(self) -> SettingsDialog:
        """Opens the dialog without a nested event loop (exec() would stall the qasync loop's sockets)."""
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return self.settings_dialog
        c = self.controller
        dialog = SettingsDialog(c.settings, c.keys, list_devices=_device_names, rescan=c.rescan_audio,
                                global_status=self.global_talk.status, tools=c.tools, parent=self)
        if self.endpoint is not None:
            dialog.page(ConnectionPage).show_endpoint(*self.endpoint)
        _spawn(c, self.global_talk.probe())
        dialog.accepted.connect(self._settings_saved)
        dialog.finished.connect(self._settings_closed)
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def _settings_saved(self) -> None:
        self._apply_hotkeys()
        _spawn(self.controller, self.shell.sync_autostart())
        self.controller.spawn(self.controller.apply_settings())

    def _settings_closed(self) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()
        self.settings_dialog = None

    def _apply_hotkeys(self) -> None:
        settings = self.controller.settings
        self.hold_key.set_key(settings.get("hotkey"))
        wanted = bool(settings.get("global_hotkey_enabled") or self.controller.options.global_hotkey)
        if wanted or self.global_talk.mechanism != "off":
            _spawn(self.controller, self.global_talk.apply(wanted, settings.get("global_hotkey")))

    def _global_status_changed(self, usable: bool, text: str) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.show_global_status(usable, text)

    # --- view -> controller

    def _talk_pressed(self) -> None:
        self.shell.mute.press()

    def _talk_released(self) -> None:
        self.shell.mute.release()

    def _send_text(self) -> None:
        text = self.text_input.text().strip()
        if text:
            self.controller.send_text(text)
            self.text_input.clear()

    def _mode_changed(self, index: int) -> None:
        self.controller.set_turn_mode(self.mode_box.itemData(index))

    def _select_mode(self, mode: str) -> None:
        index = self.mode_box.findData(mode)
        if index >= 0 and index != self.mode_box.currentIndex():
            self.mode_box.blockSignals(True)
            self.mode_box.setCurrentIndex(index)
            self.mode_box.blockSignals(False)

    def changeEvent(self, event: QEvent) -> None:
        """A key released while another window had focus never reaches us: end the turn when focus leaves. Focus
        arriving means the user may talk soon: wake a resting microphone so its pre-roll is ready."""
        if event.type() == QEvent.Type.ActivationChange:
            if self.isActiveWindow():
                self.controller.wake_audio()
            else:
                self.hold_key.release_now()
        super().changeEvent(event)

    def _watch_keys(self, root: QWidget) -> None:
        """The filter sits on this window's widgets, not on the application: an application filter is a Python
        call for every event of the process, hundreds a second from the event loop's timers alone."""
        for widget in (root, *root.findChildren(QWidget)):
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Sees key events before the focused widget, so Space talks from anywhere in the window except a text
        field (where Space types a space)."""
        kind = event.type()
        if kind == QEvent.Type.ChildAdded:
            child = event.child()  # type: ignore[attr-defined]
            if isinstance(child, QWidget) and not child.isWindow():
                self._watch_keys(child)
        elif kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.isActiveWindow():
            assert isinstance(event, QKeyEvent)
            if should_handle(QApplication.focusWidget()):
                if event.type() == QEvent.Type.KeyPress:
                    return self.hold_key.key_press(event)
                return self.hold_key.key_release(event)
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.shell.close_requested():  # hidden to the tray, still running
            event.ignore()
            return
        self.shell.stop()
        self.global_talk.stop()
        self.closed.emit()
        super().closeEvent(event)


def _escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _spawn(controller: Controller, job: Coroutine[Any, Any, Any]) -> None:
    """Runs an async job on the controller when a loop runs (a window built outside one, as in some tests and
    screenshots, just skips it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        job.close()
        return
    controller.spawn(job)


def _device_names(kind: str) -> list[str]:
    try:
        from desktop.audio.devices import list_devices

        return [info.name for info in list_devices(kind)]  # type: ignore[arg-type]
    except Exception:  # no PortAudio or no audio server: the dialog offers the system default only
        return []

"""The window's life beside the desktop: the tray icon, muting, closing to the tray and starting hidden.

The window builds one shell and routes three things through it: every hold-to-talk press (so muting covers the
key, the button and the global key alike), its close event (which may only hide it) and its first show.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from desktop.app.autostart import Autostart
from desktop.app.controller import Controller
from desktop.app.earcons import Earcons
from desktop.app.mic_mute import MicMute
from desktop.app.notifications import Notifier
from desktop.app.resources import resource_path
from desktop.tools.approvals import ApprovalRequest
from desktop.ui.overlay import MODES, Overlay
from desktop.ui.tray import Tray

CLOSE_NOTICE = ("Parley is still running in the tray, ready for the global talk key. Quit it from the tray "
                "menu; Settings → Desktop turns this off.")


class DesktopShell(QObject):
    new_conversation_requested = Signal()
    quit_requested = Signal()  # the window then closes for real
    message = Signal(str, str)  # title, body: a one-time notice for the notifier or the tray's balloon

    def __init__(self, window: QWidget, controller: Controller) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.quitting = False
        self.mute = MicMute(controller, self)
        self.tray = Tray(window)
        t = self.tray
        controller.turn_state_changed.connect(t.show_turn_state)
        controller.mode_changed.connect(t.set_mode)
        t.mode_requested.connect(controller.set_turn_mode)
        t.mute_requested.connect(self.mute.set_muted)
        self.mute.changed.connect(t.set_muted)
        t.show_hide_requested.connect(self.toggle_window)
        t.new_conversation_requested.connect(self.new_conversation_requested)
        t.quit_requested.connect(self.quit)
        t.set_mode(controller.turn_mode())
        self.notifier = Notifier(fallback=t.message, parent=self)  # timers and approvals notify through it too
        self.notifier.activated.connect(lambda _action: self.show_window())
        self.message.connect(self.notifier.notify)
        controller.error.connect(self._error_while_hidden)
        self.overlay: Overlay | None = None  # built on first need
        self._overlay_fed = False
        self._turn_state = controller.turn_state
        controller.turn_state_changed.connect(self._update_overlay)
        self.earcons = Earcons()
        self._cue_state = controller.turn_state
        controller.turn_state_changed.connect(self._cue)
        window.installEventFilter(self)
        t.show()

    # --- the window

    def first_show(self) -> None:
        """Shows the window unless the user asked to start hidden and a tray exists to bring it back."""
        if self.controller.settings.get("start_hidden") and self.tray.available():
            self.tray.set_window_visible(False)
            return
        self.window.show()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def show_window(self) -> None:
        self.window.showNormal()
        if QGuiApplication.platformName() != "offscreen":  # which cannot raise (and warns)
            self.window.raise_()
        self.window.activateWindow()

    def quit(self) -> None:
        self.quitting = True
        self.quit_requested.emit()
        self.window.close()

    def close_requested(self) -> bool:
        """True when closing the window should only hide it: the setting is on and a tray can bring it back."""
        settings = self.controller.settings
        if self.quitting or not settings.get("close_to_tray") or not self.tray.available():
            return False
        self.window.hide()
        if not settings.get("tray_notice_shown"):
            settings.set("tray_notice_shown", True)
            self.message.emit("Parley is still running", CLOSE_NOTICE)
        return True

    async def sync_autostart(self) -> None:
        """Makes the start-at-login entry match the setting, pointing at this install (rewritten at each start,
        so a moved install is followed). File work runs off the GUI thread."""
        wanted = bool(self.controller.settings.get("start_at_login"))
        autostart = Autostart()
        icon = resource_path("icons/parley-256.png")
        try:
            if wanted or await asyncio.to_thread(autostart.is_enabled):
                await asyncio.to_thread(autostart.set_enabled, wanted, None, str(icon) if icon.exists() else "parley")
        except OSError as exc:
            self.controller.error.emit("Start at login could not be changed.", f"{autostart.location()}: {exc}")

    def stop(self) -> None:
        """The window closes for real: nothing of the shell may come back (its hide must not show the overlay)."""
        self.quitting = True
        self.tray.hide()
        self.notifier.close()
        if self.overlay is not None:
            self._feed_overlay(False)
            self.overlay.close()
            self.overlay.deleteLater()
            self.overlay = None

    def approval_while_hidden(self, request: ApprovalRequest) -> None:
        """A tool waits for the user's yes or no: with the window hidden, say so on the desktop (its button
        opens the window, where the card has the focus)."""
        if not self.window.isVisible():
            where = "" if request.source == "builtin" else f" ({request.source})"
            self.notifier.notify("A tool is waiting for your approval", f"{request.title}{where}", "Review")

    def _error_while_hidden(self, message: str, advice: str) -> None:
        if not self.window.isVisible():  # the banner would go unseen: talking stopped, say so on the desktop
            self.notifier.notify(message, advice)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.tray.set_window_visible(event.type() == QEvent.Type.Show)
            self._update_overlay(self._turn_state)
        return False

    def _cue(self, state: str) -> None:
        """Earcons (a setting): a rising chirp as listening starts, a falling one as it ends."""
        previous, self._cue_state = self._cue_state, state
        if state == previous or not self.controller.settings.get("earcons"):
            return
        if state == "listening":
            self.earcons.play("start")
        elif previous == "listening":
            self.earcons.play("stop")

    # --- the overlay: while hidden, say that Parley listens or speaks

    def _update_overlay(self, state: str) -> None:
        self._turn_state = state
        wanted = state in MODES and not self.window.isVisible() and not self.quitting
        if wanted and self.overlay is None:
            self.overlay = Overlay()
            self.overlay.stop_requested.connect(self.controller.stop_reply)
        overlay = self.overlay
        if overlay is None:
            return
        if wanted:
            overlay.set_mode(state)
            if not overlay.isVisible():
                overlay.show_near_edge()
        else:
            overlay.hide()
        self._feed_overlay(wanted)

    def _feed_overlay(self, on: bool) -> None:
        """The meter gets samples only while shown: hidden and resting, Parley does no work for it."""
        if on == self._overlay_fed or self.overlay is None:
            return
        self._overlay_fed = on
        c, meter = self.controller, self.overlay.meter
        for signal in (c.mic_samples, c.assistant_samples):
            if on:
                signal.connect(meter.push)
            else:
                signal.disconnect(meter.push)

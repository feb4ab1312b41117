"""Muting the microphone from the tray: while muted Parley hears nothing at all.

Every hold-to-talk source (the window's key and button, the global key) goes through `press()`/`release()`, which
drop a press while muted and say why once per press. Hands-free listens without a press, so muting it switches to
push-to-talk for the duration (the microphone then rests, which also turns off the system's microphone
indicator) and unmuting restores the mode the user had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from desktop.app.controller import Controller

MUTED_NOTICE = "The microphone is muted: unmute it from the tray menu to talk."


class MicMute(QObject):
    changed = Signal(bool)

    def __init__(self, controller: Controller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._muted = False
        self._mode_before: str | None = None

    @property
    def muted(self) -> bool:
        return self._muted

    def press(self) -> None:
        if self._muted:
            self._controller.notice.emit(MUTED_NOTICE)
            return
        self._controller.press_talk()

    def release(self) -> None:
        self._controller.release_talk()

    def set_muted(self, muted: bool) -> None:
        if muted == self._muted:
            return
        self._muted = muted
        c = self._controller
        if muted:
            c.release_talk()  # a turn held while muting ends here
            if c.hands_free:
                self._mode_before = c.turn_mode()
                c.set_turn_mode("push_to_talk")
        elif self._mode_before is not None:
            mode, self._mode_before = self._mode_before, None
            c.set_turn_mode(mode)
        self.changed.emit(muted)

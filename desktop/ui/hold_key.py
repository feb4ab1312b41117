"""Hold-to-talk from a key in the window: one `pressed` when the key goes down, one `released` when it is up.

Contract with the window: it forwards its key events (`key_press(event)` / `key_release(event)`, which return
True when they consumed the event) and does NOT forward them while a text field has focus — `should_handle()`
says which focus widgets are text fields, so Space still types a space there.

Auto-repeat is the hard part. Qt flags most repeats with `isAutoRepeat()`, but on X11 its detection is a
heuristic and some repeats arrive as real release+press pairs; trusting the flag alone ends a turn
mid-sentence and starts a new one. So a release is held back for a short grace period, and a press arriving
within it proves the release was a repeat and cancels it.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

DEFAULT_KEY = "Space"
RELEASE_GRACE_MS = 50  # X11 sends a repeat's release and press back to back; a real release is not followed


def should_handle(focus_widget: QWidget | None) -> bool:
    """False when the focused widget takes typed text: the hold key must type there, not talk.

    Read-only text views (the transcript) do not take text, so the key talks from them too."""
    if focus_widget is None:
        return True
    if isinstance(focus_widget, (QLineEdit, QAbstractSpinBox)):
        return False
    if isinstance(focus_widget, (QTextEdit, QPlainTextEdit)):
        return focus_widget.isReadOnly()
    if isinstance(focus_widget, QComboBox):
        return not focus_widget.isEditable()
    return True


class HoldFilter(QObject):
    """Turns a noisy stream of key-down/key-up notices into one press and one release per hold.

    Shared by the in-window key and the global hotkey (whose X11 listener sees the same repeat pairs)."""

    pressed = Signal()
    released = Signal()

    def __init__(self, grace_ms: int = RELEASE_GRACE_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._held = False
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(grace_ms)
        self._grace.timeout.connect(self._finish_release)

    def down(self) -> None:
        if self._grace.isActive():
            self._grace.stop()  # the release we were holding back was a repeat
            return
        if not self._held:
            self._held = True
            self.pressed.emit()

    def up(self) -> None:
        if self._held and not self._grace.isActive():
            self._grace.start()

    def release_now(self) -> None:
        """End a hold without waiting (focus lost, listener stopped): the key-up may never arrive."""
        self._grace.stop()
        self._finish_release()

    def is_held(self) -> bool:
        return self._held

    def _finish_release(self) -> None:
        if self._held:
            self._held = False
            self.released.emit()


class HoldKey(QObject):
    """The window's hold-to-talk key. Emits `pressed` once per hold and `released` once when it ends.

    The window should call `release_now()` when it loses focus, since the key-up then goes elsewhere."""

    pressed = Signal()
    released = Signal()

    def __init__(self, key: str = DEFAULT_KEY, parent: QObject | None = None,
                 grace_ms: int = RELEASE_GRACE_MS) -> None:
        super().__init__(parent)
        self._filter = HoldFilter(grace_ms, self)
        self._filter.pressed.connect(self.pressed)
        self._filter.released.connect(self.released)
        self._key: Qt.Key | None = None
        self._modifiers = Qt.KeyboardModifier.NoModifier
        self.set_key(key)

    def set_key(self, key: str) -> None:
        """A QKeySequence string ("Space", "F8", "Ctrl+Space"); an empty or unknown one disables the key."""
        self._filter.release_now()
        sequence = QKeySequence(key)
        if sequence.isEmpty() or sequence[0].key() == Qt.Key.Key_unknown:  # type: ignore[index]
            self._key = None
            return
        combination = sequence[0]  # type: ignore[index]
        self._key = combination.key()
        self._modifiers = combination.keyboardModifiers()

    def key(self) -> str:
        if self._key is None:
            return ""
        return QKeySequence(self._modifiers | self._key).toString()

    def key_press(self, event: QKeyEvent) -> bool:
        if not self._matches(event, check_modifiers=not self._filter.is_held()):
            return False
        if not event.isAutoRepeat():
            self._filter.down()
        return True

    def key_release(self, event: QKeyEvent) -> bool:
        # Modifiers are not checked on release: letting go of Ctrl first must still end the hold.
        if not self._matches(event, check_modifiers=False):
            return False
        if not event.isAutoRepeat():
            self._filter.up()
        return True

    def release_now(self) -> None:
        self._filter.release_now()

    def is_held(self) -> bool:
        return self._filter.is_held()

    def _matches(self, event: QKeyEvent, check_modifiers: bool) -> bool:
        if self._key is None or event.key() != self._key:
            return False
        if not check_modifiers:
            return True
        relevant = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return relevant == self._modifiers

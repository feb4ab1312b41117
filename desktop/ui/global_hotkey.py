"""An optional hold-to-talk key that works while other applications have focus (pynput).

pynput listens on its own thread; its callbacks only emit a signal, which Qt queues to the GUI thread, where
the same repeat filter as the in-window key turns key-down/key-up notices into one press and one release per
hold (an X server auto-repeats a held key as extra presses, and sometimes as release+press pairs).

pynput cannot see keys on Wayland (only X clients' keys through XWayland), needs an X display on Linux, and on
macOS needs Input Monitoring permission, without which it hears nothing and says nothing. `availability()`
names the reason so the settings can show the real status instead of failing silently.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from desktop.ui.hold_key import RELEASE_GRACE_MS, HoldFilter

# Key names as Qt spells them (and a few common variants) mapped to pynput's Key attribute names.
_ALIASES = {
    "scrolllock": "scroll_lock", "capslock": "caps_lock", "numlock": "num_lock", "pageup": "page_up",
    "pgup": "page_up", "pagedown": "page_down", "pgdown": "page_down", "print": "print_screen",
    "printscreen": "print_screen", "escape": "esc", "return": "enter", "altgr": "alt_gr", "ins": "insert",
    "del": "delete", "rightctrl": "ctrl_r", "rctrl": "ctrl_r", "leftctrl": "ctrl_l", "rightalt": "alt_r",
    "rightshift": "shift_r", "leftshift": "shift_l", "meta": "cmd", "super": "cmd", "win": "cmd",
    "backspace": "backspace", "menu": "menu", "pause": "pause", "space": "space", "tab": "tab",
}

WAYLAND_REASON = "Wayland session: an X11 key listener cannot hear keys pressed in other apps here"
MACOS_NOTE = ("macOS: allow Parley under System Settings › Privacy & Security › Input Monitoring (and "
              "Accessibility); without it the key is silently ignored")


class GlobalHotkey(QObject):
    """`pressed` once when the key goes down anywhere on the desktop, `released` once when it comes up."""

    pressed = Signal()
    released = Signal()
    failed = Signal(str)  # the listener stopped on its own (display gone, permission missing)
    _raw = Signal(bool)  # emitted on pynput's thread; True = key down

    def __init__(self, parent: QObject | None = None, grace_ms: int = RELEASE_GRACE_MS) -> None:
        super().__init__(parent)
        self._filter = HoldFilter(grace_ms, self)
        self._filter.pressed.connect(self.pressed)
        self._filter.released.connect(self.released)
        self._raw.connect(self._on_raw, Qt.ConnectionType.QueuedConnection)
        self._listener: Any = None
        self._target: Any = None
        self._key = ""

    @staticmethod
    def availability() -> tuple[bool, str]:
        """(usable, reason). When usable the reason may still carry a note the user should read (macOS)."""
        if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
            session = os.environ.get("XDG_SESSION_TYPE", "").lower()
            if session == "wayland" or (os.environ.get("WAYLAND_DISPLAY") and session != "x11"):
                return False, WAYLAND_REASON
            if not os.environ.get("DISPLAY"):
                return False, "no X display (DISPLAY is not set), so there is no keyboard to listen to"
        if importlib.util.find_spec("pynput") is None:
            return False, "pynput is not installed (pip install pynput)"
        try:
            from pynput import keyboard  # noqa: F401  (the import itself connects to the display)
        except Exception as exc:  # pynput raises ImportError with the backend's reason
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return False, f"pynput cannot listen here: {first_line}"
        if sys.platform == "darwin":
            return True, MACOS_NOTE
        if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
            return _x_server_check()
        return True, ""

    def start(self, key: str) -> None:
        """Listen for `key` ("F9", "Pause", "ScrollLock", "a"...): a single key, since a hold of a chord is
        awkward. Raises RuntimeError (with the availability reason) or ValueError (unknown key)."""
        self.stop()
        usable, reason = self.availability()
        if not usable:
            raise RuntimeError(reason)
        from pynput import keyboard

        self._target = parse_key(key)
        self._key = key
        listener = keyboard.Listener(on_press=self._pynput_press, on_release=self._pynput_release)
        listener.daemon = True
        self._listener = listener
        listener.start()
        listener.wait()  # returns once the listener is hooked in, so a key pressed right after is seen
        if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            self.failed.emit(MACOS_NOTE)

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
            _wake_x_listener(listener)
            listener.join(1.0)
        self._filter.release_now()

    def is_running(self) -> bool:
        return self._listener is not None and self._listener.is_alive()

    def key(self) -> str:
        return self._key

    # --- pynput's thread: compare and hand over, nothing else

    def _pynput_press(self, key: Any) -> None:
        if self._is_target(key):
            self._raw.emit(True)

    def _pynput_release(self, key: Any) -> None:
        if self._is_target(key):
            self._raw.emit(False)

    def _is_target(self, key: Any) -> bool:
        listener = self._listener
        if key is None or self._target is None:
            return False
        if key == self._target:
            return True
        try:
            return listener is not None and listener.canonical(key) == self._target
        except Exception:
            return False

    # --- GUI thread

    def _on_raw(self, down: bool) -> None:
        if self._listener is None:
            return  # a notice queued before stop()
        if down:
            self._filter.down()
        else:
            self._filter.up()


def _wake_x_listener(listener: Any) -> None:
    """pynput's X listener asks its blocked RECORD connection to stop, a request only sent when the next key
    event wakes that connection, so the thread outlives stop(). Disabling the context from a connection of our
    own ends it at once (RECORD contexts are server-wide ids, so any client may do this)."""
    context = getattr(listener, "_context", None)
    if context is None or not (sys.platform.startswith("linux") or sys.platform.startswith("freebsd")):
        return
    try:
        from Xlib import display as xdisplay

        connection = xdisplay.Display()
        try:
            connection.record_disable_context(context)
            connection.flush()
        finally:
            connection.close()
    except Exception:
        pass  # best effort: the listener still ends at the next key event


def _x_server_check() -> tuple[bool, str]:
    """pynput's import may have connected to another display earlier in the process; check this one now, and
    that it has the RECORD extension pynput listens through."""
    try:
        from Xlib import display as xdisplay

        connection = xdisplay.Display()
    except Exception as exc:
        where = os.environ.get("DISPLAY")
        return False, f"pynput cannot listen here: cannot open X display {where!r} ({exc})"
    try:
        if not connection.has_extension("RECORD"):
            return False, "the X server lacks the RECORD extension that global hotkeys listen through"
    finally:
        connection.close()
    return True, ""


def parse_key(name: str) -> Any:
    """A pynput key for a Qt-style key name. Raises ValueError for chords or names pynput does not know."""
    from pynput import keyboard

    text = name.strip()
    if not text or ("+" in text and len(text) > 1):
        raise ValueError(f"global hotkey must be a single key, got {name!r}")
    if len(text) == 1:
        return keyboard.KeyCode.from_char(text.lower())
    normalised = text.lower().replace(" ", "").replace("_", "")
    attribute = _ALIASES.get(normalised, normalised)
    try:
        return keyboard.Key[attribute]
    except KeyError:
        raise ValueError(f"unknown global hotkey {name!r}") from None

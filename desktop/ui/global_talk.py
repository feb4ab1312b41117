"""The hold-to-talk key from any application: the desktop portal when the session bus offers GlobalShortcuts
(Wayland, and X11 desktops with a portal backend), else the X11/Windows/macOS key listener (pynput).

One object the window wires once: `pressed`/`released` drive the same turn a held Space does, `status()` is what
Settings → Hotkeys shows (the mechanism in use, or why none works), and `problem` carries a message for the
window's banner when the desktop refuses the key or its portal stops.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.ui.global_hotkey import GlobalHotkey

if TYPE_CHECKING:
    from desktop.app.portal_shortcuts import PortalShortcuts

log = logging.getLogger(__name__)

PORTAL_LABEL = "the desktop's GlobalShortcuts portal"
X11_LABEL = "the X11 key listener"


class GlobalTalkKey(QObject):
    pressed = Signal()
    released = Signal()
    status_changed = Signal(bool, str)  # usable, text for the Hotkeys page
    problem = Signal(str, str)  # message, advice for the window's banner

    def __init__(self, app_id: str = "parley", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._app_id = app_id
        self._portal: PortalShortcuts | None = None
        self._listener: GlobalHotkey | None = None
        self.mechanism = "off"  # "portal", "x11", "off" (not wanted) or "none" (wanted, nothing works)
        self._status = (True, "Not checked yet.")
        self._generation = 0  # a newer apply() supersedes one still waiting on the portal
        self._key = ""

    def status(self) -> tuple[bool, str]:
        return self._status

    async def probe(self) -> tuple[bool, str]:
        """Which mechanism would work, without binding anything: for the settings page. With the key on, the
        status apply() set already says what is active (or why not) and is kept."""
        if self.mechanism != "off":
            return self._status
        portal_ok, portal_reason = await self._probe_portal()
        if self.mechanism == "off" and self._portal is not None:
            self._portal.close()  # nothing to keep the connection open for
        if portal_ok:
            return self._set_status(True, f"Available through {PORTAL_LABEL}; the desktop may ask you to confirm "
                                    "the key when you turn it on.")
        usable, reason = GlobalHotkey.availability()
        if usable:
            return self._set_status(True, f"Available through {X11_LABEL} ({portal_reason}). {reason}".strip())
        return self._set_status(False, f"{portal_reason}; and {X11_LABEL} cannot work: {reason}")

    async def apply(self, enabled: bool, key: str) -> None:
        """Turns the global key on with `key` (re-binding when it changed), or off."""
        if enabled and self.mechanism == "portal" and key == self._key:
            return  # bound already: asking again would show some desktops' dialog (KDE) at every settings OK
        self._key = key
        self._generation += 1
        generation = self._generation
        if self._listener is not None:
            self._listener.stop()
        if not enabled:
            self.stop()
            self.mechanism = "off"
            return
        portal_ok, portal_reason = await self._probe_portal()
        if generation != self._generation:
            return
        if portal_ok and self._portal is not None:
            await self._bind_portal(key, generation)
            return
        usable, reason = GlobalHotkey.availability()
        if not usable:
            self.mechanism = "none"
            self._set_status(False, f"{portal_reason}; and {X11_LABEL} cannot work: {reason}")
            self.problem.emit("The global talk key is unavailable.", f"{portal_reason}; {reason}. Hold the key in "
                              "Parley's window instead.")
            return
        listener = self._x11_listener()
        try:
            listener.start(key)
        except (RuntimeError, ValueError) as exc:
            self.mechanism = "none"
            self._set_status(False, f"{X11_LABEL} failed: {exc}")
            self.problem.emit("The global talk key is unavailable.", str(exc))
            return
        self.mechanism = "x11"
        self._set_status(True, f"Active through {X11_LABEL} ({portal_reason}): hold {key} to talk. {reason}".strip())

    def stop(self) -> None:
        self._key = ""
        if self._portal is not None:
            self._portal.close()
        if self._listener is not None:
            self._listener.stop()
        if self.mechanism in ("portal", "x11"):
            self.mechanism = "off"

    # --- the portal

    async def _probe_portal(self) -> tuple[bool, str]:
        if not sys.platform.startswith("linux"):
            return False, "no desktop portal on this system"
        try:
            from desktop.app.portal_shortcuts import PortalShortcuts
        except ImportError as exc:  # dbus-fast missing from this install
            return False, f"the desktop portal cannot be used ({exc.name} is not installed)"
        if self._portal is None:
            self._portal = PortalShortcuts(self.pressed.emit, self.released.emit, self._portal_status,
                                           app_id=self._app_id)
        return await self._portal.probe()

    async def _bind_portal(self, key: str, generation: int) -> None:
        from desktop.app.autostart import ensure_launcher_entry
        from desktop.app.portal_shortcuts import PortalError
        from desktop.app.resources import resource_path

        assert self._portal is not None
        self._set_status(True, f"Asking {PORTAL_LABEL} for {key} (the desktop may show a dialog)…")
        icon = resource_path("icons/parley-256.png")
        try:
            # The portal accepts Parley's app id only with a parley.desktop installed (ours, if none is).
            await asyncio.to_thread(ensure_launcher_entry, str(icon) if icon.exists() else "parley")
        except OSError as exc:
            log.warning("could not install parley.desktop for the portal: %s", exc)
        try:
            binding = await self._portal.bind(key)
        except PortalError as exc:
            if generation != self._generation:
                return
            self._portal.close()
            self.mechanism = "none"
            self._set_status(True, f"{PORTAL_LABEL} refused the key: {exc}. Turn it off and on, or pick "
                             "another key, to ask again.")
            self.problem.emit("The desktop refused the global talk key.", f"{exc}. Settings → Hotkeys asks again.")
            return
        if generation != self._generation:
            return
        self.mechanism = "portal"
        self._set_status(True, f"Active through {PORTAL_LABEL}: hold {binding.trigger} to talk from any app.")

    def _portal_status(self, ok: bool, text: str) -> None:
        self.mechanism = "portal" if ok else "none"
        self._set_status(True, text)
        if not ok:
            self.problem.emit(text, "Hold the key in Parley's window meanwhile.")

    def _x11_listener(self) -> GlobalHotkey:
        if self._listener is None:
            self._listener = GlobalHotkey(self)
            self._listener.pressed.connect(self.pressed)
            self._listener.released.connect(self.released)
            self._listener.failed.connect(lambda reason: self.problem.emit("The global talk key stopped.", reason))
        return self._listener

    def _set_status(self, usable: bool, text: str) -> tuple[bool, str]:
        text = text[:1].upper() + text[1:]
        self._status = (usable, text)
        self.status_changed.emit(usable, text)
        return self._status

"""Global hold-to-talk through the XDG desktop portal's GlobalShortcuts interface (Wayland, and any desktop that
runs xdg-desktop-portal with a GlobalShortcuts backend). Qt-free: plain asyncio over dbus-fast, so it runs on
whatever loop is current (qasync in the app).

The portal's pattern: every method returns a Request object path at once and the result arrives later as
`org.freedesktop.portal.Request.Response(code, results)` on that path; Response, Activated and Deactivated are
only sent to the connection that made the calls, so one connection does everything. What real portals do beyond
the XML (see docs: the app id registry, both tokens, `session_handle` sent as a string) is followed here.

`Activated` is a press and `Deactivated` a release; some compositors repeat `Activated` while a key is held, so a
press while held is dropped. When the portal leaves the bus (restarted, crashed) a held key is released, the
owner is told, and the shortcut is bound again as soon as a portal is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
REGISTRY = "org.freedesktop.host.portal.Registry"
BUS_NAME = "org.freedesktop.DBus"
SHORTCUT_ID = "hold-to-talk"
DESCRIPTION = "Hold to talk to Parley"
_NOT_NEEDED = ("org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.UnknownInterface",
               "org.freedesktop.DBus.Error.UnknownObject")

# Qt key names (as the settings store them) to the XDG shortcuts spec's keysym names.
_KEYSYMS = {"space": "space", "scrolllock": "Scroll_Lock", "pause": "Pause", "capslock": "Caps_Lock",
            "numlock": "Num_Lock", "print": "Print", "insert": "Insert", "delete": "Delete", "home": "Home",
            "end": "End", "pageup": "Prior", "pagedown": "Next", "menu": "Menu", "tab": "Tab", "escape": "Escape",
            "return": "Return", "enter": "Return", "backspace": "BackSpace"}
_MODIFIERS = {"ctrl": "CTRL", "control": "CTRL", "alt": "ALT", "shift": "SHIFT", "meta": "LOGO", "super": "LOGO",
              "win": "LOGO"}


class PortalError(Exception):
    """A message for the user: why the portal cannot give Parley its key."""


@dataclass(frozen=True)
class Binding:
    shortcut_id: str
    preferred: str  # the trigger Parley asked for (spec syntax)
    trigger: str  # what the desktop says the key is (may differ: the user chooses in its dialog)


def preferred_trigger(key: str) -> str:
    """"F9" -> "F9", "ScrollLock" -> "Scroll_Lock", "Ctrl+Space" -> "CTRL+space", "a" -> "a"."""
    parts = [p.strip() for p in key.split("+") if p.strip()]
    if not parts:
        raise PortalError("the global talk key is empty")
    *mods, last = parts
    out = []
    for mod in mods:
        if mod.lower() not in _MODIFIERS:
            raise PortalError(f"unknown modifier {mod!r} in the global talk key {key!r}")
        out.append(_MODIFIERS[mod.lower()])
    name = last.lower().replace(" ", "").replace("_", "")
    if len(last) == 1:
        sym = last.lower()
    elif name in _KEYSYMS:
        sym = _KEYSYMS[name]
    elif name.startswith("f") and name[1:].isdigit():
        sym = f"F{int(name[1:])}"
    else:
        sym = last
    return "+".join([*out, sym])


def _token() -> str:
    return f"parley{secrets.token_hex(6)}"


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Variant) else value


class PortalShortcuts:
    """One hold-to-talk shortcut bound through the portal. Callbacks run on the event loop:
    `on_press()`, `on_release()`, `on_status(ok, message)` when the binding is lost or restored."""

    def __init__(self, on_press: Callable[[], None], on_release: Callable[[], None],
                 on_status: Callable[[bool, str], None], *, app_id: str = "parley",
                 bus_address: str | None = None, bind_timeout: float = 120.0) -> None:
        self._on_press = on_press
        self._on_release = on_release
        self._on_status = on_status
        self._app_id = app_id
        self._address = bus_address
        self._bind_timeout = bind_timeout  # BindShortcuts may wait on a dialog the user answers
        self._bus: MessageBus | None = None
        self._pending: dict[str, asyncio.Future[tuple[int, dict[str, Any]]]] = {}
        self._session: str | None = None
        self._registered_with: str | None = None  # the portal owner we registered our app id with
        self._owner: str | None = None
        self._key: str | None = None
        self._held = False
        self._rebind: asyncio.Task[None] | None = None
        self._description = DESCRIPTION
        self.binding: Binding | None = None

    # --- public

    async def probe(self) -> tuple[bool, str]:
        """(True, "") when the session bus has a portal with the GlobalShortcuts interface, else the reason."""
        try:
            bus = await self._connect()
            owner = await self._portal_owner(bus)
            if owner is None:
                return False, "no XDG desktop portal on the session bus"
            reply = await bus.call(Message(destination=PORTAL_NAME, path=PORTAL_PATH,
                                           interface="org.freedesktop.DBus.Introspectable", member="Introspect"))
        except PortalError as exc:
            return False, str(exc)
        except (OSError, EOFError) as exc:
            return False, f"the session bus cannot be reached ({exc})"
        if reply is None or reply.message_type == MessageType.ERROR:
            return False, "the desktop portal does not answer"
        if f'"{SHORTCUTS}"' not in str(reply.body[0]):
            return False, ("the desktop portal has no GlobalShortcuts interface (GNOME before 48 has none; "
                           "KDE Plasma 5.27+, GNOME 48+ and Hyprland have it)")
        return True, ""

    async def bind(self, key: str, description: str = DESCRIPTION) -> Binding:
        """Binds (or re-binds) the hold-to-talk shortcut. Raises PortalError with a message for the user."""
        self._key = key
        self._description = description
        return await self._bind()

    def close(self) -> None:
        """Drops the connection (the portal closes a session whose owner left the bus) and ends a held key."""
        if self._rebind is not None:
            self._rebind.cancel()
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()
        self._session = None
        self._key = None
        self._release()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    @property
    def held(self) -> bool:
        return self._held

    # --- the portal calls

    async def _bind(self) -> Binding:
        bus = await self._connect()
        self._owner = await self._portal_owner(bus)
        if self._owner is None:
            raise PortalError("no XDG desktop portal on the session bus")
        await self._register(bus)
        if self._session is not None:  # a key change: a fresh session, so the desktop sees the new request
            old, self._session = self._session, None
            bus.send(Message(destination=PORTAL_NAME, path=old, interface=SESSION, member="Close"))
        self._release()
        results = await self._request(bus, "CreateSession", "a{sv}",
                                      [{"session_handle_token": Variant("s", _token())}], timeout=20.0)
        session = str(_unwrap(results.get("session_handle", "")))  # 's' from real portals, 'o' in old XML
        if not session:
            raise PortalError("the desktop portal created no session")
        self._session = session
        preferred = preferred_trigger(self._key or "")
        shortcut = [SHORTCUT_ID, {"description": Variant("s", self._description),
                                  "preferred_trigger": Variant("s", preferred)}]
        results = await self._request(bus, "BindShortcuts", "oa(sa{sv})s", [session, [shortcut], ""],
                                      timeout=self._bind_timeout)
        bound = {sid: {k: _unwrap(v) for k, v in props.items()} for sid, props in _unwrap(results.get("shortcuts", []))}
        if SHORTCUT_ID not in bound:
            raise PortalError("the desktop did not bind the talk key (it was declined in the desktop's dialog)")
        trigger = str(bound[SHORTCUT_ID].get("trigger_description") or preferred)
        self.binding = Binding(SHORTCUT_ID, preferred, trigger)
        log.info("global talk key bound through the portal: asked %s, desktop says %s", preferred, trigger)
        return self.binding

    async def _request(self, bus: MessageBus, method: str, signature: str, body: list[Any],
                       timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """A portal method following the Request pattern: subscribe to the Response path, call, await it."""
        token = _token()
        sender = (bus.unique_name or "").lstrip(":").replace(".", "_")
        path = f"{PORTAL_PATH}/request/{sender}/{token}"
        future: asyncio.Future[tuple[int, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[path] = future
        options = {"handle_token": Variant("s", token)}
        if body and isinstance(body[-1], dict):
            body = [*body[:-1], {**body[-1], **options}]
        else:
            body = [*body, options]
            signature += "a{sv}"
        try:
            reply = await bus.call(Message(destination=PORTAL_NAME, path=PORTAL_PATH, interface=SHORTCUTS,
                                           member=method, signature=signature, body=body))
            if reply is None or reply.message_type == MessageType.ERROR:
                detail = reply.body[0] if reply is not None and reply.body else ""
                name = reply.error_name if reply is not None else "no reply"
                raise PortalError(f"the desktop portal refused {method}: {detail or name}")
            handle = str(reply.body[0])
            if handle != path:  # older portals pick their own path
                self._pending[handle] = self._pending.pop(path)
                path = handle
            try:
                code, results = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise PortalError(f"the desktop portal did not answer {method} within {timeout:.0f} s") from None
        finally:
            self._pending.pop(path, None)
        if code == 1:
            raise PortalError(f"{method} was cancelled in the desktop's dialog")
        if code != 0:
            raise PortalError(f"the desktop portal refused {method} (response {code})")
        return results

    async def _register(self, bus: MessageBus) -> None:
        """xdg-desktop-portal 1.21+ wants an unsandboxed app's id before anything else; older ones lack it."""
        if self._registered_with == self._owner:
            return
        reply = await bus.call(Message(destination=PORTAL_NAME, path=PORTAL_PATH, interface=REGISTRY,
                                       member="Register", signature="sa{sv}", body=[self._app_id, {}]))
        if reply is not None and reply.message_type == MessageType.ERROR and reply.error_name not in _NOT_NEEDED:
            detail = reply.body[0] if reply.body else reply.error_name
            raise PortalError(f"the desktop portal did not accept Parley's app id {self._app_id!r} ({detail}); it "
                              f"needs an installed {self._app_id}.desktop")
        self._registered_with = self._owner

    # --- the connection and its signals

    async def _connect(self) -> MessageBus:
        if self._bus is not None and self._bus.connected:
            return self._bus
        address = self._address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            raise PortalError("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        bus = await MessageBus(bus_address=address).connect()
        self._registered_with = None  # the portal knows app ids per connection
        bus.add_message_handler(self._on_message)
        for rule in (f"type='signal',interface='{REQUEST}',member='Response'",
                     f"type='signal',interface='{SHORTCUTS}'",
                     f"type='signal',interface='{SESSION}',member='Closed'",
                     f"type='signal',interface='{BUS_NAME}',member='NameOwnerChanged',arg0='{PORTAL_NAME}'"):
            await bus.call(Message(destination=BUS_NAME, path="/org/freedesktop/DBus", interface=BUS_NAME,
                                   member="AddMatch", signature="s", body=[rule]))
        self._bus = bus
        return bus

    @staticmethod
    async def _portal_owner(bus: MessageBus) -> str | None:
        reply = await bus.call(Message(destination=BUS_NAME, path="/org/freedesktop/DBus", interface=BUS_NAME,
                                       member="GetNameOwner", signature="s", body=[PORTAL_NAME]))
        if reply is None or reply.message_type == MessageType.ERROR:
            return None
        return str(reply.body[0])

    def _on_message(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL:
            return
        if msg.interface == REQUEST and msg.member == "Response":
            future = self._pending.get(msg.path or "")
            if future is not None and not future.done():
                future.set_result((int(msg.body[0]), dict(msg.body[1])))
        elif msg.interface == SHORTCUTS and msg.member == "ShortcutsChanged":
            self._shortcuts_changed(msg)
        elif msg.interface == SESSION and msg.member == "Closed" and msg.path == self._session:
            self._session = None
            self.binding = None
            self._release()
            self._on_status(False, "The desktop ended Parley's shortcut session: the global talk key is off. "
                            "Turn it off and on in Settings → Hotkeys to ask again.")
        elif msg.interface == SHORTCUTS and msg.member in ("Activated", "Deactivated"):
            if str(msg.body[0]) != self._session or msg.body[1] != SHORTCUT_ID:
                return
            if msg.member == "Activated":
                if not self._held:  # some compositors repeat Activated while the key is held
                    self._held = True
                    self._on_press()
            else:
                self._release()
        elif msg.interface == BUS_NAME and msg.member == "NameOwnerChanged" and msg.body[0] == PORTAL_NAME:
            self._owner_changed(str(msg.body[2]))

    def _shortcuts_changed(self, msg: Message) -> None:
        """The user re-assigned the key in the desktop's own settings."""
        if str(msg.body[0]) != self._session or self.binding is None:
            return
        for shortcut_id, props in msg.body[1]:
            if shortcut_id == SHORTCUT_ID:
                trigger = str(_unwrap(props.get("trigger_description", "")) or self.binding.trigger)
                self.binding = Binding(SHORTCUT_ID, self.binding.preferred, trigger)
                self._on_status(True, f"The desktop changed the talk key: hold {trigger} to talk from any app.")

    def _owner_changed(self, new_owner: str) -> None:
        if not new_owner:
            log.warning("the desktop portal left the session bus")
            self._session = None
            self.binding = None
            self._release()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(PortalError("the desktop portal stopped while Parley was asking it"))
            if self._key is not None:
                self._on_status(False, "The desktop portal stopped: the global talk key is off until it is back "
                                "(Parley binds it again by itself).")
        elif self._key is not None and self._bus is not None:
            if self._rebind is None or self._rebind.done():
                self._rebind = asyncio.ensure_future(self._bind_again())

    async def _bind_again(self) -> None:
        try:
            binding = await self._bind()
        except PortalError as exc:
            self._on_status(False, f"The desktop portal came back but refused the talk key: {exc}")
            return
        self._on_status(True, f"The desktop portal is back: hold {binding.trigger} to talk.")

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._on_release()

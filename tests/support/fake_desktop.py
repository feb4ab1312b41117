"""A fake desktop on a private session bus: the XDG portal's GlobalShortcuts (with the host app-id Registry) and
a Freedesktop notification daemon, as the specifications define them, run on their own thread and loop.

The portal follows the Request/Response pattern: each method answers with a Request object path built from the
caller's unique name and its handle_token, then sends Response(code, results) on that path to the caller only.
Sessions are object paths from session_handle_token; Activated/Deactivated go to the session's owner. Like the
real portal it refuses CreateSession before the app registered its id, accepts an id only when a desktop file
of that name is installed, and sends session_handle as a string.

The test drives it: `press()`/`release()` as the user's key, `bind_mode` to refuse, `stop()` to make the portal
vanish from the bus and `start()` to bring it back; `calls` and `notifications` record what the app asked.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

PORTAL = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REGISTRY = "org.freedesktop.host.portal.Registry"
NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"


def _desktop_file_installed(app_id: str) -> bool:
    """Whether `app_id`.desktop is in an applications folder of the XDG data dirs (as GLib searches them)."""
    home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    dirs = [home, *(os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")]
    return any(d and os.path.isfile(os.path.join(d, "applications", f"{app_id}.desktop")) for d in dirs)


def _introspection(*interfaces: str) -> str:
    body = "".join(f'<interface name="{name}"/>' for name in interfaces)
    return f'<node><interface name="org.freedesktop.DBus.Introspectable"/>{body}</node>'


@dataclass
class Session:
    owner: str
    path: str
    shortcuts: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeDesktop:
    def __init__(self, address: str, *, portal: bool = True, global_shortcuts: bool = True,
                 notifications: bool = False) -> None:
        self.address = address
        self.portal = portal
        self.global_shortcuts = global_shortcuts
        self.notifications_enabled = notifications
        self.bind_mode = "accept"  # "accept", "cancel" (user cancelled: 1), "fail" (2), "none" (binds nothing)
        self.trigger_text = ""  # what the desktop says it bound; empty: the preferred trigger
        self.calls: list[tuple[str, list[Any]]] = []
        self.notifications: list[dict[str, Any]] = []
        self.sessions: dict[str, Session] = {}
        self.registered: dict[str, str] = {}  # caller -> app id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bus: MessageBus | None = None
        self._next_id = 0

    # --- control from the test thread

    def start(self) -> FakeDesktop:
        ready: Future[None] = Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-desktop", daemon=True)
        self._thread.start()
        ready.result(10)
        return self

    def stop(self) -> None:
        """The desktop's services leave the bus (a crash or a restart of xdg-desktop-portal)."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._disconnect(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None
        self.sessions.clear()
        self.registered.clear()

    def press(self, shortcut_id: str = "hold-to-talk", times: int = 1) -> None:
        for _ in range(times):
            self._emit_to_sessions("Activated", shortcut_id)

    def release(self, shortcut_id: str = "hold-to-talk") -> None:
        self._emit_to_sessions("Deactivated", shortcut_id)

    def change_trigger(self, trigger: str, shortcut_id: str = "hold-to-talk") -> None:
        """The user re-assigns the key in the desktop's settings: ShortcutsChanged to each session's owner."""
        for session in list(self.sessions.values()):
            if shortcut_id in session.shortcuts:
                props = {"description": Variant("s", str(session.shortcuts[shortcut_id].get("description", ""))),
                         "trigger_description": Variant("s", trigger)}
                self._send(Message(message_type=MessageType.SIGNAL, destination=session.owner, path=PATH,
                                   interface=SHORTCUTS, member="ShortcutsChanged", signature="oa(sa{sv})",
                                   body=[session.path, [[shortcut_id, props]]]))

    def close_sessions(self) -> None:
        """The desktop ends every session (the user revoked the app's shortcuts): Session.Closed on each."""
        for path, session in list(self.sessions.items()):
            del self.sessions[path]
            self._send(Message(message_type=MessageType.SIGNAL, destination=session.owner, path=path,
                               interface="org.freedesktop.portal.Session", member="Closed", signature="a{sv}",
                               body=[{}]))

    def invoke_action(self, notification_id: int, action: str) -> None:
        self._send(Message.new_signal(NOTIFY_PATH, NOTIFY_NAME, "ActionInvoked", "us", [notification_id, action]))

    def wait(self, predicate: Any, within: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"fake desktop: {what} not met within {within} s")
            time.sleep(0.01)

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    # --- the desktop's thread

    def _run(self, ready: Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._connect())
        except Exception as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        self._loop.run_forever()

    async def _connect(self) -> None:
        bus = await MessageBus(bus_address=self.address).connect()
        bus.add_message_handler(self._handle)
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=["type='signal',member='NameOwnerChanged'"]))
        if self.portal:
            await bus.request_name(PORTAL)
        if self.notifications_enabled:
            await bus.request_name(NOTIFY_NAME)
        self._bus = bus

    async def _disconnect(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            await self._bus.wait_for_disconnect()
            self._bus = None

    def _send(self, message: Message) -> None:
        def send() -> None:
            if self._bus is not None:
                self._bus.send(message)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(send)

    def _emit_to_sessions(self, member: str, shortcut_id: str) -> None:
        for session in list(self.sessions.values()):
            if shortcut_id in session.shortcuts:
                self._send(Message(message_type=MessageType.SIGNAL, destination=session.owner, path=PATH,
                                   interface=SHORTCUTS, member=member, signature="osta{sv}",
                                   body=[session.path, shortcut_id, int(time.monotonic() * 1000), {}]))

    def _handle(self, msg: Message) -> Message | bool | None:
        if msg.message_type == MessageType.SIGNAL and msg.member == "NameOwnerChanged" and not msg.body[2]:
            gone = str(msg.body[0])  # like the real portal: a caller's sessions end when it leaves the bus
            for path in [p for p, session in self.sessions.items() if session.owner == gone]:
                del self.sessions[path]
            self.registered.pop(gone, None)
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        self.calls.append((msg.member or "", list(msg.body)))
        if msg.member == "Introspect":
            if msg.path == PATH and self.portal:
                names = [REGISTRY, *([SHORTCUTS] if self.global_shortcuts else [])]
                return Message.new_method_return(msg, "s", [_introspection(*names)])
            if msg.path == NOTIFY_PATH and self.notifications_enabled:
                return Message.new_method_return(msg, "s", [_introspection(NOTIFY_NAME)])
            return None
        if msg.interface == REGISTRY and msg.member == "Register":
            app_id = str(msg.body[0])
            if not _desktop_file_installed(app_id):  # the real portal looks the id up as a GDesktopAppInfo
                return Message.new_error(msg, "org.freedesktop.DBus.Error.Failed",
                                         f"App info not found for '{app_id}'")
            self.registered[msg.sender or ""] = app_id
            return Message.new_method_return(msg)
        if msg.interface == SHORTCUTS and self.global_shortcuts:
            return self._shortcuts(msg)
        if msg.interface == "org.freedesktop.portal.Session" and msg.member == "Close":
            self.sessions.pop(msg.path or "", None)
            return Message.new_method_return(msg)
        if msg.interface == NOTIFY_NAME and self.notifications_enabled:
            return self._notify(msg)
        return None

    def _shortcuts(self, msg: Message) -> Message:
        sender = msg.sender or ""
        options = msg.body[-1]
        token = options.get("handle_token", Variant("s", "t")).value
        request = f"{PATH}/request/{sender.lstrip(':').replace('.', '_')}/{token}"
        if msg.member == "CreateSession":
            if sender not in self.registered:  # xdg-desktop-portal 1.21+ with an unsandboxed caller
                return Message.new_error(msg, "org.freedesktop.portal.Error.NotAllowed", "An app id is required")
            if "session_handle_token" not in options:
                return Message.new_error(msg, "org.freedesktop.portal.Error.InvalidArgument", "Missing token")
            handle = (f"{PATH}/session/{sender.lstrip(':').replace('.', '_')}/"
                      f"{options['session_handle_token'].value}")
            self.sessions[handle] = Session(sender, handle)
            self._respond(sender, request, 0, {"session_handle": Variant("s", handle)})
        elif msg.member == "BindShortcuts":
            session = self.sessions.get(str(msg.body[0]))
            if session is None or session.owner != sender:
                return Message.new_error(msg, "org.freedesktop.portal.Error.NotFound", "No such session")
            if self.bind_mode in ("cancel", "fail"):
                self._respond(sender, request, 1 if self.bind_mode == "cancel" else 2, {})
            else:
                bound = []
                if self.bind_mode == "accept":
                    for shortcut_id, props in msg.body[1]:
                        trigger = self.trigger_text or props.get("preferred_trigger", Variant("s", "")).value
                        session.shortcuts[shortcut_id] = {k: v.value for k, v in props.items()}
                        bound.append([shortcut_id, {"description": props["description"],
                                                    "trigger_description": Variant("s", trigger)}])
                self._respond(sender, request, 0, {"shortcuts": Variant("a(sa{sv})", bound)})
        else:
            return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", str(msg.member))
        return Message.new_method_return(msg, "o", [request])

    def _respond(self, sender: str, request: str, code: int, results: dict[str, Any]) -> None:
        # After the method's reply, as the real portal does (the reply is sent first by the caller of _handle).
        self._send(Message(message_type=MessageType.SIGNAL, destination=sender, path=request,
                           interface="org.freedesktop.portal.Request", member="Response", signature="ua{sv}",
                           body=[code, results]))

    def _notify(self, msg: Message) -> Message:
        if msg.member == "Notify":
            app, replaces, icon, summary, body, actions, hints, timeout = msg.body
            self._next_id += 1
            nid = replaces or self._next_id
            self.notifications.append({"id": nid, "app": app, "icon": icon, "summary": summary, "body": body,
                                       "actions": list(actions), "timeout": timeout,
                                       "hints": {k: v.value for k, v in hints.items()}})
            return Message.new_method_return(msg, "u", [nid])
        if msg.member == "GetCapabilities":
            return Message.new_method_return(msg, "as", [["actions", "body"]])
        if msg.member == "GetServerInformation":
            return Message.new_method_return(msg, "ssss", ["fake", "parley-tests", "1", "1.2"])
        if msg.member == "CloseNotification":
            return Message.new_method_return(msg)
        return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", str(msg.member))

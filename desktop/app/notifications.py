"""Desktop notifications for what happens while Parley is hidden: a timer firing, an error that stops talking, a
tool waiting for approval.

On Linux they go to the freedesktop notification daemon (org.freedesktop.Notifications) over D-Bus, with a
"default" action (clicking the notification) and optionally a named button; either click emits `activated`
with the action's label, and the window comes forward. Elsewhere, or with no daemon on the session bus, the
fallback (the tray icon's balloon) shows it instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus
    from dbus_fast.message import Message

log = logging.getLogger(__name__)

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
DEFAULT_ACTION = "default"
BUTTON_ACTION = "parley-action"


class Notifier(QObject):
    activated = Signal(str)  # the clicked action's label ("" for the notification itself)

    def __init__(self, fallback: Callable[[str, str], None] | None = None, app_name: str = "Parley",
                 bus_address: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fallback = fallback
        self._app_name = app_name
        self._address = bus_address
        self._bus: MessageBus | None = None
        self._unusable = not sys.platform.startswith("linux")
        self._labels: dict[int, str] = {}  # notification id -> its button's label
        self._tasks: set[asyncio.Task[Any]] = set()

    def notify(self, title: str, body: str, action: str | None = None) -> None:
        """Shows a notification without waiting; `action` is the label of a button that also opens Parley."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._fall_back(title, body)
            return
        task = asyncio.ensure_future(self.send(title, body, action))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, title: str, body: str, action: str | None = None) -> int | None:
        """The notification's id from the daemon, or None when the fallback showed it."""
        bus = await self._connect()
        if bus is None:
            self._fall_back(title, body)
            return None
        from dbus_fast import Message, MessageType, Variant

        actions = [DEFAULT_ACTION, action or "Open Parley"] + ([BUTTON_ACTION, action] if action else [])
        hints = {"desktop-entry": Variant("s", "parley"), "urgency": Variant("y", 1)}
        reply = await bus.call(Message(destination=NAME, path=PATH, interface=NAME, member="Notify",
                                       signature="susssasa{sv}i",
                                       body=[self._app_name, 0, "parley", title, body, actions, hints, -1]))
        if reply is None or reply.message_type == MessageType.ERROR:
            log.warning("the notification daemon refused a notification: %s", reply.body if reply else None)
            self._fall_back(title, body)
            return None
        notification_id = int(reply.body[0])
        self._labels[notification_id] = action or ""
        return notification_id

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()

    async def _connect(self) -> MessageBus | None:
        if self._bus is not None and self._bus.connected:
            return self._bus
        address = self._address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if self._unusable or not address:
            return None
        try:
            from dbus_fast import Message, MessageType
            from dbus_fast.aio import MessageBus

            bus = await MessageBus(bus_address=address).connect()
        except (ImportError, OSError, EOFError) as exc:
            log.info("no desktop notifications over D-Bus (%s); using the tray", exc)
            self._unusable = True
            return None
        owner = await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                       interface="org.freedesktop.DBus", member="NameHasOwner", signature="s",
                                       body=[NAME]))
        if owner is None or owner.message_type == MessageType.ERROR or not owner.body[0]:
            bus.disconnect()
            return None  # no daemon now; one may start later, so this is asked again next time
        bus.add_message_handler(self._on_message)
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=[f"type='signal',interface='{NAME}'"]))
        self._bus = bus
        return bus

    def _on_message(self, msg: Message) -> None:
        if msg.interface != NAME or msg.member not in ("ActionInvoked", "NotificationClosed"):
            return
        notification_id = int(msg.body[0])
        if notification_id not in self._labels:
            return  # another app's notification
        if msg.member == "NotificationClosed":
            self._labels.pop(notification_id, None)
            return
        label = self._labels[notification_id]
        self.activated.emit(label if msg.body[1] == BUTTON_ACTION else "")

    def _fall_back(self, title: str, body: str) -> None:
        if self._fallback is not None:
            self._fallback(title, body)
        else:
            log.info("notification (nowhere to show it): %s: %s", title, body)

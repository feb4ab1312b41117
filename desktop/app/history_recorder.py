"""Records the conversation into the history store as it happens, and starts or continues conversations.

It listens to the controller's signals from outside (the controller knows nothing of it) and writes each item
when it appears and again when it is done: the user's turn and its transcription, the assistant's answer, the
heard/unheard split after an interruption, tool calls with arguments and results, and the cost. Streaming
deltas in between are not written, so the store sees a handful of writes per turn; the writes only enqueue
(see desktop.history.store), so nothing here waits on the disk.

"New conversation" and "Continue this conversation" need a fresh server session: one that already heard
something is replaced (the controller reconnects), one still empty is used as it is; a continued conversation
is seeded with its text history (desktop.core.replay).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop.history.models import ConversationRecord, StoredItem
from desktop.history.store import HistoryStore, new_conversation_id

if TYPE_CHECKING:
    from desktop.app.controller import Controller
    from desktop.core.driver import RealtimeDriver

log = logging.getLogger(__name__)


class HistoryRecorder(QObject):
    conversation_started = Signal()  # a new, empty conversation: the window clears its transcript
    conversation_continued = Signal(object)  # ConversationRecord: the window shows what came before
    changed = Signal()  # something was written: an open history view may refresh

    def __init__(self, controller: Controller, store: HistoryStore) -> None:
        super().__init__(controller)
        self.controller = controller
        self.store = store
        self.current: str | None = None  # the conversation being recorded; created with its first item
        self._items: dict[str, StoredItem] = {}
        self._base_usage: dict[str, float] = {}  # what earlier server sessions of this conversation cost
        self._base_cost = 0.0
        self._session_usage: dict[str, float] = {}
        self._session_cost = 0.0
        self._driver: object = None  # whose usage totals the session figures are
        controller.transcript_updated.connect(self._on_transcript)
        controller.transcript_truncated.connect(self._on_truncated)
        controller.tool_call.connect(self._on_tool_call)
        controller.cost_changed.connect(self._on_cost)
        controller.connection_changed.connect(self._on_connection)

    @property
    def enabled(self) -> bool:
        return bool(self.controller.settings.get("keep_history"))

    # ------------------------------------------------------------------------------------------ recording

    def _on_transcript(self, item_id: str, role: str, text: str, done: bool) -> None:
        old = self._items.get(item_id)
        if old is None:
            item = StoredItem(item_id, role, "message", text, created=time.time(), done=done)
        elif old.heard is not None:  # cut off earlier: a late transcript only fills in the unheard part
            unheard = text[len(old.heard):] if text.startswith(old.heard) else old.unheard
            item = dataclasses.replace(old, text=text or old.text, unheard=unheard, done=done or old.done)
        else:
            item = dataclasses.replace(old, text=text, done=done or old.done)
        # deltas in between are not written: the item is written when it appears and when it is done
        self._keep(item, write=old is None or (item.done and (not old.done or item.text != old.text)))

    def _on_truncated(self, item_id: str, heard: str, unheard: str) -> None:
        old = self._items.get(item_id) or StoredItem(item_id, "assistant", created=time.time())
        self._keep(dataclasses.replace(old, text=heard + unheard, heard=heard, unheard=unheard, done=True))

    def _on_tool_call(self, call_id: str, name: str, arguments: str, output: object) -> None:
        old = self._items.get(call_id) or StoredItem(call_id, "assistant", "function_call", created=time.time())
        self._keep(dataclasses.replace(old, text=name or old.text, arguments=arguments or old.arguments,
                                       output=None if output is None else str(output), done=output is not None))

    def record_approval(self, call_id: str, name: str, decision: str) -> None:
        """For the approval flow: the user's answer to a tool that asked first ("approved", "denied", ...)."""
        self._keep(StoredItem(f"approval:{call_id}", "user", "approval", f"{name}: {decision}", created=time.time(),
                              done=True))

    def _on_connection(self, state: str, _detail: str) -> None:
        """Settings changed the server mid-conversation: the conversation says where it went on."""
        if state == "connected" and self.current is not None and self.enabled:
            kind, model = self._backend()
            self.store.set_backend(self.current, kind, model)

    def _backend(self) -> tuple[str, str]:
        backend = self.controller.backend
        kind = backend.kind if backend is not None else "custom"
        return kind, "offline engine" if kind == "offline" else str(self.controller.settings.get("model"))

    def _on_cost(self, _meter: str, _detail: str, cost: float | None) -> None:
        cost = cost or 0.0  # an unpriced server: the history keeps tokens (usage) and no dollars
        driver = self.controller.driver
        if driver is not self._driver:  # a new server session counts from zero: bank the last one's figures
            self._bank()
            self._driver = driver
        self._session_cost = cost
        totals = getattr(getattr(driver, "session", None), "usage", None)
        if totals is not None:
            self._session_usage = {"responses": totals.responses, **dataclasses.asdict(totals.usage)}
        if self.current is not None and self.enabled:
            usage = {k: self._base_usage.get(k, 0) + self._session_usage.get(k, 0)
                     for k in {*self._base_usage, *self._session_usage}}
            self.store.set_usage(self.current, self._base_cost + cost, usage)

    def _bank(self) -> None:
        self._base_cost += self._session_cost
        for key, value in self._session_usage.items():
            self._base_usage[key] = self._base_usage.get(key, 0) + value
        self._session_cost, self._session_usage = 0.0, {}

    def _keep(self, item: StoredItem, write: bool = True) -> None:
        self._items[item.item_id] = item
        if not write or not self.enabled:
            return
        if self.current is None:
            self.current = new_conversation_id()
            self.store.begin(self.current, *self._backend())
        self.store.record(self.current, item)
        self.changed.emit()

    # ------------------------------------------------------------------------------------------ conversations

    async def new_conversation(self) -> None:
        """Ctrl+N: the next item starts a new conversation, on a fresh server session."""
        self._reset()
        self.conversation_started.emit()
        await self._fresh_session()

    async def continue_conversation(self, conversation_id: str) -> ConversationRecord | None:
        """Picks a stored conversation up: later items join it, and a fresh session hears its text history."""
        record = await self.store.open(conversation_id)
        if record is None:
            self.controller.error.emit("That conversation is no longer in the history.", "")
            return None
        self._reset()
        self.current = record.summary.id
        self._items = {item.item_id: item for item in record.items}
        self._base_cost = record.summary.cost
        self._base_usage = {k: v for k, v in record.usage.items() if isinstance(v, int | float)}
        self.conversation_continued.emit(record)
        driver = await self._fresh_session()
        if driver is not None:
            from desktop.core.replay import seed_entries  # lazily: desktop.core loads the socket stack

            driver.seed(seed_entries(record.items))
        return record

    async def continue_last(self) -> ConversationRecord | None:
        """At start, when the settings say so: the newest conversation, if there is one."""
        latest = await self.store.latest()
        return await self.continue_conversation(latest.id) if latest is not None else None

    def _reset(self) -> None:
        self.current = None
        self._items.clear()
        self._base_cost, self._base_usage = 0.0, {}
        self._session_cost, self._session_usage = 0.0, {}

    async def _fresh_session(self) -> RealtimeDriver | None:
        """The controller's driver once it holds a server session that has heard nothing yet (or None)."""
        await self.controller.wait_ready()
        driver: RealtimeDriver | None = self.controller.driver
        if driver is not None and not driver.session.conversation.entries():
            return driver
        await self.controller.apply_settings()  # reconnects: a new server session
        self._driver = driver = self.controller.driver
        return driver

    # ------------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, controller: Controller, path: str | None = None) -> HistoryRecorder:
        """The recorder over the history file in the platform data folder (or `path`)."""
        return cls(controller, HistoryStore(path))

    def start(self) -> None:
        """After the controller started: say so if the file cannot be used, else continue the last conversation
        when the settings say so."""
        self.controller.spawn(self._start())

    async def _start(self) -> None:
        if not await self.check():
            return
        if self.controller.settings.get("start_with") == "continue":
            await self.continue_last()

    async def check(self) -> bool:
        """True when the history file works; otherwise the user is told, and Parley goes on without it."""
        try:
            await self.store.flush()
        except Exception as exc:
            self.controller.error.emit(
                f"The conversation history cannot be opened ({exc}).",
                f"Parley keeps running without it. Move {self.store.path} aside to start a new history.")
            return False
        return True

    async def aclose(self) -> None:
        """Commits what is queued and closes the file (after the controller closed: its last items are in)."""
        await self.store.aclose()

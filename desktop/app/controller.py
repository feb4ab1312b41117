"""The controller: owns the session with the model, the audio engine and the tools, and tells the window what
changed through Qt signals. Widgets never talk to the core or the audio engine directly."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from desktop.app.secrets import KeyStore
from desktop.app.settings import SettingsStore
from desktop.cli import Options

log = logging.getLogger(__name__)


class Controller(QObject):
    status_changed = Signal(str)

    def __init__(self, options: Options, settings: SettingsStore | None = None, keys: KeyStore | None = None) -> None:
        super().__init__()
        self.options = options
        self.settings = settings if settings is not None else SettingsStore()
        self.keys = keys if keys is not None else KeyStore()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.status_changed.emit("ready")

    def spawn(self, coro: "asyncio.Future[None] | asyncio.Task[None] | object") -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Cancels every task it started and waits for them, so nothing outlives the loop."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

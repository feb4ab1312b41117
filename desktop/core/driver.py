"""Ties the socket to the session: receive loop -> Session -> send queue and effect callback; reconnects.

Call every method from the event loop's thread (with qasync, the Qt main thread). Effects are delivered
synchronously to `on_effect` in the order the session produced them, so the callback must only hand them on.

Reconnect policy: a dropped link, an expired session (close 1001) or a stalled send queue are retried with
growing delays; a bad key (401/403) or a bad URL/model (404) never are — they end in TurnState.ERROR for the
user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from desktop.core.config import ConnectionConfig, SessionConfig
from desktop.core.connection import Connection
from desktop.core.conversation import TranscriptEntry
from desktop.core.effects import Effect, FunctionCallRequested
from desktop.core.errors import RealtimeError
from desktop.core.session import PlayedSamples, Session, StopPlaybackNow

log = logging.getLogger(__name__)

EffectCallback = Callable[[Effect], None]
FunctionHandler = Callable[[FunctionCallRequested], Awaitable[str]]  # the call (id, name, JSON arguments) -> output


class RealtimeDriver:
    def __init__(
        self,
        connection: ConnectionConfig,
        config: SessionConfig,
        *,
        on_effect: EffectCallback,
        function_handler: FunctionHandler | None = None,
        played_samples: PlayedSamples | None = None,
        stop_playback: StopPlaybackNow | None = None,
        max_reconnects: int = 3,
        reconnect_delay_s: float = 1.0,
        tick_s: float = 0.2,
        update_timeout_s: float = 5.0,
    ) -> None:
        self.connection_config = connection
        self.session = Session(
            config, played_samples=played_samples, stop_playback=stop_playback, update_timeout_s=update_timeout_s
        )
        self._on_effect = on_effect
        self._function_handler = function_handler
        self._max_reconnects = max_reconnects
        self._reconnect_delay_s = reconnect_delay_s
        self._tick_s = tick_s
        self._connection: Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False

    # ------------------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Opens the first connection. Raises the typed error (and reports it as an effect) if that fails."""
        self._closing = False
        try:
            await self._open()
        except RealtimeError as exc:
            self.session.connection_failed(exc)
            self._flush()
            raise
        self._runner = asyncio.create_task(self._run(), name="realtime-receive")
        self._spawn(self._ticker())

    async def close(self) -> None:
        """Clean close: queued events go out, the socket closes with 1000, every task ends."""
        self._closing = True
        if self._connection is not None:
            await self._connection.close()
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._runner = None

    async def wait_closed(self) -> None:
        """Returns when the receive loop ends (closed by us, or given up after errors)."""
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def _open(self) -> None:
        connection = Connection(self.connection_config)
        await connection.open()
        self._connection = connection
        self.session.connection_opened()
        self._flush()

    async def _run(self) -> None:
        while not self._closing:
            assert self._connection is not None
            try:
                async for raw in self._connection.messages():
                    self.session.receive(raw)
                    self._flush()
                return  # closed by us
            except RealtimeError as exc:
                if self._closing:
                    return
                await self._connection.close()
                if not exc.retryable or not await self._reconnect(exc):
                    return

    async def _reconnect(self, cause: RealtimeError) -> bool:
        self.session.connection_lost(cause, reconnecting=True)
        self._flush()
        delay = self._reconnect_delay_s
        for attempt in range(1, self._max_reconnects + 1):
            await asyncio.sleep(delay)
            delay *= 2
            try:
                await self._open()
                log.info("reconnected after %s (attempt %d)", type(cause).__name__, attempt)
                return True
            except RealtimeError as exc:
                log.warning("reconnect attempt %d failed: %s", attempt, exc)
                if not exc.retryable:
                    cause = exc
                    break
                cause = exc
        self.session.connection_failed(cause)
        self._flush()
        return False

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            self.session.tick()
            self._flush()

    # ------------------------------------------------------------------------------ user actions

    def press(self) -> None:
        self.session.press()
        self._flush()

    def release(self) -> None:
        self.session.release()
        self._flush()

    def audio(self, pcm: bytes, *, preroll: bool = False) -> None:
        self.session.audio(pcm, preroll=preroll)
        self._flush()

    def interrupt(self, played_samples: int | None = None) -> bool:
        """True when there was something to interrupt."""
        interrupted = self.session.interrupt(played_samples)
        self._flush()
        return interrupted

    def stop(self) -> None:
        self.session.stop()
        self._flush()

    def send_text(self, text: str) -> None:
        self.session.send_text(text)
        self._flush()

    def seed(self, entries: Sequence[TranscriptEntry]) -> None:
        """Continue an earlier conversation: its text goes into this session (see Session.seed)."""
        self.session.seed(entries)
        self._flush()

    def set_config(self, config: SessionConfig) -> None:
        self.session.set_config(config)
        self._flush()

    def playback_finished(self, item_id: str) -> None:
        self.session.playback_finished(item_id)
        self._flush()

    def function_result(self, call_id: str, output: str) -> None:
        """For apps that run calls themselves (no function_handler given)."""
        self.session.function_result(call_id, output)
        self._flush()

    # ------------------------------------------------------------------------------ plumbing

    def _flush(self) -> None:
        outgoing = self.session.take_outgoing()
        if outgoing and self._connection is not None and self._connection.is_open:
            try:
                for event in outgoing:
                    self._connection.send_nowait(event)
            except RealtimeError as exc:
                log.warning("%s", exc)
                self._spawn(self._restart(exc))
        for effect in self.session.take_effects():
            if isinstance(effect, FunctionCallRequested) and self._function_handler is not None:
                self._spawn(self._call(effect))
            try:
                self._on_effect(effect)
            except Exception:
                log.exception("effect callback failed for %s", type(effect).__name__)

    async def _restart(self, cause: RealtimeError) -> None:
        """A stalled send queue: drop this socket; the receive loop then reconnects."""
        if self._connection is not None:
            await self._connection.close()
        if self._runner is not None:
            self._runner.cancel()
        if not self._closing and await self._reconnect(cause):
            self._runner = asyncio.create_task(self._run(), name="realtime-receive")

    async def _call(self, request: FunctionCallRequested) -> None:
        assert self._function_handler is not None
        try:
            output = await self._function_handler(request)
        except Exception as exc:  # a handler bug must not leave the model waiting for an output forever
            log.exception("function handler failed for %s", request.name)
            output = f'{{"error": "{type(exc).__name__}"}}'
        self.session.function_result(request.call_id, output)
        self._flush()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""Ties the socket to the session: receive loop -> Session -> send queue and effect callback; keeps the link up.

Call every method from the event loop's thread (with qasync, the Qt main thread). Effects are delivered
synchronously to `on_effect` in the order the session produced them, so the callback must only hand them on.

The link never gives up on its own where retrying can help (desktop.core.link): a dropped socket, a close code,
an expired session, a stalled socket or send queue, a refused connection, a 5xx or 429 at the handshake are
retried with a capped backoff, without a limit, and the window is told when the next attempt is due
(`LinkChanged`); `retry_now()` skips the wait. A bad key (401/403), a wrong URL or model (404, 400) stop at once.

Sessions have a maximum length on the server; before `session_cap_s` the driver opens a fresh connection at the
first moment between turns, configures it and replays the text history, then closes the old one: the
conversation goes on and the window does not flicker.

Why one module of this size: opening, recovering, recycling and closing the link all swap or end the one
connection the receive loop reads and the session's events go out on; apart, each would reach into the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from desktop.core.config import ConnectionConfig, SessionConfig
from desktop.core.connection import Connection
from desktop.core.conversation import TranscriptEntry
from desktop.core.effects import Effect, FunctionCallRequested, LinkChanged
from desktop.core.errors import ConnectionClosedError, ConnectionDroppedError, RealtimeError
from desktop.core.link import Backoff, LinkPhase, LinkStatus, describe, probes_help, reachable
from desktop.core.live import LiveSession
from desktop.core.models import Pricing, list_prices
from desktop.core.session import PlayedSamples, Session, StopPlaybackNow

log = logging.getLogger(__name__)

EffectCallback = Callable[[Effect], None]
FunctionHandler = Callable[[FunctionCallRequested], Awaitable[str]]  # the call (id, name, JSON arguments) -> output

LIVE_CLOSE_WAIT_S = 2.0  # closing: how long GPT-Live's session.closed may take before the socket closes anyway
SESSION_CAP_S = 60 * 60.0  # the server closes a session after 60 minutes (close 1001)
RECYCLE_MARGIN_S = 5 * 60.0  # recycle between turns from 55 minutes on
ALIVE_TIMEOUT_S = 3.0  # after a network change or a resume: how long a ping may take before the link is replaced


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
        backoff: Backoff | None = None,
        reconnect_delay_s: float | None = None,  # shorthand for Backoff(first_s=...)
        max_reconnects: int | None = None,  # None: never give up where retrying can help
        retry_first: bool = False,  # a first connection that fails retryably keeps trying instead of raising
        session_cap_s: float = SESSION_CAP_S,
        recycle_margin_s: float = RECYCLE_MARGIN_S,
        pricing: Pricing = list_prices,
        tick_s: float = 0.2,
        update_timeout_s: float = 5.0,
        seed: int | None = None,
    ) -> None:
        self.connection_config = connection
        kind = LiveSession if connection.protocol == "live" else Session
        self.session: Session | LiveSession = kind(
            config,
            played_samples=played_samples,
            stop_playback=stop_playback,
            update_timeout_s=update_timeout_s,
            pricing=pricing,
        )
        self._on_effect = on_effect
        self._function_handler = function_handler
        if backoff is None:
            backoff = Backoff() if reconnect_delay_s is None else Backoff(first_s=reconnect_delay_s)
        self.backoff = backoff
        self._max_reconnects = max_reconnects
        self._retry_first = retry_first
        self._session_cap_s = session_cap_s
        self._recycle_margin_s = recycle_margin_s
        self._tick_s = tick_s
        self._rng = random.Random(seed)
        self._connection: Connection | None = None
        self._connected_at = 0.0
        self._recycle_not_before = 0.0
        self._recycling = False
        self._probe_started = False  # the current attempt was started by the probe seeing the server back
        self.recycles = 0  # sessions replaced before the server's cap
        self.link_status = LinkStatus(LinkPhase.CONNECTING)
        self._last_error: RealtimeError | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._finalised = asyncio.Event()  # GPT-Live's session.closed arrived, or the link ended

    # ------------------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Opens the first connection. Raises the typed error (and reports it as an effect) if that fails,
        unless `retry_first` is set and retrying can help: then it returns with the retries under way."""
        self._closing = False
        self._finalised.clear()
        first_error: RealtimeError | None = None
        try:
            await self._open()
        except RealtimeError as exc:
            if not (self._retry_first and exc.retryable):
                self._stop(exc)
                raise
            first_error = exc
            self.session.connection_lost(exc, reconnecting=True)
            self._flush()
        self._runner = asyncio.create_task(self._run(first_error), name="realtime-receive")
        self._spawn(self._ticker())

    async def close(self) -> None:
        """Clean close: queued events go out and nothing after them; GPT-Live gets session.close and a moment
        for its session.closed (only that finalises the session; closing the socket first would read as a lost
        connection); the socket closes with 1000, every task ends."""
        self._flush()
        self._closing = True  # from here nothing more goes out (GPT-Live: nothing after session.close)
        self._wake.set()
        if self._connection is not None:
            if isinstance(self.session, LiveSession) and self._connection.is_open:
                self._connection.send_nowait(self.session.close_event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._finalised.wait(), LIVE_CLOSE_WAIT_S)
            await self._connection.close()
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._runner = None

    async def wait_closed(self) -> None:
        """Returns when the receive loop ends (closed by us, or stopped by an error retrying cannot fix)."""
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    def retry_now(self) -> None:
        """The user pressed Retry, the network came back or the machine woke up: try at once if the link is
        down; if it looks up, check it with a ping and replace it when no answer comes."""
        phase = self.link_status.phase
        if phase is LinkPhase.WAITING:
            self._wake.set()
        elif phase is LinkPhase.STOPPED and not self._closing and (self._runner is None or self._runner.done()):
            self._wake.set()
            error = self._last_error or ConnectionClosedError(None, "retry")
            self._runner = asyncio.create_task(self._run(error), name="realtime-receive")
        elif phase is LinkPhase.CONNECTED:
            self._spawn(self._check_alive())

    # ------------------------------------------------------------------------------ the link

    async def _open(self, *, quiet: bool = False) -> None:
        connection = Connection(self.connection_config)
        await connection.open()
        self._connection = connection
        self._connected_at = time.monotonic()
        self.session.connection_opened(quiet=quiet)
        self._set_link(LinkStatus(LinkPhase.CONNECTED))
        self._flush()

    async def _run(self, error: RealtimeError | None = None) -> None:
        try:
            await self._receive(error)
        finally:
            self._finalised.set()  # the link is over: nothing more to wait for

    async def _receive(self, error: RealtimeError | None) -> None:
        while not self._closing:
            if error is not None:
                if not await self._recover(error):
                    return
                error = None
            connection = self._connection
            assert connection is not None
            try:
                async for raw in connection.messages():
                    if connection is not self._connection:
                        break  # replaced by a recycled session: the new one is read next
                    self.session.receive(raw)
                    self._flush()
                    if self._closing and isinstance(self.session, LiveSession) and self.session.finalised:
                        self._finalised.set()
            except Exception as raised:
                if self._closing:
                    return
                if connection is not self._connection:
                    continue
                exc = raised if isinstance(raised, RealtimeError) else self._internal(raised)
                await connection.close()
                if not exc.retryable:
                    self._stop(exc)
                    return
                log.info("link lost: %s", exc)
                self.session.connection_lost(exc, reconnecting=True)
                self._flush()
                error = exc
                continue
            if connection is self._connection:
                return  # closed by us

    @staticmethod
    def _internal(raised: Exception) -> RealtimeError:
        log.error("unexpected error on the link: %r", raised, exc_info=raised)
        return ConnectionDroppedError(f"internal error on the link ({type(raised).__name__}); reconnecting")

    async def _recover(self, error: RealtimeError) -> bool:
        attempt = 0
        while not self._closing:
            attempt += 1
            if self._max_reconnects is not None and attempt > self._max_reconnects:
                self._stop(error)
                return False
            await self._wait(self.backoff.delay(attempt, error, self._rng), attempt, error)
            if self._closing:
                return False
            self._set_link(LinkStatus(LinkPhase.CONNECTING, attempt, None, describe(error)))
            try:
                await self._open()
            except RealtimeError as exc:
                log.warning("reconnect attempt %d failed: %s", attempt, exc)
                error = exc
                if not exc.retryable:
                    self._stop(exc)
                    return False
                continue
            log.info("reconnected (attempt %d)", attempt)
            return True
        return False

    async def _wait(self, delay: float, attempt: int, error: RealtimeError) -> None:
        """Sleeps until the next attempt, unless woken (Retry now) or the unreachable server is back."""
        deadline = time.monotonic() + delay
        self._last_error = error
        self._set_link(LinkStatus(LinkPhase.WAITING, attempt, deadline, describe(error)))
        # The failed attempt says the server was unreachable; but if this wait follows an attempt the probe itself
        # started, a probe must first see it down again, or a server that takes TCP and then fails would be
        # retried every second.
        probe, was_down = probes_help(error), not self._probe_started
        self._probe_started = False
        while not self._wake.is_set() and (remaining := deadline - time.monotonic()) > 0:
            step = min(remaining, self.backoff.probe_every_s) if probe else remaining
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), step)
            if probe and not self._wake.is_set() and deadline > time.monotonic():
                if await reachable(*self.connection_config.endpoint()):
                    if was_down:
                        log.info("the server is reachable again: reconnecting now")
                        self._probe_started = True
                        break
                else:
                    was_down = True
        self._wake.clear()

    def _stop(self, error: RealtimeError) -> None:
        self._last_error = error
        self.session.connection_failed(error)
        self._set_link(LinkStatus(LinkPhase.STOPPED, reason=describe(error)))
        self._flush()

    def _set_link(self, status: LinkStatus) -> None:
        self.link_status = status
        self._deliver(LinkChanged(status))

    async def _check_alive(self) -> None:
        connection = self._connection
        if connection is None or await connection.alive(ALIVE_TIMEOUT_S):
            return
        if connection is self._connection and not self._closing:
            log.info("no pong after a network change or resume: replacing the link")
            connection.fail(ConnectionClosedError(None, "the link did not answer after a network change"))

    # ------------------------------------------------------------------------------ session recycling

    def _recycle_due(self) -> bool:
        now = time.monotonic()
        return (
            not self._recycling
            and self.link_status.phase is LinkPhase.CONNECTED
            and now - self._connected_at >= self._session_cap_s - self._recycle_margin_s
            and now >= self._recycle_not_before
            and self.session.between_turns()
        )

    async def _recycle(self) -> None:
        """Make before break: the new session is configured and seeded while the old one still stands."""
        self._recycling = True
        old = self._connection
        try:
            fresh = Connection(self.connection_config)
            try:
                await fresh.open()
            except RealtimeError as exc:
                log.info("session recycle postponed: %s", exc)
                self._recycle_not_before = time.monotonic() + 30.0
                return
            if self._closing or old is not self._connection or not self.session.between_turns():
                await fresh.close()  # a turn started meanwhile: try again at the next pause
                return
            self._connection = fresh
            self._connected_at = time.monotonic()
            self.session.connection_opened(quiet=True)
            self._flush()
            self.recycles += 1
            log.info("session recycled before the server's %g s cap", self._session_cap_s)
            if old is not None:
                await old.close()
        finally:
            self._recycling = False

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            self.session.tick()
            self._flush()
            if self._recycle_due():
                self._spawn(self._recycle())

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
        connection = self._connection
        if outgoing and connection is not None and connection.is_open and not self._closing:
            try:
                for event in outgoing:
                    connection.send_nowait(event)
            except RealtimeError as exc:
                log.warning("%s", exc)
                connection.fail(exc)  # the receive loop sees it and reconnects
        for effect in self.session.take_effects():
            if isinstance(effect, FunctionCallRequested) and self._function_handler is not None:
                self._spawn(self._call(effect))
            self._deliver(effect)

    def _deliver(self, effect: Effect) -> None:
        try:
            self._on_effect(effect)
        except Exception:
            log.exception("effect callback failed for %s", type(effect).__name__)

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

"""The WebSocket link: handshake with typed errors, a bounded send queue drained by one task, keepalive pings.

Error texts are built from status and close codes; the HTTP body of a refused handshake is used only for a 400
(the reason a model or parameter was refused), and only its JSON `error.message`/`error.code`, with anything
that looks like a key cut out (the real server quotes part of a bad key in its 401 body).

A stalled socket is one that brings neither data nor a pong: after `ping_interval_s` without a message a ping
goes out, and when neither its pong nor any message arrives within `ping_timeout_s` the socket is dropped at
once (no closing handshake with a peer that no longer answers). Data counts as life, so a long answer on a slow
link is never mistaken for a stall, which websockets' own keepalive (pong-only) could do; it is switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.http11 import Response

from desktop.core.config import ConnectionConfig
from desktop.core.errors import (
    AuthError,
    BadRequestError,
    ConnectFailedError,
    ConnectionClosedError,
    ConnectionDroppedError,
    HandshakeError,
    NotFoundError,
    RateLimitedError,
    RealtimeError,
    SendQueueFullError,
    ServerUnavailableError,
    SessionExpiredError,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # an audio delta or a session echo with big tool schemas fits easily


_KEYLIKE = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_*\-]{6,}|[A-Za-z0-9_\-]{32,}")


def _handshake_error(response: Response, host: str, api_key: str | None) -> HandshakeError:
    status = response.status_code
    if status in (401, 403):
        return AuthError(status, f"{host} refused the API key (HTTP {status}): check the API key in Settings")
    if status == 404:
        return NotFoundError(status, f"{host} has no Realtime endpoint at this URL or model (HTTP 404)")
    if status == 429:
        retry_after = _seconds(response.headers.get("Retry-After"))
        wait = f"; it asks to wait {retry_after:g} s" if retry_after else ""
        return RateLimitedError(status, f"{host} is rate limiting this key (HTTP 429{wait})", retry_after)
    if status == 400:
        reason = _reason(response.body, api_key)
        return BadRequestError(status, f"{host} refused the request (HTTP 400){': ' + reason if reason else ''}")
    if status >= 500:
        return ServerUnavailableError(status, f"{host} is unavailable for the moment (HTTP {status})")
    return HandshakeError(status, f"{host} refused the WebSocket connection (HTTP {status})")


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff's own minimum applies


def _reason(body: bytes | bytearray | None, api_key: str | None) -> str:
    """The server's JSON reason (`error.message`, `error.code`), with key-like strings removed."""
    try:
        data = json.loads(body or b"")
        error = data.get("error") if isinstance(data, dict) else None
    except ValueError:
        return ""
    if not isinstance(error, dict):
        return ""
    text = str(error.get("message") or error.get("code") or "")
    if api_key:
        text = text.replace(api_key, "<key>")
    return _KEYLIKE.sub("<redacted>", text)[:200]


def closed_error(code: int | None, reason: str) -> ConnectionClosedError:
    if code == 1001:
        return SessionExpiredError(code, reason or "session expired")
    return ConnectionClosedError(code, reason)


def _closed(ws: ClientConnection) -> ConnectionClosedError:
    """Why the link ended: the server's close frame, ours (a fault found here), or none at all (a drop)."""
    received, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
    if received is not None:
        return closed_error(received.code, received.reason)
    if sent is not None and sent.code != 1000:
        return ConnectionDroppedError(f"the link was closed after a fault: {sent.reason or 'error'} (code {sent.code})")
    return ConnectionDroppedError("the connection dropped without a closing handshake")


class Connection:
    def __init__(self, config: ConnectionConfig) -> None:
        self._config = config
        self._ws: ClientConnection | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=config.send_queue_size)
        self._sender: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: RealtimeError | None = None
        self._last_rx = time.monotonic()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._ws is not None and not self._closing

    async def open(self) -> None:
        url = self._config.resolved_url()  # raises InsecureUrlError first
        host = urlsplit(url).hostname or "server"
        context = ssl.create_default_context() if url.startswith("wss://") else None
        try:
            self._ws = await connect(
                url,
                additional_headers=self._config.headers(),
                ssl=context,
                open_timeout=self._config.open_timeout_s,
                ping_interval=None,  # our own watchdog below also counts data as life
                close_timeout=self._config.close_timeout_s,
                max_size=MAX_MESSAGE_BYTES,
                # Audio is base64 PCM: deflating it gains little and costs zlib time on the GUI thread for every
                # chunk each way.
                compression=None,
                user_agent_header="Parley",
            )
        except InvalidStatus as exc:
            raise _handshake_error(exc.response, host, self._config.api_key) from None
        except InvalidURI:
            raise RealtimeError("the Realtime URL is not a valid WebSocket URL") from None
        except ssl.SSLError as exc:
            raise ConnectFailedError(f"TLS with {host} failed: {exc.reason}") from None
        except TimeoutError:  # (an OSError too) nothing answered in time: a dead network or a firewall
            raise ConnectFailedError(f"no answer from {host} within {self._config.open_timeout_s:g} s",
                                     unreachable=True) from None
        except OSError as exc:  # refused, no route, DNS: nothing answered at all
            raise ConnectFailedError(f"could not reach {host}: {exc.strerror or exc}", unreachable=True) from None
        except InvalidHandshake as exc:
            raise ConnectFailedError(f"could not connect to {host}: {type(exc).__name__}: {exc}") from None
        self._sender = asyncio.create_task(self._send_loop(self._ws), name="realtime-send")
        self._last_rx = time.monotonic()
        self._watchdog = asyncio.create_task(self._watch(self._ws), name="realtime-watchdog")

    def send_nowait(self, event: dict[str, Any]) -> None:
        """Queue an event; a full queue means a stalled link, reported rather than silently dropping audio."""
        try:
            self._queue.put_nowait(json.dumps(event))
        except asyncio.QueueFull:
            raise SendQueueFullError(
                f"{self._queue.maxsize} events waiting to be sent: the link is stalled"
            ) from None

    async def _send_loop(self, ws: ClientConnection) -> None:
        while True:
            text = await self._queue.get()
            try:
                await ws.send(text)
            except ConnectionClosed:
                return  # the receive side reports why
            finally:
                self._queue.task_done()

    async def messages(self) -> AsyncIterator[str | bytes]:
        """Yields raw messages until the link ends; raises a typed error unless we closed it ourselves."""
        ws = self._ws
        if ws is None:
            raise RealtimeError("not connected")
        try:
            async for message in ws:
                self._last_rx = time.monotonic()
                yield message
        except ConnectionClosed:
            pass
        if self._failure is not None:
            raise self._failure
        if self._closing:
            return
        raise _closed(ws)

    async def _watch(self, ws: ClientConnection) -> None:
        """Pings a quiet link; drops it when neither data nor the pong comes back in time."""
        idle_s, timeout_s = self._config.ping_interval_s, self._config.ping_timeout_s
        while not self._closing:
            quiet = time.monotonic() - self._last_rx
            if quiet < idle_s:
                await asyncio.sleep(idle_s - quiet)
                continue
            sent = time.monotonic()
            try:
                pong = await ws.ping()
                await asyncio.wait_for(asyncio.shield(pong), timeout_s)
                self._last_rx = time.monotonic()
            except ConnectionClosed:
                return  # the receive side reports why
            except TimeoutError:
                if self._last_rx <= sent and not self._closing:
                    self.fail(ConnectionDroppedError(
                        f"no data and no answer to a ping for {timeout_s:g} s: the link stalled"))
                    return

    def fail(self, error: RealtimeError) -> None:
        """Drops the link at once (no closing handshake); `messages()` then raises `error` to the reader."""
        self._failure = error
        self._closing = True
        for task in (self._sender, self._watchdog):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self._ws is not None:
            self._ws.transport.abort()

    async def alive(self, timeout_s: float) -> bool:
        """A ping answered within `timeout_s`: checks a link that may have died while the machine slept."""
        if self._ws is None or self._closing:
            return False
        try:
            waiter = await self._ws.ping()
            await asyncio.wait_for(waiter, timeout_s)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        """A clean close (code 1000): waits briefly for queued events to go out first."""
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._sender is not None:
            if self._failure is None:  # a failed link sends nothing more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queue.join(), 1.0)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._ws is not None:
            await self._ws.close()

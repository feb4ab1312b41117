"""One MCP server, supervised: connect with the official SDK, keep its tool list current, restart it with backoff.

Each server lives in its own asyncio task (qasync's loop in the app). The SDK's `ClientSession` stays inside that
task's context managers for the whole connection; tool calls come from other tasks and go through the session,
which the SDK allows (requests are correlated by id). When the connection ends — the process exited, the HTTP
server stopped answering — the tools leave the registry, calls in flight fail with a sentence saying so, and the
server is started again after 1, 2, 4 … (at most 30) seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage

from desktop import __version__
from desktop.tools.mcp.config import (
    HttpServerConfig,
    MissingSecret,
    SecretLookup,
    ServerConfig,
    StdioServerConfig,
    resolve_secrets,
    secret_names,
)
from desktop.tools.mcp.names import McpCallError, result_text
from desktop.tools.mcp.process import StderrTail, parent_death_command

log = logging.getLogger(__name__)
# The SDK's HTTP client logs every request at INFO: one line per tool call in Parley's log file.
logging.getLogger("httpx2").setLevel(logging.WARNING)

State = Literal["starting", "ready", "failed", "restarting", "stopped"]
T = TypeVar("T")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 30.0  # a connection that lasted this long resets the backoff
START_TIMEOUT_S = 60.0  # spawn to tools listed: an npx server may download itself first
PING_INTERVAL_S = 15.0
MAX_PAGES = 50  # HTTP only: a stdio server's exit is seen at once (stdout EOF), a remote one's is not
CLIENT_INFO = types.Implementation(name="parley", version=__version__)


class StartError(Exception):
    """A server that cannot be started as configured (missing program or folder); the message says which."""


class _WatchedReadStream(Generic[T]):
    """The transport's read stream, passed through, calling `on_end` when it ends (the server went away)."""

    def __init__(self, inner: ReadStream[T], on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> object:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> T:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream[T]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()


class ServerRunner:
    """Supervises one configured server. `on_tools(runner, tools)` publishes its current MCP tool list (empty when
    it is down); `on_change()` says its status changed."""

    def __init__(self, config: ServerConfig, secret_lookup: SecretLookup, *, call_timeout_s: float,
                 on_tools: Callable[[ServerRunner, list[types.Tool]], None], on_change: Callable[[], None],
                 backoff_first_s: float = BACKOFF_FIRST_S, backoff_max_s: float = BACKOFF_MAX_S) -> None:
        self.config = config
        self.state: State = "starting"
        self.reason = ""
        self.tool_count = 0
        self.stderr = StderrTail()
        self._secret_lookup = secret_lookup
        self.call_timeout_s = config.timeout_s or call_timeout_s
        self._on_tools = on_tools
        self._on_change = on_change
        self._backoff = (backoff_first_s, backoff_max_s)
        self._session: ClientSession | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._relist = False
        self._lost: str | None = None
        self._ready_since: float | None = None
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"mcp:{self.name}")
        self._task.add_done_callback(self._supervision_ended)

    def _supervision_ended(self, task: asyncio.Task[None]) -> None:
        """A supervisor that died of something unforeseen must say so rather than leave a stale state behind."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("MCP server %s: supervision ended", self.name, exc_info=exc)
            self._session = None
            if self.tool_count:
                self.tool_count = 0
                self._on_tools(self, [])
            self._set("failed", f"internal error: {_describe(exc)}; use Reload to try again")

    async def stop(self, timeout_s: float = 8.0) -> None:
        """Ends the connection (a stdio child is closed, then terminated, by the SDK) and the supervision."""
        self._stopping = True
        self._wake.set()
        if self._scope is not None:
            # Also ends a connection still starting (a server that never answers initialize); the SDK's stdio
            # shutdown runs shielded inside, so the child is still closed and, if need be, terminated.
            self._scope.cancel()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.warning("MCP server %s did not stop in %.0f s; cancelling", self.name, timeout_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> str:
        """Calls `tool` on the server; the result as text for the model. Cancelling the awaiting task sends the
        server MCP's notifications/cancelled (the SDK does it on the caller's cancellation)."""
        session = self._session
        if session is None:
            raise McpCallError(f"the MCP server {self.name!r} is not running ({self.state})")
        try:
            result = await session.call_tool(tool, arguments or None, read_timeout_seconds=self.call_timeout_s)
        except MCPError as exc:
            if exc.error.code == types.REQUEST_TIMEOUT:
                raise TimeoutError(f"{tool} took longer than {self.call_timeout_s:g} s") from None
            if exc.error.code == types.CONNECTION_CLOSED:
                self._connection_lost("the connection closed during a call")
                raise McpCallError(f"the MCP server {self.name!r} stopped during the call; Parley is restarting "
                                   "it") from None
            raise McpCallError(f"the MCP server {self.name!r} refused the call: {exc.error.message}") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._connection_lost("the connection closed during a call")
            raise McpCallError(f"the MCP server {self.name!r} stopped during the call") from None
        return result_text(result)

    # -- supervision ---------------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self._backoff[0]
        first = True
        while not self._stopping:
            self._set("starting" if first else "restarting", self.reason if not first else "")
            first = False
            self._ready_since = None
            try:
                with anyio.CancelScope() as self._scope:
                    await self._connect_once()
                reason = self._lost or "the server closed the connection"
            except Exception as exc:
                reason = self._lost or _describe(exc)
            finally:
                self._session, self._scope = None, None
                if self.tool_count:
                    self.tool_count = 0
                    self._on_tools(self, [])
                if isinstance(self.config, StdioServerConfig):
                    await self.stderr.finish()
            if self._stopping:
                break
            was_ready = self._ready_since is not None
            if was_ready and time.monotonic() - (self._ready_since or 0.0) >= STABLE_AFTER_S:
                delay = self._backoff[0]
            log.warning("MCP server %s: %s; retrying in %g s", self.name, reason, delay)
            self._set("restarting" if was_ready else "failed", f"{reason}; retrying in {delay:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_stop(), delay)
            delay = min(delay * 2, self._backoff[1])
        self._set("stopped", "")

    async def _wait_stop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._wake.wait()

    async def _connect_once(self) -> None:
        """One connection, from spawn/connect to its end; `_ready_since` is set once it is ready."""
        self._lost, self._relist = None, False
        async with self._transport() as (read, write):
            watched = _WatchedReadStream(read, lambda: self._connection_lost("the server closed the connection"))
            async with ClientSession(watched, write, message_handler=self._on_message,
                                     client_info=CLIENT_INFO) as session:
                with anyio.fail_after(START_TIMEOUT_S):
                    await session.initialize()
                    tools = await _list_all(session)
                self._session = session
                self._ready_since = time.monotonic()
                self._publish(tools)
                while True:
                    with anyio.move_on_after(self._idle_check_s()) as idle:
                        await self._wake.wait()
                    self._wake.clear()
                    if self._stopping or self._lost is not None:
                        return
                    if idle.cancelled_caught:
                        with anyio.fail_after(self.call_timeout_s):
                            await session.send_ping()
                    if self._relist:
                        self._relist = False
                        with anyio.fail_after(self.call_timeout_s):
                            self._publish(await _list_all(session))

    def _idle_check_s(self) -> float:
        return PING_INTERVAL_S if isinstance(self.config, HttpServerConfig) else float("inf")

    def _publish(self, tools: list[types.Tool]) -> None:
        self.tool_count = len(tools)
        self._on_tools(self, tools)
        self._set("ready", "")

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[ReadStream[SessionMessage | Exception],
                                                        WriteStream[SessionMessage]]]:
        config = self.config
        if isinstance(config, StdioServerConfig):
            env, command, cwd = await asyncio.to_thread(self._prepare_stdio, config)
            program, args = parent_death_command(command, list(config.args))
            params = StdioServerParameters(command=program, args=args, env=env, cwd=cwd)
            errlog = self.stderr.open()
            try:
                async with stdio_client(params, errlog=errlog) as streams:
                    self.stderr.release_writer()  # the child has its own copy now
                    yield streams
            finally:
                self.stderr.release_writer()
        else:
            headers = await asyncio.to_thread(self._resolve, config.headers)
            async with create_mcp_http_client(headers=headers) as client, \
                    streamable_http_client(config.url, http_client=client) as streams:
                yield streams

    def _prepare_stdio(self, config: StdioServerConfig) -> tuple[dict[str, str], str, str | None]:
        """In a worker thread (keyring lookups and the PATH search may block): the child's extra environment, the
        program's full path and the working folder. A relative program path is taken from the working folder."""
        env = self._resolve(config.env)
        cwd = os.path.expanduser(config.cwd) if config.cwd else None
        command = os.path.expanduser(config.command)
        if os.sep in command and not os.path.isabs(command) and cwd:
            command = os.path.join(cwd, command)
        path = {**get_default_environment(), **env}.get("PATH")
        found = shutil.which(command, path=path)
        if found is None:
            raise StartError(f"the command {config.command!r} was not found (or is not executable)")
        if cwd is not None and not os.path.isdir(cwd):
            raise StartError(f"the working folder {config.cwd!r} does not exist")
        return env, found, cwd

    def _resolve(self, values: Mapping[str, str]) -> dict[str, str]:
        names = secret_names(values)
        return resolve_secrets(values, {name: self._secret_lookup(name) for name in names})

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._relist = True
            self._wake.set()
        elif isinstance(message, Exception):
            log.warning("MCP server %s: transport error: %s", self.name, message)

    def _connection_lost(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        self._wake.set()

    def _set(self, state: State, reason: str) -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            self._on_change()


async def _list_all(session: ClientSession) -> list[types.Tool]:
    """Every page of tools/list (at most MAX_PAGES: a server repeating its cursor must not loop us forever)."""
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _describe(exc: BaseException) -> str:
    """One sentence for a failed connection: the innermost meaningful error of an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MissingSecret | StartError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, MCPError) and exc.error.code == types.CONNECTION_CLOSED:
        return "the server closed the connection before it was ready"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text

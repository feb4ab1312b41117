"""Parley as an MCP host: every configured server's tools in the ToolRegistry, kept current as servers come, change
and go.

    host = McpHost(registry, load_config(path), secret_lookup)
    await host.start()            # returns at once; servers come up in the background
    host.add_listener(refresh)    # called on every status change; read host.statuses()
    await host.reload(load_config(path))
    await host.aclose()           # ends every server (and so every child process)

Qt-free: it runs on whatever asyncio loop is running (qasync's in the app, plain asyncio in tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from desktop.tools.mcp.config import McpConfig, SecretLookup, ServerConfig
from desktop.tools.mcp.names import model_names
from desktop.tools.mcp.server import ServerRunner, State
from desktop.tools.registry import Tool, ToolRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerStatus:
    """What the Tools page shows for one server. `reason` says why it failed or restarts; `stderr_tail` holds the
    last lines a stdio server wrote to stderr."""

    name: str
    state: State
    tool_count: int = 0
    reason: str = ""
    stderr_tail: tuple[str, ...] = ()
    transport: str = "stdio"


class McpHost:
    def __init__(self, registry: ToolRegistry, servers: McpConfig | Iterable[ServerConfig],
                 secret_lookup: SecretLookup, *, call_timeout_s: float = 30.0,
                 backoff_first_s: float = 1.0, backoff_max_s: float = 30.0) -> None:
        self._registry = registry
        self._secret_lookup = secret_lookup
        self._call_timeout_s = call_timeout_s
        self._backoff = (backoff_first_s, backoff_max_s)
        self._configs, self.config_errors = _split(servers)
        self._runners: dict[str, ServerRunner] = {}
        self._listeners: list[Callable[[], None]] = []
        self._started = False

    # -- the API the app uses ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts every server in its own task and returns at once."""
        self._started = True
        for config in self._configs:
            self._launch(config)
        self._changed()

    async def reload(self, servers: McpConfig | Iterable[ServerConfig]) -> None:
        """Applies a re-read configuration: unchanged servers keep running, removed or changed ones are stopped
        (their tools leave), new or changed ones start, and failed ones are tried again now (the user may have just
        stored the missing secret or installed the missing program)."""
        configs, self.config_errors = _split(servers)
        wanted = {config.name: config for config in configs}
        gone = [r for name, r in self._runners.items() if wanted.get(name) != r.config or r.state == "failed"]
        for runner in gone:
            del self._runners[runner.name]
        await asyncio.gather(*(self._stop(runner) for runner in gone))
        self._configs = configs
        if self._started:
            for config in configs:
                if config.name not in self._runners:
                    self._launch(config)
        self._changed()

    async def aclose(self) -> None:
        """Stops every server; each stdio child is closed and, if it lingers, terminated."""
        runners = list(self._runners.values())
        self._runners.clear()
        self._started = False
        await asyncio.gather(*(self._stop(runner) for runner in runners))
        self._changed()

    def statuses(self) -> list[ServerStatus]:
        return [ServerStatus(r.name, r.state, r.tool_count, r.reason, r.stderr.lines(), r.config.transport)
                for r in self._runners.values()]

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener()` after every status change (and after config_errors change); returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- internals -----------------------------------------------------------------------------------------

    def _launch(self, config: ServerConfig) -> None:
        runner = ServerRunner(config, self._secret_lookup, call_timeout_s=self._call_timeout_s,
                              on_tools=self._publish, on_change=self._changed, backoff_first_s=self._backoff[0],
                              backoff_max_s=self._backoff[1])
        self._runners[config.name] = runner
        runner.start()

    async def _stop(self, runner: ServerRunner) -> None:
        await runner.stop()
        self._registry.replace_source(runner.name, [])

    def _publish(self, runner: ServerRunner, mcp_tools: list[types.Tool]) -> None:
        taken = [tool.name for tool in self._registry.tools() if tool.source != runner.name]
        names = model_names(runner.name, [tool.name for tool in mcp_tools], taken)
        tools = [self._tool(runner, name, tool) for name, tool in zip(names, mcp_tools, strict=True)]
        self._registry.replace_source(runner.name, tools)

    def _tool(self, runner: ServerRunner, name: str, tool: types.Tool) -> Tool:
        async def call(**arguments: Any) -> str:
            return await runner.call_tool(tool.name, arguments)

        parameters = dict(tool.input_schema)
        parameters.setdefault("type", "object")
        if parameters["type"] == "object":
            parameters.setdefault("properties", {})
        annotations = tool.annotations
        return Tool(name, tool.description or tool.title or tool.name, parameters, call,
                    timeout_s=runner.call_timeout_s, source=runner.name, title=tool.name,
                    read_only=bool(annotations and annotations.read_only_hint))

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("MCP status listener failed")


def _split(servers: McpConfig | Iterable[ServerConfig]) -> tuple[tuple[ServerConfig, ...], tuple[str, ...]]:
    if isinstance(servers, McpConfig):
        return servers.servers, servers.errors
    return tuple(servers), ()

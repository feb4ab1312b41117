"""A stand-in with the MCP host's interface as the app sees it (statuses, listeners, config errors, close), for
the Tools page and its screenshot. The real host (desktop/tools/mcp) is built on another branch; once joined,
tests that need real servers start them with the `mcp` SDK instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Status:
    name: str
    state: str
    tool_count: int = 0
    reason: str = ""
    stderr_tail: str = ""


@dataclass
class StandInHost:
    servers: list[Status]
    config_errors: list[str] = field(default_factory=list)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False

    def statuses(self) -> list[Status]:
        return list(self.servers)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    async def aclose(self) -> None:
        self.closed = True

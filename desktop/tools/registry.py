"""The function-calling registry: what the model may call, declared once with its JSON schema.

Tool results go back to the model as strings, so every outcome — success, bad arguments, an exception, a timeout —
becomes a JSON string the model can talk about, instead of an exception that would leave the call unanswered and
the conversation stuck waiting for a `function_call_output`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop.tools.validation import ArgumentChecker, InvalidArguments

log = logging.getLogger(__name__)

ToolFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    """One callable the model may use. `name` is the model-facing name (letters, digits, `_`, `-`, ≤ 64 chars);
    `source` says where it comes from ("builtin", or an MCP server's name) and `title` the name it has there.
    `read_only` tools have no side effects and may run without asking the user (see desktop/tools/approvals)."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    function: ToolFunction
    timeout_s: float = 10.0
    tags: tuple[str, ...] = field(default=())
    source: str = "builtin"
    title: str = ""
    read_only: bool = False

    def schema(self) -> dict[str, Any]:
        """The entry for `session.update`'s `tools` list."""
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": dict(self.parameters)}


class ToolRegistry:
    """Every tool the model may call, grouped by source. Listeners hear about every change (an MCP server's
    tools arriving, changing or leaving), so the session's tool list can be updated live."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._listeners: list[Callable[[], None]] = []
        self.checker = ArgumentChecker()
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        self._changed()

    def replace_source(self, source: str, tools: Iterable[Tool]) -> None:
        """Puts `tools` in place of everything `source` had (an empty list removes the source's tools)."""
        new = list(tools)
        for tool in new:
            other = self._tools.get(tool.name)
            if tool.source != source or (other is not None and other.source != source):
                raise ValueError(f"a tool named {tool.name!r} belongs to another source")
        self._tools = {n: t for n, t in self._tools.items() if t.source != source}
        self._tools.update((t.name, t) for t in new)
        self._changed()

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener()` after every change; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    def parse_arguments(self, tool: Tool, arguments_json: str) -> dict[str, Any]:
        """The call's arguments, checked against the tool's JSON schema (InvalidArguments says what is wrong)."""
        return self.checker.parse(tool.name, tool.parameters, arguments_json)

    async def call(self, name: str, arguments_json: str) -> str:
        """Runs a tool and always returns a JSON string (the result, or {"error": ...}). The arguments are
        validated against the tool's schema first: a tool never sees arguments its schema forbids."""
        tool = self._tools.get(name)
        if tool is None:
            return json.dumps({"error": f"unknown tool {name!r}", "available": self.names()})
        try:
            arguments = self.parse_arguments(tool, arguments_json)
        except InvalidArguments as exc:
            return json.dumps({"error": str(exc), "parameters": dict(tool.parameters)})
        try:
            if inspect.iscoroutinefunction(tool.function):
                result = await asyncio.wait_for(tool.function(**arguments), tool.timeout_s)
            else:
                result = tool.function(**arguments)
        except TimeoutError:
            return json.dumps({"error": f"{name} took longer than {tool.timeout_s:g} s"})
        except TypeError as exc:
            return json.dumps({"error": f"bad arguments for {name}: {exc}"})
        except Exception as exc:
            log.warning("tool %s failed: %s", name, exc)
            return json.dumps({"error": f"{name} failed: {exc}"})
        return result if isinstance(result, str) else json.dumps(result)

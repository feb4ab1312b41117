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

log = logging.getLogger(__name__)

ToolFunction = Callable[..., Any] | Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]
    function: ToolFunction
    timeout_s: float = 10.0
    tags: tuple[str, ...] = field(default=())

    def schema(self) -> dict[str, Any]:
        """The entry for `session.update`'s `tools` list."""
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": dict(self.parameters)}


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    async def call(self, name: str, arguments_json: str) -> str:
        """Runs a tool and always returns a JSON string (the result, or {"error": ...})."""
        tool = self._tools.get(name)
        if tool is None:
            return json.dumps({"error": f"unknown tool {name!r}", "available": self.names()})
        try:
            arguments = json.loads(arguments_json or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return json.dumps({"error": f"bad arguments for {name}: {exc}"})
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

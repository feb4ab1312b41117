"""Every tool outcome becomes a JSON string the model can use; schemas are what session.update needs."""

from __future__ import annotations

import asyncio
import json

import pytest

from desktop.tools.builtin import calculate, default_registry
from desktop.tools.registry import Tool, ToolRegistry


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_calculator_through_the_registry() -> None:
    out = json.loads(run(default_registry().call("calculate", '{"expression": "12*7"}')))
    assert out == {"expression": "12*7", "result": 84}


def test_calculator_refuses_code() -> None:
    with pytest.raises(ValueError):
        calculate("__import__('os').system('true')")
    out = json.loads(run(default_registry().call("calculate", '{"expression": "open(1)"}')))
    assert "error" in out


def test_time_tool_returns_local_time() -> None:
    out = json.loads(run(default_registry().call("get_current_time", "{}")))
    assert {"time", "date", "timezone", "utc_offset"} <= set(out) and ":" in out["time"]


@pytest.mark.parametrize(("name", "args", "needle"), [
    ("nope", "{}", "unknown tool"),
    ("calculate", "not json", "bad arguments"),
    ("calculate", '{"wrong": 1}', "bad arguments"),
    ("calculate", "[1]", "must be a JSON object"),
])
def test_bad_calls_become_error_strings(name: str, args: str, needle: str) -> None:
    assert needle in json.loads(run(default_registry().call(name, args)))["error"]


def test_slow_and_failing_tools() -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    def broken() -> str:
        raise RuntimeError("disk on fire")

    registry = ToolRegistry([
        Tool("slow", "", {"type": "object", "properties": {}}, slow, timeout_s=0.05),
        Tool("broken", "", {"type": "object", "properties": {}}, broken),
    ])
    assert "longer than" in json.loads(run(registry.call("slow", "{}")))["error"]
    assert "disk on fire" in json.loads(run(registry.call("broken", "{}")))["error"]
    with pytest.raises(ValueError):
        registry.register(Tool("slow", "", {}, slow))


def test_schemas_validate_as_realtime_function_tools() -> None:
    from openai.types.realtime.realtime_function_tool import RealtimeFunctionTool

    for schema in default_registry().schemas():
        tool = RealtimeFunctionTool.model_validate(schema)
        assert tool.name and not tool.model_extra


def test_replace_source_swaps_only_that_sources_tools_and_tells_listeners() -> None:
    registry = default_registry()
    changes: list[list[str]] = []
    registry.add_listener(lambda: changes.append(registry.names()))

    def echo(text: str) -> str:
        return text

    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    registry.replace_source("files", [Tool("files_read", "Read.", schema, echo, source="files", read_only=True)])
    registry.replace_source("files", [Tool("files_list", "List.", schema, echo, source="files")])
    assert registry.names() == ["get_current_time", "calculate", "files_list"]
    registry.replace_source("files", [])
    assert registry.names() == ["get_current_time", "calculate"]
    assert len(changes) == 3 and changes[0][-1] == "files_read"
    with pytest.raises(ValueError, match="another source"):
        registry.replace_source("files", [Tool("calculate", "Clash.", schema, echo, source="files")])

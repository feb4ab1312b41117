"""Arguments are checked against the tool's JSON schema before the tool runs, built-ins and MCP tools alike."""

from __future__ import annotations

import asyncio
import json

import pytest

from desktop.tools.builtin import default_registry
from desktop.tools.registry import Tool, ToolRegistry
from desktop.tools.validation import ArgumentChecker, InvalidArguments

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "units": {"enum": ["metric", "imperial"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def test_valid_arguments_come_back_as_a_dict() -> None:
    assert ArgumentChecker().parse("forecast", SCHEMA, '{"city": "Oslo", "days": 3}') == {"city": "Oslo", "days": 3}


@pytest.mark.parametrize(("arguments", "needles"), [
    ("{}", ["'city' is a required property"]),
    ('{"city": "Oslo", "days": "three"}', ["at 'days'", "is not of type 'integer'"]),
    ('{"city": "Oslo", "days": 30}', ["at 'days'", "30 is greater than the maximum of 7"]),
    ('{"city": "Oslo", "units": "kelvin"}', ["at 'units'", "'kelvin' is not one of"]),
    ('{"city": "Oslo", "colour": "red"}', ["'colour' was unexpected"]),
    ('{"city": 5, "days": 0}', ["at 'city'", "at 'days'"]),
    ("[]", ["must be a JSON object"]),
    ("{", ["not valid JSON"]),
])
def test_each_problem_is_named_with_its_place(arguments: str, needles: list[str]) -> None:
    with pytest.raises(InvalidArguments) as caught:
        ArgumentChecker().parse("forecast", SCHEMA, arguments)
    message = str(caught.value)
    assert message.startswith("bad arguments for forecast")
    for needle in needles:
        assert needle in message


def test_a_broken_schema_is_reported_not_run() -> None:
    with pytest.raises(InvalidArguments, match="schema is invalid"):
        ArgumentChecker().parse("odd", {"type": "no-such-type"}, "{}")


def test_the_tool_never_runs_with_invalid_arguments() -> None:
    calls: list[dict[str, object]] = []

    def forecast(**kwargs: object) -> str:
        calls.append(kwargs)
        return "sunny"

    registry = ToolRegistry([Tool("forecast", "", SCHEMA, forecast)])
    out = json.loads(asyncio.run(registry.call("forecast", '{"city": "Oslo", "days": 99}')))
    assert "greater than the maximum" in out["error"] and out["parameters"] == SCHEMA
    assert calls == []
    assert asyncio.run(registry.call("forecast", '{"city": "Oslo", "days": 2}')) == "sunny"
    assert calls == [{"city": "Oslo", "days": 2}]


def test_builtins_are_validated_too() -> None:
    out = json.loads(asyncio.run(default_registry().call("calculate", '{"expression": 12}')))
    assert "at 'expression'" in out["error"] and "is not of type 'string'" in out["error"]


def test_validators_are_compiled_once_per_schema() -> None:
    checker = ArgumentChecker()
    checker.parse("forecast", SCHEMA, '{"city": "Oslo"}')
    first = checker._validator(SCHEMA)
    checker.parse("forecast", SCHEMA, '{"city": "Bergen"}')
    assert checker._validator(SCHEMA) is first
    assert checker._validator(dict(SCHEMA)) is not first

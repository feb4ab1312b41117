"""Checks Realtime events against the `openai` package's typed models, strictly.

The models accept unknown keys (``extra="allow"``), so plain validation would wave through a misspelled field
or a beta-era one such as ``temperature`` — exactly what makes the live server reject a whole
``session.update``. Here every parsed model is walked and any ``model_extra`` entry is reported with its path.

The model is looked up by the event's ``type`` instead of validating against the unions: the unions' tag is
not a real pydantic discriminator, so their errors can name the wrong event class and validation is slow.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

import pydantic
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

__all__ = ["client_event_problems", "server_event_problems"]


def _union_members(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _union_members(typing.get_args(annotation)[0])
    elif origin is typing.Union:
        for arg in typing.get_args(annotation):
            yield from _union_members(arg)
    else:
        yield annotation


def _models_by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    table: dict[str, type[pydantic.BaseModel]] = {}
    for member in _union_members(union):
        field = member.model_fields["type"]
        for literal in typing.get_args(field.annotation):
            table[literal] = member
    return table


@cache
def _client_models() -> dict[str, type[pydantic.BaseModel]]:
    return _models_by_type(RealtimeClientEvent)


@cache
def _server_models() -> dict[str, type[pydantic.BaseModel]]:
    return _models_by_type(RealtimeServerEvent)


def _undeclared(value: Any, path: str) -> Iterator[str]:
    """Yields the paths of keys no model declares, at every level of the parsed value."""
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            yield f"{path}.{key}" if path else key
        for name, field in type(value).model_fields.items():
            child = getattr(value, name, None)
            key = field.alias or name
            yield from _undeclared(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _undeclared(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, pydantic.BaseModel | list | dict):
                yield from _undeclared(item, f"{path}.{key}")


def _problems(event: Any, models: dict[str, type[pydantic.BaseModel]], side: str) -> list[str]:
    if not isinstance(event, dict):
        return [f"{side} event is not a JSON object: {type(event).__name__}"]
    kind = event.get("type")
    if not isinstance(kind, str):
        return [f"{side} event has no string 'type' field"]
    model = models.get(kind)
    if model is None:
        return [f"{kind}: not a known {side} event type"]
    try:
        parsed = model.model_validate(event)
    except pydantic.ValidationError as exc:
        return [
            f"{kind}: {'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors()
        ]
    return [f"{kind}: undeclared field {path}" for path in _undeclared(parsed, "")]


def client_event_problems(event: dict[str, Any]) -> list[str]:
    """Empty when `event` is a valid client event with no undeclared field; else one line per problem."""
    return _problems(event, _client_models(), "client")


def server_event_problems(event: dict[str, Any]) -> list[str]:
    """Empty when `event` is a valid server event with no undeclared field; else one line per problem."""
    return _problems(event, _server_models(), "server")


# ------------------------------------------------------------------------------------------------ GPT-Live

# Appends whose `delegation_id` the API requires even when it is null, though the models give it a default.
_LIVE_NEEDS_DELEGATION_ID = ("session.instructions.append", "session.thinking.append", "session.commentary.append")


@cache
def _live_client_models() -> dict[str, type[pydantic.BaseModel]]:
    from openai.types.live import ClientEvent

    return _models_by_type(ClientEvent)


@cache
def _live_server_models() -> dict[str, type[pydantic.BaseModel]]:
    from openai.types.live import ServerEvent

    return _models_by_type(ServerEvent)


def live_client_event_problems(event: dict[str, Any]) -> list[str]:
    """As client_event_problems, for GPT-Live (`openai.types.live`), plus the required `delegation_id`."""
    problems = _problems(event, _live_client_models(), "live client")
    if isinstance(event, dict) and event.get("type") in _LIVE_NEEDS_DELEGATION_ID and "delegation_id" not in event:
        problems.append(f"{event['type']}: delegation_id is required (null for none)")
    return problems


def live_server_event_problems(event: dict[str, Any]) -> list[str]:
    return _problems(event, _live_server_models(), "live server")

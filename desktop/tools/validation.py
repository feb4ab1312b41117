"""Arguments checked against the tool's JSON schema before anything runs.

The model writes the arguments; an MCP server (or a built-in) should never see ones its schema forbids. A refusal
names every problem with where it is, so the model can correct itself on its next try. Validators are compiled
once per schema (MCP schemas are plain dicts, so they are cached by the identity of the tool that carries them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

MAX_PROBLEMS = 5


class InvalidArguments(ValueError):
    """The arguments cannot be used; the message is meant for the model."""


class _Validator(Protocol):
    def iter_errors(self, instance: Any) -> Any: ...


class ArgumentChecker:
    """Parses a call's JSON arguments and validates them against a schema (Draft 2020-12 unless it says)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Mapping[str, Any], _Validator | str]] = {}

    def parse(self, name: str, schema: Mapping[str, Any], arguments_json: str) -> dict[str, Any]:
        """The arguments as a dict, or InvalidArguments with a message saying what is wrong and where."""
        try:
            arguments = json.loads(arguments_json or "{}")
        except ValueError as exc:
            raise InvalidArguments(f"bad arguments for {name}: not valid JSON ({exc})") from None
        if not isinstance(arguments, dict):
            raise InvalidArguments(f"bad arguments for {name}: arguments must be a JSON object")
        validator = self._validator(schema)
        if isinstance(validator, str):
            raise InvalidArguments(f"{name} cannot be called: its own parameter schema is invalid ({validator})")
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            problems = [_describe(error) for error in errors[:MAX_PROBLEMS]]
            more = f" (and {len(errors) - MAX_PROBLEMS} more)" if len(errors) > MAX_PROBLEMS else ""
            raise InvalidArguments(f"bad arguments for {name}: " + "; ".join(problems) + more)
        return arguments

    def _validator(self, schema: Mapping[str, Any]) -> _Validator | str:
        cached = self._cache.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        from jsonschema import exceptions, validators  # imported on first call: start-up does not pay for it

        plain = _plain(schema)
        cls = validators.validator_for(plain, default=validators.Draft202012Validator)
        compiled: _Validator | str
        try:
            cls.check_schema(plain)
            compiled = cls(plain)
        except exceptions.SchemaError as exc:
            compiled = str(exc.message)
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[id(schema)] = (schema, compiled)  # the schema is kept alive, so its id stays its own
        return compiled


def _plain(value: Any) -> Any:
    """Mappings become dicts (a Tool's parameters may be any Mapping; jsonschema wants dicts)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return f"at '{path}': {error.message}" if path else str(error.message)

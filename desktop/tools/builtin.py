"""Built-in tools: small, local, safe. They give the model facts it cannot know (the local time) and exact
arithmetic (which speech models get wrong), and prove the function-calling path end to end."""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

from desktop.tools.registry import Tool, ToolRegistry

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _evaluate(node: ast.AST) -> float:
    """Walks the parsed expression allowing numbers and arithmetic only: never eval() model-written text."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return float(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return float(_UNARY[type(node.op)](_evaluate(node.operand)))
    raise ValueError("only numbers and + - * / // % ** are allowed")


def calculate(expression: str) -> dict[str, Any]:
    if len(expression) > 200:
        raise ValueError("expression too long")
    value = _evaluate(ast.parse(expression, mode="eval"))
    result: float | int = int(value) if float(value).is_integer() else round(value, 10)
    return {"expression": expression, "result": result}


def current_time(now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()) -> dict[str, str]:
    stamp = now()
    return {"time": stamp.strftime("%H:%M"), "date": stamp.strftime("%A %d %B %Y"),
            "timezone": stamp.tzname() or "local"}


def builtin_tools() -> list[Tool]:
    return [
        Tool("get_current_time", "Get the user's local date, time and time zone.",
             {"type": "object", "properties": {}, "additionalProperties": False}, current_time, read_only=True),
        Tool("calculate", "Evaluate an arithmetic expression exactly, e.g. '12*7' or '(3+4)/2'.",
             {"type": "object", "properties": {"expression": {"type": "string", "description": "arithmetic only"}},
              "required": ["expression"], "additionalProperties": False}, calculate, read_only=True),
    ]


def default_registry() -> ToolRegistry:
    return ToolRegistry(builtin_tools())

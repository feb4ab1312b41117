"""Built-in tools: small and local. They give the model facts it cannot know (the local time and time zone),
exact arithmetic (which speech models get wrong), timers and reminders (desktop/tools/timers.py) and, when the app
injects them, the clipboard and the browser (desktop/tools/desktop_actions.py).

Names are stable (the approvals service switches tools on and off by name): get_current_time, calculate,
set_timer, list_timers, cancel_timer, read_clipboard, open_url."""

from __future__ import annotations

import ast
import datetime as dt
import functools
import operator
import os
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.tools.desktop_actions import ClipboardReader, UrlOpener, desktop_tools
from desktop.tools.registry import Tool, ToolRegistry

if TYPE_CHECKING:
    from desktop.tools.timers import TimerBook

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


def zone_name(environ: dict[str, str] | None = None, localtime: Path = Path("/etc/localtime"),
              timezone_file: Path = Path("/etc/timezone")) -> str | None:
    """The IANA name of the user's time zone ("Europe/Paris") where the system says it: TZ, the target of the
    /etc/localtime link, or /etc/timezone. None when none of them names a known zone (e.g. on Windows)."""
    candidates: list[str] = []
    tz = (environ if environ is not None else os.environ).get("TZ", "")
    if tz:
        candidates.append(tz.removeprefix(":").split("zoneinfo/")[-1])
    try:
        target = os.readlink(localtime)
        candidates.append(target.split("zoneinfo/")[-1])
    except OSError:
        pass
    try:
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        try:
            zoneinfo.ZoneInfo(name)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            continue
        return name
    return None


@functools.lru_cache(maxsize=1)
def _system_zone(minute: int) -> str | None:
    """zone_name() read at most once a minute (it reads /etc; the loop should not, on every call)."""
    return zone_name()


def system_zone() -> str | None:
    return _system_zone(int(time.monotonic() // 60))


def current_time(now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
                 zone: Callable[[], str | None] = system_zone) -> dict[str, str]:
    """The local time, date and zone: IANA name (or the abbreviation when there is none), abbreviation and UTC
    offset, e.g. {"timezone": "Europe/Paris", "abbreviation": "CET", "utc_offset": "+01:00"}."""
    stamp = now()
    offset = stamp.utcoffset() or dt.timedelta(0)
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, rest = divmod(abs(int(offset.total_seconds())), 3600)
    abbreviation = stamp.tzname() or "local"
    return {"time": stamp.strftime("%H:%M"), "date": stamp.strftime("%A %d %B %Y"),
            "timezone": zone() or abbreviation, "abbreviation": abbreviation,
            "utc_offset": f"{sign}{hours:02d}:{rest // 60:02d}", "iso": stamp.isoformat(timespec="seconds")}


def builtin_tools(timers: TimerBook | None = None, clipboard: ClipboardReader | None = None,
                  open_url: UrlOpener | None = None) -> list[Tool]:
    """The time and the calculator always; timers with a book; the clipboard and links when the app gives
    the callables that reach the desktop."""
    tools = [
        Tool("get_current_time", "Get the user's local date, time and time zone (IANA name and UTC offset).",
             {"type": "object", "properties": {}, "additionalProperties": False}, current_time,
             read_only=True),
        Tool("calculate", "Evaluate an arithmetic expression exactly, e.g. '12*7' or '(3+4)/2'.",
             {"type": "object", "properties": {"expression": {"type": "string", "description": "arithmetic only"}},
              "required": ["expression"], "additionalProperties": False}, calculate,
             read_only=True),
    ]
    if timers is not None:
        from desktop.tools.timer_tools import timer_tools

        tools += timer_tools(timers)
    return tools + desktop_tools(clipboard, open_url)


def default_registry(timers: TimerBook | None = None, clipboard: ClipboardReader | None = None,
                     open_url: UrlOpener | None = None) -> ToolRegistry:
    return ToolRegistry(builtin_tools(timers, clipboard, open_url))

"""Shared by the timer tests: a settable clock and books that live in a test's folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from desktop.tools.registry import ToolRegistry
from desktop.tools.timers import Timer, TimerBook

ZONE = dt.timezone(dt.timedelta(hours=1), "CET")  # fixed offset: no daylight saving in these cases
T = TypeVar("T")


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()
    return asyncio.run(main())


def book_at(path: Path, start: dt.datetime, fired: list[Timer] | None = None) -> tuple[TimerBook, Clock]:
    clock = Clock(start)
    book = TimerBook(path / "timers.json", fired.append if fired is not None else None, clock=clock, tz=ZONE)
    return book, clock


def started(path: Path, start: dt.datetime) -> tuple[TimerBook, Clock]:
    """A book whose saved timers are read (the loop that read them is gone: these tests fire by check())."""
    book, clock = book_at(path, start)
    run(book.start)
    return book, clock


def call(registry: ToolRegistry, name: str, **arguments: Any) -> Any:
    return json.loads(run(lambda: registry.call(name, json.dumps(arguments))))

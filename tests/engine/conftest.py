"""One engine process for the whole engine test run, started through the app's own launcher: models load
once (~3 s), and the tests talk to it over a real WebSocket exactly as the app would."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from desktop.engine.launcher import EngineProcess, start_engine

T = TypeVar("T")


@dataclass
class RunningEngine:
    runner: asyncio.Runner
    process: EngineProcess

    @property
    def url(self) -> str:
        return self.process.url

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)


@pytest.fixture(scope="session")
def engine() -> Iterator[RunningEngine]:
    runner = asyncio.Runner()
    process = runner.run(start_engine(sys.executable, timeout=120))
    try:
        yield RunningEngine(runner, process)
    finally:
        code = runner.run(process.stop())
        runner.close()
        assert code == 0, f"engine exited with {code}: {process.stderr_tail()}"

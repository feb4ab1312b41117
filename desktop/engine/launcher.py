"""Starting the engine from the app: spawn it, wait for its READY line, hand back the URL; stop it again.

The engine is a separate process so its models (~300 MB, native threads) never share the GUI's interpreter and
a crash in them cannot take the window down. In a PyInstaller bundle `sys.executable` is the app itself, so the
bundle's entry point must pass `--engine ...` through to `desktop.engine.__main__.main`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import deque

from desktop.engine import READY_PREFIX
from desktop.engine.lifeline import PARENT_PID_ENV

__all__ = ["EngineProcess", "EngineUnavailable", "engine_command", "start_engine"]

STOP_GRACE_S = 5.0
STDERR_TAIL_LINES = 20
MISSING_EXTRA_EXIT = 3


class EngineUnavailable(RuntimeError):
    """The engine could not start; the message says why in words a user can act on."""


def engine_command(python: str = sys.executable, port: int = 0) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "--engine", "--port", str(port)]
    return [python, "-m", "desktop.engine", "--port", str(port)]


class EngineProcess:
    def __init__(self, process: asyncio.subprocess.Process, url: str, stderr_task: asyncio.Task[None],
                 stderr_tail: deque[str]) -> None:
        self.process = process
        self.url = url
        self._stderr_task = stderr_task
        self._stderr_tail = stderr_tail

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    async def stop(self) -> int | None:
        """Terminates (SIGTERM: the engine closes its connections and exits), kills after 5 s."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self.process.stdin is not None:  # the lifeline: nothing is left to watch it
            self.process.stdin.close()
        # The pipe closes with the process: let the last lines (often the reason it exited) arrive.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._stderr_task, 2.0)
        return self.process.returncode


async def _drain(stream: asyncio.StreamReader | None, tail: deque[str]) -> None:
    """Keeps reading the engine's stderr so its pipe never fills and blocks it; remembers the last lines."""
    if stream is None:
        return
    while line := await stream.readline():
        tail.append(line.decode("utf-8", "replace").rstrip())


async def start_engine(python: str = sys.executable, timeout: float = 60) -> EngineProcess:  # noqa: ASYNC109
    """Spawns the engine and returns once it prints its READY line; raises EngineUnavailable with the reason
    (missing `offline` extra, model load failure, timeout) otherwise."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", PARENT_PID_ENV: str(os.getpid())}
    try:
        # stdin is the engine's lifeline: we never write to it, and when this process ends however it ends, the
        # engine reads end-of-file and stops (desktop/engine/lifeline.py; on Linux it also asks for PDEATHSIG).
        process = await asyncio.create_subprocess_exec(
            *engine_command(python), "--exit-with-parent", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    except OSError as exc:
        raise EngineUnavailable(f"could not start the offline engine: {exc}") from exc
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    stderr_task = asyncio.ensure_future(_drain(process.stderr, tail))
    engine = EngineProcess(process, "", stderr_task, tail)
    try:
        engine.url = await asyncio.wait_for(_ready_url(process), timeout)
    except TimeoutError:
        await engine.stop()
        raise EngineUnavailable(f"the offline engine did not become ready within {timeout:.0f} s"
                                + _reason(tail)) from None
    except EngineUnavailable:  # its stdout closed: it is exiting on its own
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        await engine.stop()
        if process.returncode == MISSING_EXTRA_EXIT:
            raise EngineUnavailable("offline engine needs the `offline` extra: pip install 'parley[offline]'"
                                    + _reason(tail)) from None
        raise EngineUnavailable(f"the offline engine exited (code {process.returncode})" + _reason(tail)) from None
    except BaseException:
        await engine.stop()
        raise
    return engine


async def _ready_url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        text = line.decode("utf-8", "replace").strip()
        if text.startswith(READY_PREFIX + " "):
            return text[len(READY_PREFIX) + 1 :]
    raise EngineUnavailable("the engine closed its output before it was ready")


def _reason(tail: deque[str]) -> str:
    lines = [line for line in tail if line.strip()]
    return (": " + " | ".join(lines[-5:])) if lines else ""

"""The child-process side of a stdio MCP server: the tail of its stderr, and its end when Parley ends.

A well-behaved server exits when its stdin closes, which happens however Parley ends (the kernel closes the pipe).
For servers that do not, Linux can send the child a signal when its parent dies (PR_SET_PDEATHSIG); the SDK's
stdio transport spawns the process itself, so the command is prefixed with a tiny Python trampoline that sets the
signal and then exec()s the real command: same process id, same pipes, nothing else changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections import deque
from typing import TextIO

TAIL_LINES = 20
_MAX_LINE = 500

# argv: trampoline PARENT_PID COMMAND ARGS...; PR_SET_PDEATHSIG is 1. A parent already gone before the prctl
# took effect would never be signalled, hence the getppid check after it.
_TRAMPOLINE = (
    "import ctypes,os,signal,sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "try:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "except OSError as e:\n"
    "    sys.stderr.write(f'cannot start {sys.argv[2]}: {e.strerror}\\n'); sys.exit(127)\n"
)


def parent_death_command(command: str, args: list[str]) -> tuple[str, list[str]]:
    """The command and arguments that run `command args` with SIGTERM on Parley's death (Linux, not frozen: a
    bundle has no separate Python to run the trampoline with); elsewhere the command unchanged."""
    if sys.platform != "linux" or getattr(sys, "frozen", False) or not sys.executable:
        return command, list(args)
    return sys.executable, ["-I", "-S", "-c", _TRAMPOLINE, str(os.getpid()), command, *args]


class StderrTail:
    """Keeps the last lines a child wrote to stderr. `open()` gives the file to hand the child; a daemon thread
    reads the pipe (a child blocked on a full stderr pipe would hang), never the event loop."""

    def __init__(self, lines: int = TAIL_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=lines)
        self._lock = threading.Lock()  # the reader thread appends while the loop copies
        self._writer: TextIO | None = None
        self._thread: threading.Thread | None = None

    def lines(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._lines)

    def open(self) -> TextIO:
        """A new pipe for one run of the server; the lines of earlier runs stay until new ones push them out."""
        read_fd, write_fd = os.pipe()
        self._writer = os.fdopen(write_fd, "w")
        reader = os.fdopen(read_fd, "r", encoding="utf-8", errors="replace")
        self._thread = threading.Thread(target=self._read, args=(reader,), name="mcp-stderr", daemon=True)
        self._thread.start()
        return self._writer

    def release_writer(self) -> None:
        """Closes Parley's copy of the write end once the child has its own, so the reader sees EOF when the
        child (and any grandchild holding stderr) is gone."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def finish(self, timeout_s: float = 1.0) -> None:
        """Waits (off the loop) for the reader to take in what the ended child wrote last."""
        self.release_writer()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, timeout_s)

    def _read(self, reader: TextIO) -> None:
        with reader:
            for line in reader:
                line = line.rstrip("\r\n")
                if line:
                    with self._lock:
                        self._lines.append(line[:_MAX_LINE])

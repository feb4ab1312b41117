"""Looking at processes from outside, through /proc (Linux): whether one still runs, and a process's children.

A process whose parent was killed is re-parented to PID 1, which on some machines (containers, VMs) never reaps
it: a zombie has exited, so it counts as gone here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]  # the name in parentheses may contain spaces
    return state not in ("Z", "X")


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every running process whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and running(int(entry.name)):
            found.append((int(entry.name), cmdline.strip()))
    return found


def wait_gone(pid: int, within: float) -> bool:
    """Polls until the process has ended; False if it still runs after `within` seconds."""
    deadline = time.monotonic() + within
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def kill_quietly(pid: int) -> None:
    """Test clean-up: whatever a failing test left running must not outlive the run."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)

"""Child processes that end with Parley, however Parley ends (closed, crashed, SIGKILLed, X connection lost).

Two independent lines, because neither alone covers every platform and every moment:

* **The pipe** (portable: Linux, macOS, Windows). The parent starts the child with its stdin as a pipe and keeps
  the write end open without ever writing. The operating system closes that end when the parent process ends,
  whatever the cause, so the child reads end-of-file: `watch_stdin()` runs a daemon thread that turns that EOF
  into SIGTERM for its own process (the normal, graceful stop). Our end of the pipe is not inherited by other
  children (PEP 446), so no sibling keeps it open. Use it for children whose stdin is free (the offline engine).
* **PR_SET_PDEATHSIG** (Linux). The kernel sends the child a signal when the thread that started it exits.
  `die_with_parent()` asks for it from inside a Python child. For any other program, `with_parent_death_signal()`
  wraps its command line in this module's tiny launcher (`python -m desktop.engine.lifeline --parent PID -- cmd`),
  which asks for the signal and then exec()s the program; the setting survives exec (not into set-uid programs).
  This is the one for stdio MCP servers, whose stdin is their protocol channel:

      params = StdioServerParameters(command=argv[0], args=argv[1:]) where argv = with_parent_death_signal(cmd)

  Caveat: the signal follows the *thread* that forked the child. Start children from the event loop's thread
  (the GUI thread under qasync), not from a worker thread that may end before Parley does.

Both lines check for the parent already being gone by the time they are set up (the signal cannot be asked for
after the fact), so a parent dying during the child's start-up leaves nothing behind either.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

__all__ = ["PARENT_PID_ENV", "die_with_parent", "main", "watch_stdin", "with_parent_death_signal"]

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_PID_ENV = "PARLEY_PARENT_PID"  # the launcher's pid, so a child can tell it was orphaned before it asked
LIFELINE_FLAG = "--lifeline"  # a frozen bundle has no `python -m`: its entry point routes this flag here


def die_with_parent(parent_pid: int | None = None, signum: int = signal.SIGTERM) -> bool:
    """Linux: ask the kernel to send `signum` to this process when its parent ends. When `parent_pid` (default:
    $PARLEY_PARENT_PID) is given, is no longer our parent and no longer exists, it died before we could ask: the
    signal is sent now. (A parent that exists but is not ours, as behind a launcher process, is left alone.)
    Returns False where the request is not available (other systems, no libc), True otherwise."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    if libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(int(signum)), 0, 0, 0) != 0:
        return False
    expected = parent_pid if parent_pid is not None else _env_parent()
    if expected is not None and os.getppid() != expected and not _exists(expected):
        os.kill(os.getpid(), signum)
    return True


def watch_stdin(on_eof: Callable[[], None] | None = None) -> threading.Thread:
    """Starts a daemon thread that waits for end-of-file on stdin (the parent's pipe), then calls `on_eof`
    (default: send this process SIGTERM). Anything the parent writes is read and ignored."""
    fd = sys.stdin.fileno() if sys.stdin is not None else 0
    action = on_eof or _terminate_self

    def wait() -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:  # closed or invalid: the parent is gone all the same
            pass
        action()

    thread = threading.Thread(target=wait, name="parley-lifeline", daemon=True)
    thread.start()
    return thread


def with_parent_death_signal(command: Sequence[str], parent_pid: int | None = None) -> list[str]:
    """The command line to start `command` with so that, on Linux, it gets SIGTERM when this process ends.
    Elsewhere the command comes back unchanged (use the pipe there, or rely on the child's own stdin EOF)."""
    if not sys.platform.startswith("linux"):
        return list(command)
    pid = str(parent_pid if parent_pid is not None else os.getpid())
    if getattr(sys, "frozen", False):
        launcher = [sys.executable, LIFELINE_FLAG]
    else:
        launcher = [sys.executable, "-m", "desktop.engine.lifeline"]
    return [*launcher, "--parent", pid, "--", *command]


def main(argv: Sequence[str] | None = None) -> int:
    """The wrapper: ask for the death signal, then become the program (same pid, so the parent's kill reaches
    it and its exit code is the program's)."""
    parser = argparse.ArgumentParser(prog="parley-lifeline",
                                     description="Run a program that gets SIGTERM when the parent process ends.")
    parser.add_argument("--parent", type=int, required=True, help="the pid the program must not outlive")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- program [args...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program given")
    die_with_parent(args.parent)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"parley-lifeline: cannot run {command[0]}: {exc}", file=sys.stderr, flush=True)
        return 127
    return 0  # pragma: no cover - execvp does not return


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _env_parent() -> int | None:
    value = os.environ.get(PARENT_PID_ENV, "")
    return int(value) if value.isdigit() else None


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())

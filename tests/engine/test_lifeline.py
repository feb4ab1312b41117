"""Children that end with their parent: a real parent process is SIGKILLed (no clean-up of its own can run) and
its child must be gone soon after, through each lifeline on its own.

The parent is a small Python process that starts the child and sleeps; the child reports its pid once its
lifeline is in place, on the stdout it shares with the parent (our pipe).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from desktop.engine.lifeline import with_parent_death_signal
from tests.support.processes import kill_quietly, running, wait_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watched through /proc")

ROOT = str(Path(__file__).resolve().parents[2])
ENV = {**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"}
GONE_WITHIN_S = 5.0  # the signal is immediate; the margin is for a loaded machine

CHILD_WATCHING_STDIN = """
import os, time
from desktop.engine.lifeline import watch_stdin
watch_stdin()
print("child", os.getpid(), flush=True)
time.sleep(120)
"""
CHILD_ASKING_FOR_THE_SIGNAL = """
import os, time
from desktop.engine.lifeline import die_with_parent
assert die_with_parent(os.getppid())
print("child", os.getpid(), flush=True)
time.sleep(120)
"""


def parent_script(child: list[str], stdin_pipe: bool) -> str:
    """A parent that starts `child` (stdin a pipe it holds, or /dev/null) and then only sleeps."""
    stdin = "subprocess.PIPE" if stdin_pipe else "subprocess.DEVNULL"
    return textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen({child!r}, stdin={stdin})
        print("parent-started", child.pid, flush=True)
        time.sleep(120)
    """)


@pytest.fixture
def family() -> Iterator[list[int]]:
    """Pids to kill at the end whatever happened (a failing test must not leave its child behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        kill_quietly(pid)


def start_family(child: list[str], stdin_pipe: bool, family: list[int],
                 ready_line: str = "child") -> tuple[subprocess.Popen[str], int]:
    parent = subprocess.Popen([sys.executable, "-c", parent_script(child, stdin_pipe)], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, env=ENV)
    family.append(parent.pid)
    assert parent.stdout is not None
    started = parent.stdout.readline().split()
    assert started[:1] == ["parent-started"], started
    child_pid = int(started[1])
    family.append(child_pid)
    if ready_line:
        line = parent.stdout.readline().split()
        assert line == [ready_line, str(child_pid)], line
    return parent, child_pid


def kill_parent(parent: subprocess.Popen[str]) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    assert parent.stdout is not None
    parent.stdout.close()


def test_the_pipe_alone_ends_the_child_when_the_parent_is_killed(family: list[int]) -> None:
    parent, child = start_family([sys.executable, "-c", CHILD_WATCHING_STDIN], True, family)
    assert running(child)
    kill_parent(parent)
    assert wait_gone(child, GONE_WITHIN_S), "the child outlived its parent"


def test_a_child_without_a_lifeline_is_orphaned(family: list[int]) -> None:
    """The control: what the fix prevents really happens without it (so the tests above prove something)."""
    bare = CHILD_WATCHING_STDIN.replace("watch_stdin()", "pass")
    parent, child = start_family([sys.executable, "-c", bare], True, family)
    kill_parent(parent)
    assert not wait_gone(child, 1.0)


def test_the_death_signal_alone_ends_the_child(family: list[int]) -> None:
    parent, child = start_family([sys.executable, "-c", CHILD_ASKING_FOR_THE_SIGNAL], False, family)
    kill_parent(parent)
    assert wait_gone(child, GONE_WITHIN_S), "PR_SET_PDEATHSIG did not end the child"


def test_any_program_gets_the_death_signal_through_the_wrapper(family: list[int]) -> None:
    """What the MCP host uses for stdio servers: a plain program (no Python of ours inside) with stdin free."""
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import os, subprocess, sys, time
            from desktop.engine.lifeline import with_parent_death_signal
            child = subprocess.Popen(with_parent_death_signal(["sleep", "120"]), stdin=subprocess.DEVNULL)
            print("parent-started", child.pid, flush=True)
            time.sleep(120)
        """)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=ENV)
    family.append(parent.pid)
    assert parent.stdout is not None
    child = int(parent.stdout.readline().split()[1])
    family.append(child)
    # exec keeps the pid: wait until the wrapper has become `sleep` (the signal was asked for before that)
    became = _wait_for(lambda: Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep\0"))
    assert became, "the wrapper never became the program"
    kill_parent(parent)
    assert wait_gone(child, GONE_WITHIN_S), "the wrapped program outlived its parent"


def test_the_wrapper_ends_the_program_if_the_parent_was_already_gone() -> None:
    """The signal cannot be asked for after the parent's death: the wrapper checks, and stops at once."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    command = with_parent_death_signal(["sleep", "120"], parent_pid=gone.pid)
    done = subprocess.run(command, env=ENV, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == -signal.SIGTERM


def test_a_living_grandparent_is_not_taken_for_a_dead_parent() -> None:
    """Behind a launcher process (a one-file bundle's bootloader) the expected pid is alive but not our parent:
    the program must run."""
    command = with_parent_death_signal(["sh", "-c", "exit 7"], parent_pid=os.getppid())
    assert subprocess.run(command, env=ENV, timeout=30, stdin=subprocess.DEVNULL).returncode == 7


def test_the_wrapper_passes_the_programs_exit_code_and_reports_a_missing_program() -> None:
    assert subprocess.run(with_parent_death_signal(["sh", "-c", "exit 7"]), env=ENV, timeout=30).returncode == 7
    missing = subprocess.run(with_parent_death_signal(["/nonexistent/program"]), env=ENV, timeout=30,
                             capture_output=True, text=True)
    assert missing.returncode == 127 and "cannot run /nonexistent/program" in missing.stderr


def _wait_for(condition: Callable[[], bool], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def test_a_frozen_bundle_routes_the_wrapper_through_its_own_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle has no `python -m`: the command becomes `parley --lifeline ...`, which the command line routes."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    command = with_parent_death_signal(["sleep", "1"], parent_pid=42)
    assert command == [sys.executable, "--lifeline", "--parent", "42", "--", "sleep", "1"]
    routed = [sys.executable, "-m", "desktop", *command[1:-2], "sh", "-c", "exit 7"]
    routed[routed.index("42")] = str(os.getpid())
    assert subprocess.run(routed, env=ENV, timeout=60, stdin=subprocess.DEVNULL).returncode == 7

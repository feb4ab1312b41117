"""A stdio server's stderr tail, and its end when Parley dies without closing anything (SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop.tools.mcp.process import StderrTail

ROOT = Path(__file__).resolve().parents[3]


def test_the_tail_keeps_the_last_lines() -> None:
    async def main() -> tuple[str, ...]:
        tail = StderrTail(lines=20)
        writer = tail.open()
        code = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)"
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], stderr=writer, check=True)
        await tail.finish()
        return tail.lines()

    assert asyncio.run(main()) == tuple(f"line {i}" for i in range(10, 30))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_through_the_trampoline_ends_when_its_parent_is_killed() -> None:
    # A stand-in for Parley starts two `sleep`s (which, unlike an MCP server, ignore stdin's end): one through
    # the trampoline, one directly; then it is SIGKILLed. Only the first must go with it.
    code = ("import subprocess, sys, time\n"
            "from desktop.tools.mcp.process import parent_death_command\n"
            "command, args = parent_death_command('sleep', ['600'])\n"
            "guarded = subprocess.Popen([command, *args], stdin=subprocess.DEVNULL)\n"
            "plain = subprocess.Popen(['sleep', '601'], stdin=subprocess.DEVNULL)\n"
            "print(guarded.pid, plain.pid, flush=True)\n"
            "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.stdout is not None
    guarded, plain = (int(pid) for pid in parent.stdout.readline().split())
    try:
        _wait(lambda: _cmdline(guarded).startswith("sleep 600"), "the trampoline to exec the command")
        parent.kill()
        parent.wait(timeout=30)
        _wait(lambda: not _alive(guarded), "the guarded child to end with its parent")
        assert _alive(plain), "a child without the trampoline outlives its killed parent (the control)"
    finally:
        for pid in (guarded, plain):
            if _alive(pid):
                os.kill(pid, 9)


def test_a_stdio_server_ends_when_the_host_process_is_killed(tmp_path: Path) -> None:
    # A stand-in for Parley runs the real McpHost with a real SDK server, then dies by SIGKILL: nothing of
    # Parley's shutdown runs, yet the server must go (its stdin closes; the trampoline's signal backs that up).
    marker = tmp_path / "marker"
    code = ("import asyncio, json, sys\n"
            "from desktop.tools.mcp.config import parse_config\n"
            "from desktop.tools.mcp.host import McpHost\n"
            "from desktop.tools.registry import ToolRegistry\n"
            "from tests.support.mcp_servers import stdio_entry\n"
            "async def main():\n"
            "    registry = ToolRegistry()\n"
            f"    config = parse_config(json.dumps({{'mcpServers': {{'t': stdio_entry({str(marker)!r})}}}}))\n"
            "    host = McpHost(registry, config, lambda name: None)\n"
            "    await host.start()\n"
            "    while 'echo' not in registry.names():\n"
            "        await asyncio.sleep(0.05)\n"
            "    print('ready', flush=True)\n"
            "    await asyncio.sleep(600)\n"
            "asyncio.run(main())\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "ready"
    pid = int(next(line for line in marker.read_text().splitlines() if line.startswith("pid")).split()[1])
    try:
        assert _alive(pid)
        parent.kill()
        parent.wait(timeout=30)
        _wait(lambda: not _alive(pid), "the server to end with its host")
    finally:
        if _alive(pid):
            os.kill(pid, 9)

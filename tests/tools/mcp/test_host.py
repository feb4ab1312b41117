"""The MCP host against real MCP servers (tests/support/mcp_servers.py, written with the SDK's MCPServer), over
stdio and streamable HTTP on 127.0.0.1. The marker file is the server's own account of what it saw (a call
started, finished, cancelled), so "the server observed the cancellation" is checked on the server's side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.tools.mcp.config import parse_config
from desktop.tools.mcp.host import McpHost, ServerStatus
from desktop.tools.registry import ToolRegistry
from tests.support.event_validation import client_event_problems
from tests.support.mcp_servers import SCRIPT, spawn_http, stdio_entry
from tests.support.secret_service import SecretServiceEnv

VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FAKE_TOKEN = "test-key-not-a-secret"


async def until(predicate: Callable[[], object], what: str) -> None:
    """Waits for a condition (not for a time), up to a generous 60 s because the machine is shared. Polling,
    because some conditions are files another process writes (the server's marker)."""
    try:
        async with asyncio.timeout(60):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


@contextlib.asynccontextmanager
async def hosted(servers: dict[str, Any], lookup: Callable[[str], str | None] = lambda name: None,
                 text: str | None = None, **options: Any) -> AsyncIterator[tuple[ToolRegistry, McpHost]]:
    registry = ToolRegistry()
    config = parse_config(text if text is not None else json.dumps({"mcpServers": servers}, indent=2))
    host = McpHost(registry, config, lookup, **options)
    await host.start()
    try:
        yield registry, host
    finally:
        await host.aclose()


def state(host: McpHost, name: str) -> str:
    return next((s.state for s in host.statuses() if s.name == name), "absent")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    marker = tmp_path / "http-marker"
    proc, url = spawn_http(marker)
    try:
        yield url, marker
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_stdio_tools_are_registered_with_valid_names_and_answer(tmp_path: Path) -> None:
    async def main() -> None:
        async with hosted({"t": stdio_entry()}) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            names = registry.names()
            assert set(names) == {"echo", "add", "fail", "slow", "crash", "grow", "forget", "header",
                                  "files_read_all"}
            assert all(VALID_NAME.match(n) for n in names)
            update = {"type": "session.update", "session": {"type": "realtime", "tools": registry.schemas()}}
            assert client_event_problems(update) == []
            echo, fail, files = registry.get("echo"), registry.get("fail"), registry.get("files_read_all")
            assert echo is not None and fail is not None and files is not None
            assert (echo.source, echo.title, echo.read_only) == ("t", "echo", True)
            assert echo.description == "Repeats the text back."
            assert echo.parameters["properties"]["text"]["type"] == "string"
            assert not fail.read_only and files.title == "files.read_all"
            assert await registry.call("echo", '{"text": "hi"}') == "hi"
            assert json.loads(await registry.call("add", '{"a": 1, "b": 2}')) == {"sum": 3.0}
            assert await registry.call("files_read_all", '{"path": "/x"}') == "contents of /x"
            await until(lambda: "server testserver up" in host.statuses()[0].stderr_tail, "the stderr tail")
            status = host.statuses()[0]
            assert (status.name, status.tool_count, status.transport) == ("t", 9, "stdio")

    asyncio.run(main())


def test_errors_and_unknown_tools_are_answered_for_the_model() -> None:
    async def main() -> None:
        async with hosted({"t": stdio_entry()}) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            failed = json.loads(await registry.call("fail", '{"message": "the disk is on fire"}'))
            assert "the disk is on fire" in failed["error"]
            unknown = json.loads(await registry.call("nope", "{}"))
            assert "unknown tool" in unknown["error"] and "echo" in unknown["available"]
            invalid = json.loads(await registry.call("echo", '{"txt": "hi"}'))
            assert "text" in invalid["error"]  # the server's validation message names the missing field
            # A tool the server dropped without telling: the registry still offers it, the server says unknown.
            assert await registry.call("forget", '{"name": "add"}') == "forgot add"
            stale = json.loads(await registry.call("add", '{"a": 1, "b": 2}'))
            assert "Unknown tool" in stale["error"] and "add" in stale["error"]
            assert state(host, "t") == "ready"

    asyncio.run(main())


@pytest.mark.parametrize("where", ["host default", "mcp.json timeout"])
def test_a_timeout_is_answered_and_cancelled_on_the_server(where: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    entry: dict[str, Any] = stdio_entry(marker)
    options: dict[str, Any] = {"call_timeout_s": 1.0}
    if where == "mcp.json timeout":
        entry["timeout"], options = 1, {}

    async def main() -> None:
        async with hosted({"t": entry}, **options) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            echo = registry.get("echo")
            assert echo is not None and echo.timeout_s == 1.0
            out = json.loads(await registry.call("slow", '{"seconds": 30}'))
            assert "took longer than 1 s" in out["error"]
            await until(lambda: "cancelled 30" in lines(marker), "the server to see the cancellation")
            assert await registry.call("echo", '{"text": "still here"}') == "still here"

    asyncio.run(main())


def test_two_calls_run_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    async def main() -> None:
        async with hosted({"t": stdio_entry(marker)}) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            results = await asyncio.gather(registry.call("slow", '{"seconds": 2}'),
                                           registry.call("slow", '{"seconds": 2.5}'))
            assert results == ["slept 2", "slept 2.5"]
            seen = [line for line in lines(marker) if not line.startswith("pid")]
            # Both started before either finished: the second did not wait for the first.
            assert sorted(seen[:2]) == ["started 2", "started 2.5"], seen

    asyncio.run(main())


def test_a_server_exiting_mid_call_fails_its_calls_restarts_and_its_tools_return(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    async def main() -> None:
        async with hosted({"t": stdio_entry(marker)}, backoff_first_s=0.2) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            snapshots: list[list[str]] = []
            statuses: list[ServerStatus] = []
            registry.add_listener(lambda: snapshots.append(registry.names()))
            host.add_listener(lambda: statuses.extend(host.statuses()))
            slow = asyncio.create_task(registry.call("slow", '{"seconds": 30}'))
            await until(lambda: "started 30" in lines(marker), "the slow call to start")
            crashed = json.loads(await registry.call("crash", "{}"))
            assert "stopped during the call" in crashed["error"]
            assert "stopped during the call" in json.loads(await slow)["error"]
            await until(lambda: any(s.state == "restarting" for s in statuses), "the server to be seen down")
            await until(lambda: state(host, "t") == "ready" and "echo" in registry.names(), "the restart")
            assert [] in snapshots, "the tools left the registry while the server was down"
            down = [s for s in statuses if s.state == "restarting" and s.reason]
            assert down and "crashing on purpose" in down[0].stderr_tail
            assert await registry.call("echo", '{"text": "back"}') == "back"
            assert len([line for line in lines(marker) if line.startswith("pid")]) == 2

    asyncio.run(main())


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_list_changed_updates_the_registry(transport: str, request: pytest.FixtureRequest) -> None:
    entry = {"url": request.getfixturevalue("http_server")[0]} if transport == "http" else stdio_entry()

    async def main() -> None:
        async with hosted({"t": entry}) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            changes: list[list[str]] = []
            registry.add_listener(lambda: changes.append(registry.names()))
            assert await registry.call("grow", "{}") == "grown"
            await until(lambda: "extra_tool" in registry.names(), "the new tool")
            assert any("extra_tool" in names for names in changes)
            assert host.statuses()[0].tool_count == 10
            assert await registry.call("extra_tool", "{}") == "extra"

    asyncio.run(main())


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_cancelling_a_call_sends_mcp_cancellation(transport: str, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    if transport == "http":
        url, marker = request.getfixturevalue("http_server")
        entry: dict[str, Any] = {"url": url}
    else:
        marker = tmp_path / "marker"
        entry = stdio_entry(marker)

    async def main() -> None:
        async with hosted({"s": entry}) as (registry, host):
            await until(lambda: state(host, "s") == "ready", "the server to be ready")
            call = asyncio.create_task(registry.call("slow", '{"seconds": 30}'))
            await until(lambda: "started 30" in lines(marker), "the slow call to start")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await until(lambda: "cancelled 30" in lines(marker), "the server to see the cancellation")
            assert "finished 30" not in lines(marker)
            assert await registry.call("echo", '{"text": "next"}') == "next"

    asyncio.run(main())


def test_a_keyring_referenced_header_reaches_the_http_server(http_server: tuple[str, Path]) -> None:
    url, _ = http_server
    secrets = {"web-token": FAKE_TOKEN}
    entry = {"url": url, "headers": {"Authorization": "Bearer ${keyring:web-token}", "X-Plain": "plain"}}

    async def main() -> None:
        async with hosted({"w": entry}, secrets.get) as (registry, host):
            await until(lambda: state(host, "w") == "ready", "the server to be ready")
            assert await registry.call("header", '{"name": "Authorization"}') == f"Bearer {FAKE_TOKEN}"
            assert await registry.call("header", '{"name": "X-Plain"}') == "plain"
            assert host.statuses()[0].transport == "http"

    asyncio.run(main())


def test_a_missing_keyring_secret_fails_the_server_naming_it_until_reload(http_server: tuple[str, Path]) -> None:
    url, _ = http_server
    secrets: dict[str, str] = {}
    servers = {"w": {"url": url, "headers": {"Authorization": "Bearer ${keyring:absent-token}"}}}

    async def main() -> None:
        # A long backoff: only Reload can bring the server back within the test.
        async with hosted(servers, secrets.get, backoff_first_s=600) as (registry, host):
            await until(lambda: state(host, "w") == "failed", "the failure")
            assert "'absent-token'" in host.statuses()[0].reason and registry.names() == []
            secrets["absent-token"] = FAKE_TOKEN
            await host.reload(parse_config(json.dumps({"mcpServers": servers})))
            await until(lambda: state(host, "w") == "ready", "the server after Reload")
            assert await registry.call("header", '{"name": "Authorization"}') == f"Bearer {FAKE_TOKEN}"

    asyncio.run(main())


def test_a_broken_mcp_json_still_starts_the_valid_server() -> None:
    good = json.dumps(stdio_entry())
    text = ('{\n  "mcpServers": {\n    "bad": {"command": 42},\n'
            f'    "good": {good},\n    "worse": {{"url": "ftp://x"}}\n  }}\n}}\n')

    async def main() -> None:
        async with hosted({}, text=text) as (registry, host):
            assert len(host.config_errors) == 2
            assert host.config_errors[0].startswith("mcp.json line 3: server 'bad'")
            assert host.config_errors[1].startswith("mcp.json line 5: server 'worse'")
            await until(lambda: state(host, "good") == "ready", "the valid server")
            assert [s.name for s in host.statuses()] == ["good"] and "echo" in registry.names()

    asyncio.run(main())


def test_a_missing_command_fails_with_a_reason() -> None:
    async def main() -> None:
        async with hosted({"x": {"command": "parley-no-such-mcp-server"}}) as (registry, host):
            await until(lambda: state(host, "x") == "failed", "the failure")
            assert "not found" in host.statuses()[0].reason and registry.names() == []

    asyncio.run(main())


def test_reload_stops_removed_servers_and_starts_new_ones(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    async def main() -> None:
        async with hosted({"a": stdio_entry(marker)}) as (registry, host):
            await until(lambda: state(host, "a") == "ready", "a to be ready")
            await host.reload(parse_config(json.dumps({"mcpServers": {"b": stdio_entry(name="b")}})))
            assert "a" not in [s.source for s in registry.tools()]
            await until(lambda: state(host, "b") == "ready", "b to be ready")
            assert {t.source for t in registry.tools()} == {"b"} and [s.name for s in host.statuses()] == ["b"]
            await host.reload(parse_config('{"mcpServers": {"b": 1}}'))
            assert host.statuses() == [] and registry.names() == [] and len(host.config_errors) == 1

    asyncio.run(main())


def test_aclose_ends_the_server_process(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    async def main() -> int:
        async with hosted({"t": stdio_entry(marker)}) as (_registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            pid = int(next(line for line in lines(marker) if line.startswith("pid")).split()[1])
            assert _alive(pid)
        assert host.statuses() == []
        return pid

    pid = asyncio.run(main())
    assert not _alive(pid)


def test_works_on_the_qasync_loop(qloop: asyncio.Runner) -> None:
    async def main() -> None:
        async with hosted({"t": stdio_entry()}) as (registry, host):
            await until(lambda: state(host, "t") == "ready", "the server to be ready")
            assert await registry.call("echo", '{"text": "qt"}') == "qt"

    qloop.run(main())


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return bool(stat.strip()) and not stat.strip().startswith("Z")


def test_a_header_from_the_real_keyring_reaches_the_http_server(secret_service: SecretServiceEnv,
                                                                http_server: tuple[str, Path]) -> None:
    import keyring

    from desktop.tools.mcp.keyring_secrets import keyring_lookup

    url, _ = http_server
    keyring.set_password("parley", "mcp-web-token", FAKE_TOKEN)
    entry = {"url": url, "headers": {"Authorization": "Bearer ${keyring:mcp-web-token}"}}
    try:
        async def main() -> None:
            async with hosted({"w": entry}, keyring_lookup) as (registry, host):
                await until(lambda: state(host, "w") == "ready", "the server to be ready")
                assert await registry.call("header", '{"name": "Authorization"}') == f"Bearer {FAKE_TOKEN}"
            async with hosted({"w": {"url": url, "headers": {"X": "${keyring:api-key}"}}}, keyring_lookup) as (
                    _registry, host):
                await until(lambda: state(host, "w") == "failed", "the refusal")
                assert "never given to an MCP server" in host.statuses()[0].reason

        asyncio.run(main())
    finally:
        keyring.delete_password("parley", "mcp-web-token")


def test_an_http_server_that_goes_away_is_reconnected_when_it_returns(tmp_path: Path) -> None:
    proc, url = spawn_http()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    procs = [proc]

    async def main() -> None:
        async with hosted({"w": {"url": url}}, backoff_first_s=0.2, backoff_max_s=1.0) as (registry, host):
            await until(lambda: state(host, "w") == "ready", "the server to be ready")
            procs[0].kill()
            procs[0].wait(timeout=30)
            out = json.loads(await registry.call("echo", '{"text": "anyone?"}'))
            assert "stopped during the call" in out["error"]
            await until(lambda: state(host, "w") != "ready" and registry.names() == [], "the tools to leave")
            again, _ = await asyncio.to_thread(spawn_http, None, "webserver", port)
            procs.append(again)
            await until(lambda: state(host, "w") == "ready" and "echo" in registry.names(), "the reconnection")
            assert await registry.call("echo", '{"text": "welcome back"}') == "welcome back"

    try:
        asyncio.run(main())
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


def _processes_running(program: str, *args: str) -> list[int]:
    """Live processes whose command line is `program args` (program by its base name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode().split("\0")[:-1]
            except OSError:
                continue
            if argv and Path(argv[0]).name == program and argv[1:] == list(args) and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def test_aclose_ends_a_server_stuck_in_start_up() -> None:
    # `sleep` never answers initialize: the server stays "starting" until Parley closes it.
    seconds = f"{600 + os.getpid() % 1000}.5"  # a command line no other test runs

    async def main() -> None:
        async with hosted({"stuck": {"command": "sleep", "args": [seconds]}}) as (registry, host):
            await until(lambda: _processes_running("sleep", seconds), "the server process")
            assert state(host, "stuck") == "starting" and registry.names() == []
        assert host.statuses() == []

    asyncio.run(main())
    assert _processes_running("sleep", seconds) == []


def test_a_relative_command_runs_from_its_working_folder(tmp_path: Path) -> None:
    script = tmp_path / "run-server.sh"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {SCRIPT} stdio\n")
    script.chmod(0o755)
    servers = {"rel": {"command": "./run-server.sh", "cwd": str(tmp_path)},
               "nowhere": {"command": "./run-server.sh", "cwd": str(tmp_path / "missing")}}

    async def main() -> None:
        async with hosted(servers) as (registry, host):
            await until(lambda: state(host, "rel") == "ready" and state(host, "nowhere") == "failed", "both")
            assert await registry.call("echo", '{"text": "relative"}') == "relative"
            assert "not found" in next(s.reason for s in host.statuses() if s.name == "nowhere")

    asyncio.run(main())

"""Tool-call figures on the whole client path (controller, session, ToolsService, registry) against the loopback
Realtime server, no audio:

- response.function_call_arguments.done received -> function_call_output handed to the socket, for a read-only
  built-in (calculate): schema validation, policy, run and the JSON answer included;
- the same for a tool that asks, answered Allow by code the moment the card is requested (the machinery's own
  cost around a human answer);
- the same for a trivial MCP tool (echo, read-only) on a real MCP server (tests/support/mcp_servers.py) configured
  in mcp.json, over stdio and over streamable HTTP on 127.0.0.1 (issue 13's goal: p50 <= 20 ms);
- argument validation alone, per call, with the validator cached;
- start-up to window shown (`python -m desktop`, as bench/run.py measures it) with an empty mcp.json and with three
  stdio MCP servers configured: the servers start after the window is shown, so the two should match.

    .venv/bin/python bench/tools_bench.py [--calls 60] [--starts 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_env  # noqa: F401  (isolated home, offscreen Qt, fake key: before Qt and desktop/)
import numpy as np
import qasync
from PySide6.QtWidgets import QApplication

from desktop.app.controller import Controller
from desktop.tools.approvals import Answer
from desktop.tools.registry import Tool
from desktop.tools.validation import ArgumentChecker
from tests.support.app_harness import make_controller, settings_in, until
from tests.support.mcp_servers import spawn_http, stdio_entry
from tests.support.realtime_server import RealtimeTestServer, ResponseScript, spoken_tone

NOTE = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 200}, "tags": {
    "type": "array", "items": {"type": "string"}}}, "required": ["text"], "additionalProperties": False}


class Stopwatch:
    """Timestamps the raw arguments.done as the session receives it and the output as it goes to the socket."""

    def __init__(self, controller: Controller) -> None:
        self.done_at: dict[str, float] = {}
        self.sent_at: dict[str, float] = {}
        driver = controller.driver
        session, connection = driver.session, driver._connection
        receive, send = session.receive, connection.send_nowait

        def timed_receive(raw: str | bytes) -> None:
            if b"function_call_arguments.done" in (raw if isinstance(raw, bytes) else raw.encode()):
                import json

                self.done_at[json.loads(raw)["call_id"]] = time.perf_counter()
            receive(raw)

        def timed_send(event: dict[str, Any]) -> None:
            if event["type"] == "conversation.item.create" and event["item"]["type"] == "function_call_output":
                self.sent_at[event["item"]["call_id"]] = time.perf_counter()
            send(event)

        session.receive = timed_receive  # type: ignore[method-assign]
        connection.send_nowait = timed_send  # type: ignore[method-assign]

    def latencies_ms(self) -> list[float]:
        return [(self.sent_at[c] - self.done_at[c]) * 1000 for c in self.sent_at if c in self.done_at]


def settled(server: RealtimeTestServer) -> bool:
    kinds = [e["type"] for e in server.sent]
    return kinds.count("response.created") == kinds.count("response.done")


async def measure(server: RealtimeTestServer, controller: Controller, name: str, arguments: str,
                  calls: int) -> list[float]:
    watch = Stopwatch(controller)
    for n in range(calls):
        await until(lambda: settled(server) and controller.turn_state == "idle", within=20, what="quiet")
        server.script_response(function_calls=[(name, arguments)])
        controller.send_text("Go on.")
        await until(lambda n=n: len(watch.sent_at) > n, within=20, what="output sent")  # type: ignore[misc]
    return watch.latencies_ms()


def model_name(controller: Controller, source: str, title: str) -> str:
    return next(t.name for t in controller.tools.registry.tools() if t.source == source and t.title == title)


def mcp_ready(controller: Controller, names: set[str]) -> bool:
    return names <= {s.name for s in controller.tools.catalogue() if s.state == "ready"}


async def bench(server: RealtimeTestServer, calls: int, http_url: str) -> list[tuple[str, str]]:
    config = Path(tempfile.mkdtemp())
    (config / "mcp.json").write_text(json.dumps({"mcpServers": {"stdio": stdio_entry(name="stdio"),
                                                                "http": {"url": http_url}}}))
    controller = make_controller(server.url, settings_in(config), audio=False)
    controller.tools.registry.replace_source("bench", [
        Tool("note_add", "Add a note", NOTE, lambda text, tags=(): "ok", source="bench", title="add")])
    controller.tools.approval_requested.connect(lambda r: controller.tools.answer(r.call_id, Answer.ALLOW))
    await controller.start()
    await controller.wait_ready()
    await until(lambda: controller.turn_state == "idle", what="connected")
    await until(lambda: mcp_ready(controller, {"stdio", "http"}), within=120, what="MCP servers ready")
    rows = []
    try:
        for label, name, arguments in (
                ("read-only built-in (calculate)", "calculate", '{"expression": "(12*7)/3"}'),
                ("asking tool, allowed at once by code", "note_add", '{"text": "buy milk", "tags": ["home"]}'),
                ("MCP echo over stdio", model_name(controller, "stdio", "echo"), '{"text": "hi"}'),
                ("MCP echo over streamable HTTP", model_name(controller, "http", "echo"), '{"text": "hi"}')):
            values = await measure(server, controller, name, arguments, calls)
            rows.append((f"arguments.done -> function_call_output sent, {label} (ms, {len(values)} calls)",
                         f"p50 {np.percentile(values, 50):.2f}  p95 {np.percentile(values, 95):.2f}  "
                         f"max {max(values):.2f}"))
    finally:
        await controller.aclose()
    return rows


def validation_row() -> tuple[str, str]:
    checker = ArgumentChecker()
    checker.parse("note_add", NOTE, '{"text": "warm-up"}')
    times = []
    for _ in range(2000):
        start = time.perf_counter()
        checker.parse("note_add", NOTE, '{"text": "buy milk", "tags": ["home", "today"]}')
        times.append((time.perf_counter() - start) * 1e6)
    return ("argument validation per call, cached validator (µs)",
            f"p50 {np.percentile(times, 50):.1f}  p95 {np.percentile(times, 95):.1f}")


def startup_rows(url: str, starts: int) -> list[tuple[str, str]]:
    """bench/run.py's start-up measure (a cold `python -m desktop` to its "window shown" line), with --mcp-config
    naming an empty file, then three stdio servers; --url keeps the connection on the loopback server."""
    from run import time_to_window

    rows = []
    folder = Path(tempfile.mkdtemp())
    for label, servers in (("no MCP servers", {}),
                           ("three stdio MCP servers", {f"s{i}": stdio_entry(name=f"s{i}") for i in range(3)})):
        path = folder / f"{len(servers)}.json"
        path.write_text(json.dumps({"mcpServers": servers}))
        command = [sys.executable, "-m", "desktop", "--verbose", "--url", url, "--mcp-config", str(path)]
        times = [time_to_window(dict(os.environ), command) * 1000 for _ in range(starts)]
        rows.append((f"start-up to window shown, {label} (ms, median of {starts})",
                     f"median {np.median(times):.0f}  min {min(times):.0f}  max {max(times):.0f}"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    server = RealtimeTestServer()
    server.default_script = ResponseScript(audio=spoken_tone(0.2), speed=0, transcript="Done.")
    server.start()
    http, http_url = spawn_http(name="http")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            rows = runner.run(bench(server, args.calls, http_url))
        rows += startup_rows(server.url, args.starts)
    finally:
        server.stop()
        http.kill()
        http.wait()
    rows.append(validation_row())
    print("| figure | value | goal |")
    print("|---|---|---|")
    for label, value in rows:
        goal = ("p50 <= 20 ms (issue 13, for MCP tools)" if "->" in label
                else "the same with and without servers" if "start-up" in label else "")
        print(f"| {label} | {value} | {goal} |")
    if server.violations:
        print("client event violations:", server.violations[:3])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

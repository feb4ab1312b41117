"""Small but real MCP servers for the MCP host's tests and bench, written with the official SDK's `MCPServer`.

    python tests/support/mcp_servers.py stdio [--marker FILE] [--name NAME]
    python tests/support/mcp_servers.py http  [--marker FILE] [--name NAME] [--port N]
    python tests/support/mcp_servers.py stdio --demo calendar|files

`--demo` serves a small everyday tool set instead (for the screenshots and the Tools page tests):
calendar: create_event(title, start, reminder_minutes) asks first, list_events() is read-only;
files: read_file(path) is read-only, write_file(path, text) asks first. They touch nothing real.

`stdio` serves over stdin/stdout; `http` serves streamable HTTP on 127.0.0.1 at a port the OS picks (or --port)
and prints `PORT <n>` on stdout once it listens (the test reads it: no guessed free port, no race).

Tools (their behaviour is what the tests check):
- echo(text)            read-only; returns the text.
- add(a, b)             read-only; returns a structured {"sum": ...} result.
- fail(message)         raises, so the result is an MCP error result carrying the message.
- slow(seconds)         sleeps; appends "started/finished/cancelled <seconds>" to the marker file.
- crash()               the server process exits at once, in the middle of the call.
- grow()                adds a tool `extra.tool` and sends notifications/tools/list_changed.
- forget(name)          removes a tool WITHOUT notifications/tools/list_changed (the client's list goes stale).
- header(name)          read-only; returns the value of an HTTP request header ("" on stdio).
- files.read_all(path)  a tool name with a dot, which the host must sanitise for the model.
Every start appends "pid <pid>" to the marker file and prints "server <name> up" on stderr, so the host's
stderr tail has something to show.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)
SCRIPT = Path(__file__).resolve()


def stdio_entry(marker: Path | None = None, name: str = "testserver") -> dict[str, object]:
    """The mcp.json entry that starts this script as a stdio server."""
    extra = ["--marker", str(marker)] if marker is not None else []
    return {"command": sys.executable, "args": [str(SCRIPT), "stdio", "--name", name, *extra]}


def demo_entry(kind: str) -> dict[str, object]:
    """The mcp.json entry of a demo server (`calendar` or `files`) over stdio."""
    return {"command": sys.executable, "args": [str(SCRIPT), "stdio", "--name", kind, "--demo", kind]}


def failing_entry(stderr_lines: list[str], code: int = 1) -> dict[str, object]:
    """A stdio "server" that writes the lines to stderr and exits with `code` before speaking MCP."""
    program = f"import sys; sys.stderr.write({chr(10).join(stderr_lines) + chr(10)!r}); sys.exit({code})"
    return {"command": sys.executable, "args": ["-c", program]}


def hanging_entry() -> dict[str, object]:
    """A stdio "server" that never answers `initialize`: it stays "starting" (until the host's start timeout)."""
    return {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"]}


def spawn_http(marker: Path | None = None, name: str = "webserver",
               port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """Starts this script as a streamable HTTP server; returns the process and its URL once it listens."""
    extra = ["--marker", str(marker)] if marker is not None else []
    extra += ["--port", str(port)]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "http", "--name", name, *extra], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the MCP test server did not start (said {line!r})")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/mcp"


def build(name: str, marker: Path | None) -> MCPServer:
    server = MCPServer(name, log_level="WARNING")

    def note(line: str) -> None:
        if marker is not None:
            with marker.open("a") as f:
                f.write(line + "\n")

    @server.tool(description="Repeats the text back.", annotations=READ_ONLY)
    def echo(text: str) -> str:
        return text

    @server.tool(description="Adds two numbers.", annotations=READ_ONLY)
    def add(a: float, b: float) -> dict[str, float]:
        return {"sum": a + b}

    @server.tool(description="Always fails with the given message.")
    def fail(message: str) -> str:
        raise ToolError(message)  # a ToolError's message reaches the client; other exceptions are hidden

    @server.tool(description="Waits the given number of seconds, then answers.")
    async def slow(seconds: float) -> str:
        note(f"started {seconds:g}")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            note(f"cancelled {seconds:g}")
            raise
        note(f"finished {seconds:g}")
        return f"slept {seconds:g}"

    @server.tool(description="Makes the server exit in the middle of the call.")
    def crash() -> str:
        note("crash")
        sys.stderr.write("crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)

    @server.tool(description="Adds a tool and tells the client the tool list changed.")
    async def grow(ctx: Context) -> str:
        server.add_tool(lambda: "extra", name="extra.tool", description="A tool added at run time.")
        await ctx.session.send_tool_list_changed()
        return "grown"

    @server.tool(description="Removes a tool without telling the client (a server whose list went stale).")
    def forget(name: str) -> str:
        server.remove_tool(name)
        return f"forgot {name}"

    @server.tool(description="Returns the value of an HTTP request header.", annotations=READ_ONLY)
    def header(name: str, ctx: Context) -> str:
        headers = ctx.headers or {}
        return str(headers.get(name.lower(), ""))

    server.add_tool(lambda path: f"contents of {path}", name="files.read_all", description="Reads a file.",
                    annotations=READ_ONLY)
    return server


def build_demo(kind: str) -> MCPServer:
    server = MCPServer(kind, log_level="WARNING")
    if kind == "calendar":
        @server.tool(description="Create an event in the user's calendar.")
        def create_event(title: str, start: str, reminder_minutes: int = 0) -> str:
            return "created"

        @server.tool(description="List the user's events.", annotations=READ_ONLY)
        def list_events() -> list[str]:
            return []
    else:
        @server.tool(description="Read a text file.", annotations=READ_ONLY)
        def read_file(path: str) -> str:
            return f"contents of {path}"

        @server.tool(description="Write a text file.")
        def write_file(path: str, text: str) -> str:
            return "written"
    return server


async def serve_http(server: MCPServer, port: int) -> None:
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same port right after a kill
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    web = uvicorn.Server(config)
    # Print the port only once the socket listens, so a client connecting right away is not refused.
    sock.listen(16)
    print(f"PORT {port}", flush=True)
    await web.serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--name", default="testserver")
    parser.add_argument("--port", type=int, default=0, help="http: the port (default: one the OS picks)")
    parser.add_argument("--demo", choices=["calendar", "files"], help="serve the demo tools instead")
    args = parser.parse_args()
    server = build_demo(args.demo) if args.demo else build(args.name, args.marker)
    if args.marker is not None:
        with args.marker.open("a") as f:
            f.write(f"pid {os.getpid()}\n")
    sys.stderr.write(f"server {args.name} up\n")
    sys.stderr.flush()
    if args.transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        anyio.run(serve_http, server, args.port)


if __name__ == "__main__":
    main()

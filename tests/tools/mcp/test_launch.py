"""open_host: file read and SDK import off the loop, then the servers start in the background."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from desktop.tools.mcp.launch import open_host, read_config
from desktop.tools.registry import ToolRegistry
from tests.support.mcp_servers import stdio_entry


def test_open_host_reads_the_file_and_starts_its_servers(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"t": stdio_entry(), "bad": {}}}))

    async def main() -> None:
        registry = ToolRegistry()
        ready = asyncio.Event()
        registry.add_listener(lambda: ready.set() if "echo" in registry.names() else None)
        host = await open_host(registry, path, lambda name: None)
        try:
            assert [s.name for s in host.statuses()] == ["t"] and "'bad'" in host.config_errors[0]
            await asyncio.wait_for(ready.wait(), 60)
            assert await registry.call("echo", '{"text": "hi"}') == "hi"
            path.write_text("{}")
            await host.reload(await read_config(path))
            assert registry.names() == [] and host.statuses() == [] and "mcpServers" in host.config_errors[0]
        finally:
            await host.aclose()

    asyncio.run(main())

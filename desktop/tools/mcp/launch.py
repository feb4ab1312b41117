"""Starting the MCP host without blocking the event loop: reading mcp.json and importing the SDK (about half a
second of imports) both happen in worker threads, so the app can call this right after its window is shown.

The app side, in short:

    path = config_path(Path(QSettings(...).fileName()).parent, options.mcp_config)
    host = await open_host(registry, path, keyring_lookup)      # keyring_lookup: desktop.tools.mcp.keyring_secrets
    host.add_listener(...)                                      # Tools page: host.statuses(), host.config_errors
    await host.reload(await read_config(path))                  # the "Reload" button
    await host.aclose()                                         # on quit
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.tools.mcp.config import McpConfig, SecretLookup, load_config
from desktop.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from desktop.tools.mcp.host import McpHost


async def read_config(path: Path) -> McpConfig:
    """load_config in a worker thread (file I/O stays off the GUI thread); for start and "Reload"."""
    return await asyncio.to_thread(load_config, path)


async def open_host(registry: ToolRegistry, config_file: Path, secret_lookup: SecretLookup, *,
                    call_timeout_s: float = 30.0) -> McpHost:
    """Reads the file, imports the host, starts it (servers come up in the background) and returns it."""
    config = await read_config(config_file)
    host_class = await asyncio.to_thread(_import_host)
    host = host_class(registry, config, secret_lookup, call_timeout_s=call_timeout_s)
    await host.start()
    return host


def _import_host() -> type[McpHost]:
    # A plain import statement (not importlib), so PyInstaller's analysis still finds the SDK for the bundle.
    from desktop.tools.mcp.host import McpHost

    return McpHost

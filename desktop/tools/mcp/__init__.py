"""Parley as an MCP host: servers from mcp.json (config.py, cheap to import), supervised connections through the
official `mcp` SDK (server.py), their tools in the ToolRegistry (host.py: imports the SDK, so import it lazily, after
the window is shown). Qt-free."""

"""The options a run starts with. They belong to the app: the command line (desktop/cli.py) only parses into
them, and the controller, bootstrap and tests build them directly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """What the command line asked for; None means "use the saved setting"."""

    url: str | None = None
    hands_free: bool = False
    input_device: str | None = None
    output_device: str | None = None
    verbose: bool = False
    global_hotkey: bool = False  # --global-hotkey: the global hold key on for this run
    mcp_config: str | None = None  # an mcp.json to use instead of the one in Parley's config folder

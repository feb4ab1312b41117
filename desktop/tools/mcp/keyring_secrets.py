"""The secrets `${keyring:NAME}` references in mcp.json resolve to: the system keyring, service "parley", user NAME.

Blocking (a D-Bus round trip on Linux): the host calls it in a worker thread, never on the event loop. Parley's
own API key lives under the same service as "api-key"; that name is refused, so no mcp.json can hand the model
provider's key to an MCP server.
"""

from __future__ import annotations

import logging

import keyring
import keyring.errors

from desktop.tools.mcp.config import MissingSecret

SERVICE = "parley"
OWN_KEY = "api-key"

log = logging.getLogger(__name__)


def keyring_lookup(name: str) -> str | None:
    """The secret stored as (service "parley", user `name`), or None when there is none."""
    if name == OWN_KEY:
        raise MissingSecret(f"{OWN_KEY!r} is Parley's own API key and is never given to an MCP server; store the "
                            "server's token under another name")
    try:
        return keyring.get_password(SERVICE, name)
    except keyring.errors.KeyringError as exc:
        # The exception's text could quote the backend's reply; its type says enough.
        raise MissingSecret(f"the system keyring is unavailable ({type(exc).__name__}), so the secret {name!r} "
                            "cannot be read") from None

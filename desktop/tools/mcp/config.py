"""mcp.json: which MCP servers Parley starts, in the shape other MCP hosts use.

    {"mcpServers": {
        "files":  {"command": "npx", "args": ["-y", "some-server"], "env": {"TOKEN": "${keyring:files-token}"}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${keyring:remote}"}}}}

A header or env value may contain `${keyring:NAME}`: the host replaces it, when it connects, with the secret the
app keeps in the system keyring (service "parley", user NAME), so no token has to sit in the file. A server may
say `"disabled": true` to be skipped, and `"timeout": SECONDS` for its calls. A broken file is reported with its
line and the reason; one bad server entry is reported by name and the others still start. See docs/mcp.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "mcp.json"
RESERVED_NAMES = frozenset({"builtin"})  # the registry's source name for Parley's own tools
KEYRING_REF = re.compile(r"\$\{keyring:([^}]*)\}")

SecretLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class StdioServerConfig:
    """A server Parley starts as a child process and talks to over its stdin/stdout."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    timeout_s: float | None = None  # per call; None: the host's default

    @property
    def transport(self) -> str:
        return "stdio"


@dataclass(frozen=True)
class HttpServerConfig:
    """A server already running somewhere, reached over streamable HTTP."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None  # per call; None: the host's default

    @property
    def transport(self) -> str:
        return "http"


ServerConfig = StdioServerConfig | HttpServerConfig


@dataclass(frozen=True)
class McpConfig:
    """What a file declared: the servers that parsed, and one sentence per problem (with its line when known)."""

    servers: tuple[ServerConfig, ...] = ()
    errors: tuple[str, ...] = ()
    path: Path | None = None


class MissingSecret(Exception):
    """A `${keyring:NAME}` reference names a secret the keyring does not have (or the keyring is unavailable)."""


def config_path(config_dir: str | Path, override: str | Path | None = None) -> Path:
    """`--mcp-config PATH` when given, else mcp.json in Parley's config folder (beside Parley.conf)."""
    return Path(override).expanduser() if override else Path(config_dir) / FILE_NAME


def load_config(path: str | Path) -> McpConfig:
    """Reads and parses a file; a missing file means no servers and no error. Blocking: call it off the GUI
    thread (e.g. `asyncio.to_thread(load_config, path)`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return McpConfig(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        return McpConfig(errors=(f"{path}: cannot read it ({exc})",), path=path)
    return parse_config(text, source=str(path), path=path)


def parse_config(text: str, *, source: str = FILE_NAME, path: Path | None = None) -> McpConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return McpConfig(errors=(f"{source} line {exc.lineno} column {exc.colno}: {exc.msg}; no MCP server "
                                 "started from it",), path=path)
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        return McpConfig(errors=(f'{source}: expected an object {{"mcpServers": {{"NAME": {{...}}}}}}',), path=path)
    servers: list[ServerConfig] = []
    errors: list[str] = []
    for name, entry in data["mcpServers"].items():
        try:
            server = _parse_server(name, entry)
        except ValueError as exc:
            line = _line_of_key(text, name)
            where = f"{source} line {line}" if line else source
            errors.append(f"{where}: server {name!r}: {exc}")
            continue
        if server is not None:
            servers.append(server)
    return McpConfig(servers=tuple(servers), errors=tuple(errors), path=path)


def _parse_server(name: str, entry: Any) -> ServerConfig | None:
    if not name.strip():
        raise ValueError("the server name is empty")
    if name in RESERVED_NAMES:
        raise ValueError(f"the name {name!r} is reserved for Parley's own tools")
    if not isinstance(entry, dict):
        raise ValueError("expected an object with a command or a url")
    if entry.get("disabled") is True:
        return None
    kind = entry.get("type")
    if kind is not None and kind not in ("stdio", "http", "streamable-http", "streamableHttp"):
        raise ValueError(f"transport {kind!r} is not supported (use a command for stdio or a url for "
                         "streamable HTTP)")
    timeout = entry.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise ValueError('"timeout" must be a positive number of seconds')
    timeout_s = float(timeout) if timeout is not None else None
    has_command, has_url = "command" in entry, "url" in entry
    if has_command == has_url:
        raise ValueError('give either "command" (a program to start) or "url" (a streamable HTTP endpoint)')
    if has_command:
        command = entry["command"]
        if not isinstance(command, str) or not command.strip():
            raise ValueError('"command" must be a non-empty string')
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError('"args" must be a list of strings')
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ValueError('"cwd" must be a string')
        return StdioServerConfig(name, command, tuple(args), _string_map(entry, "env"), cwd, timeout_s)
    url = entry["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError('"url" must start with http:// or https://')
    return HttpServerConfig(name, url, _string_map(entry, "headers"), timeout_s)


def _string_map(entry: Mapping[str, Any], key: str) -> dict[str, str]:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f'"{key}" must be an object of strings')
    for item in value.values():
        for ref in KEYRING_REF.findall(item):
            if not ref.strip():
                raise ValueError(f'"{key}" has an empty ${{keyring:}} reference')
    return dict(value)


def _line_of_key(text: str, name: str) -> int | None:
    """The line where `"name":` first appears; JSON parsers keep no positions, so this finds it in the text."""
    match = re.search(re.escape(json.dumps(name)) + r"\s*:", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def secret_names(values: Mapping[str, str]) -> list[str]:
    return [ref for value in values.values() for ref in KEYRING_REF.findall(value)]


def resolve_secrets(values: Mapping[str, str], secrets: Mapping[str, str | None]) -> dict[str, str]:
    """Replaces each `${keyring:NAME}` with `secrets[NAME]`; a missing one raises MissingSecret naming it (never
    the value of anything)."""

    def substitute(match: re.Match[str]) -> str:
        value = secrets.get(match.group(1))
        if value is None:
            raise MissingSecret(f"the keyring has no secret {match.group(1)!r} (service \"parley\"); store it, "
                                "e.g. `keyring set parley " + match.group(1) + "`, then reload")
        return value

    return {key: KEYRING_REF.sub(substitute, value) for key, value in values.items()}

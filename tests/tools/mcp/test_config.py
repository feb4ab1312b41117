"""mcp.json: the common shape parses, every problem is a sentence with its line, and good servers survive bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.tools.mcp.config import (
    HttpServerConfig,
    MissingSecret,
    StdioServerConfig,
    config_path,
    load_config,
    parse_config,
    resolve_secrets,
    secret_names,
)


def test_the_common_shape() -> None:
    text = json.dumps({"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "srv"], "env": {"TOKEN": "${keyring:files-token}"}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${keyring:remote}"}},
        "off": {"command": "x", "disabled": True},
        "patient": {"url": "http://127.0.0.1:9/mcp", "timeout": 120},
    }}, indent=2)
    config = parse_config(text)
    assert config.errors == ()
    assert config.servers == (
        StdioServerConfig("files", "npx", ("-y", "srv"), {"TOKEN": "${keyring:files-token}"}),
        HttpServerConfig("remote", "https://example.com/mcp", {"Authorization": "Bearer ${keyring:remote}"}),
        HttpServerConfig("patient", "http://127.0.0.1:9/mcp", timeout_s=120.0),
    )
    assert [s.transport for s in config.servers] == ["stdio", "http", "http"]


def test_a_syntax_error_names_its_line() -> None:
    text = '{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}\n'
    config = parse_config(text, source="mcp.json")
    assert config.servers == ()
    assert len(config.errors) == 1 and config.errors[0].startswith("mcp.json line 3 ")


@pytest.mark.parametrize(("entry", "needle"), [
    ({"args": []}, 'either "command"'),
    ({"command": "x", "url": "http://h"}, 'either "command"'),
    ({"command": ""}, "non-empty"),
    ({"command": "x", "args": "a b"}, "list of strings"),
    ({"command": "x", "env": {"A": 1}}, "object of strings"),
    ({"url": "ftp://h"}, "http:// or https://"),
    ({"url": "http://h", "headers": {"A": "${keyring:}"}}, "empty ${keyring:}"),
    ({"url": "http://h", "type": "sse"}, "not supported"),
    ({"url": "http://h", "timeout": "5"}, "positive number"),
    ({"url": "http://h", "timeout": 0}, "positive number"),
    ("just a string", "expected an object"),
])
def test_a_bad_server_is_named_with_its_line_and_the_others_still_parse(entry: object, needle: str) -> None:
    text = json.dumps({"mcpServers": {"good": {"command": "ok"}, "bad": entry}}, indent=2)
    config = parse_config(text, source="mcp.json")
    assert [s.name for s in config.servers] == ["good"]
    (error,) = config.errors
    assert error.startswith("mcp.json line 6: server 'bad': ") and needle in error


def test_reserved_and_wrong_top_level() -> None:
    assert "reserved" in parse_config('{"mcpServers": {"builtin": {"command": "x"}}}').errors[0]
    assert "mcpServers" in parse_config('{"servers": {}}').errors[0]
    assert "mcpServers" in parse_config("[]").errors[0]


def test_paths_and_files(tmp_path: Path) -> None:
    assert config_path(tmp_path) == tmp_path / "mcp.json"
    assert config_path(tmp_path, str(tmp_path / "other.json")) == tmp_path / "other.json"
    missing = load_config(tmp_path / "mcp.json")
    assert missing.servers == () and missing.errors == ()
    (tmp_path / "mcp.json").write_text('{"mcpServers": {"a": {"command": "x"}}}')
    assert [s.name for s in load_config(tmp_path / "mcp.json").servers] == ["a"]
    (tmp_path / "mcp.json").write_bytes(b"\xff\xfe{")
    assert "cannot read" in load_config(tmp_path / "mcp.json").errors[0]


def test_keyring_references_resolve_and_a_missing_one_is_named_not_shown() -> None:
    values = {"Authorization": "Bearer ${keyring:api}", "X-Plain": "plain", "X-Two": "${keyring:a}-${keyring:b}"}
    assert secret_names(values) == ["api", "a", "b"]
    resolved = resolve_secrets(values, {"api": "test-key-not-a-secret", "a": "1", "b": "2"})
    assert resolved == {"Authorization": "Bearer test-key-not-a-secret", "X-Plain": "plain", "X-Two": "1-2"}
    with pytest.raises(MissingSecret, match="'b'") as info:
        resolve_secrets(values, {"api": "test-key-not-a-secret", "a": "1", "b": None})
    assert "test-key-not-a-secret" not in str(info.value)

"""Clipboard and link tools without Qt: what the model gets back, and which links are refused before anything
reaches the desktop (the opener here records instead of launching a browser)."""

from __future__ import annotations

import asyncio
import json

import pytest

from desktop.tools.desktop_actions import CLIPBOARD_LIMIT, checked_url, desktop_tools
from desktop.tools.registry import ToolRegistry


def registry(clipboard: str | None, opened: list[str], works: bool = True) -> ToolRegistry:
    def opener(url: str) -> bool:
        opened.append(url)
        return works

    return ToolRegistry(desktop_tools(lambda: clipboard, opener))


def call(tools: ToolRegistry, name: str, **arguments: object) -> dict[str, object]:
    out = json.loads(asyncio.run(tools.call(name, json.dumps(arguments))))
    assert isinstance(out, dict)
    return out


def test_clipboard_text_empty_and_long() -> None:
    assert call(registry("hello", []), "read_clipboard") == {"text": "hello", "characters": 5}
    assert call(registry(None, []), "read_clipboard")["empty"] is True
    assert call(registry("  \n", []), "read_clipboard")["empty"] is True
    long = call(registry("x" * (CLIPBOARD_LIMIT + 5), []), "read_clipboard")
    assert len(str(long["text"])) == CLIPBOARD_LIMIT and "first" in str(long["note"])


@pytest.mark.parametrize("url", ["https://example.org/a?b=c#d", "http://127.0.0.1:8080/", "mailto:someone@example.org",
                                 "HTTPS://EXAMPLE.ORG"])
def test_good_links_open(url: str) -> None:
    opened: list[str] = []
    assert call(registry("", opened), "open_url", url=f"  {url} ") == {"opened": url}
    assert opened == [url]


@pytest.mark.parametrize(("url", "needle"), [
    ("file:///etc/passwd", "file: refused"),
    ("javascript:alert(1)", "javascript: refused"),
    ("JavaScript:alert(1)", "javascript: refused"),
    ("data:text/html,<b>x</b>", "data: refused"),
    ("example.org", "no scheme refused"),
    ("https:///path-only", "no host name"),
    ("https://exa mple.org", "spaces or control characters"),
    ("https://example.org/\x00", "spaces or control characters"),
    ("mailto:", "needs an address"),
    ("", "no URL"),
    ("https://example.org/" + "a" * 3000, "longer than"),
])
def test_bad_links_are_refused_with_a_reason(url: str, needle: str) -> None:
    opened: list[str] = []
    out = call(registry("", opened), "open_url", url=url)
    assert needle in str(out["error"]) and opened == []
    with pytest.raises(ValueError, match=needle):
        checked_url(url)


def test_a_desktop_that_cannot_open_says_so() -> None:
    out = call(registry("", [], works=False), "open_url", url="https://example.org")
    assert "could not open" in str(out["error"])


def test_tools_are_offered_only_with_their_callable() -> None:
    assert [t.name for t in desktop_tools(None, None)] == []
    assert [t.name for t in desktop_tools(lambda: "", None)] == ["read_clipboard"]

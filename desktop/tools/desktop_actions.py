"""Tools that reach the user's desktop: read the clipboard, open a link in the browser.

Both need Qt, which must be used from the GUI thread, so this module stays Qt-free: the app layer injects the
two callables (desktop/app/desktop_bridge.py) and tool calls run on the qasync loop, which is the GUI thread.
Neither tool is read-only: reading the clipboard can expose what the user copied elsewhere, and opening a link
acts on the world, so the approvals gate asks the user first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from desktop.tools.registry import Tool

READ_CLIPBOARD = "read_clipboard"
OPEN_URL = "open_url"
CLIPBOARD_LIMIT = 8000  # characters handed to the model; the rest is cut and said to be cut
ALLOWED_SCHEMES = ("http", "https", "mailto")
MAX_URL = 2048

ClipboardReader = Callable[[], str | None]
UrlOpener = Callable[[str], bool]


def read_clipboard(reader: ClipboardReader) -> dict[str, Any]:
    text = reader()
    if text is None or not text.strip():
        return {"text": "", "empty": True, "note": "the clipboard holds no text"}
    cut = len(text) > CLIPBOARD_LIMIT
    result: dict[str, Any] = {"text": text[:CLIPBOARD_LIMIT], "characters": len(text)}
    if cut:
        result["note"] = f"only the first {CLIPBOARD_LIMIT} of {len(text)} characters are given"
    return result


def checked_url(url: str) -> str:
    """The URL if it is a well-formed http, https or mailto link; ValueError saying why not otherwise."""
    url = url.strip()
    if not url:
        raise ValueError("no URL given")
    if len(url) > MAX_URL:
        raise ValueError(f"the URL is longer than {MAX_URL} characters")
    if re.search(r"[\x00-\x20\x7f]", url):
        raise ValueError("the URL contains spaces or control characters; encode them (%20)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise ValueError(f"only http, https and mailto links can be opened ({shown} refused); "
                         "write the full address, e.g. https://example.org")
    if scheme in ("http", "https") and not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    if scheme == "mailto" and not parts.path:
        raise ValueError("a mailto link needs an address")
    return url


def open_url(opener: UrlOpener, url: str) -> dict[str, Any]:
    target = checked_url(url)
    if not opener(target):
        raise RuntimeError("the desktop could not open it (no browser or mail program is set up)")
    return {"opened": target}


def desktop_tools(clipboard: ClipboardReader | None, opener: UrlOpener | None) -> list[Tool]:
    """The tools whose callable is given (a headless run offers neither)."""
    tools: list[Tool] = []
    if clipboard is not None:
        reader = clipboard

        def clipboard_tool() -> dict[str, Any]:
            return read_clipboard(reader)

        tools.append(Tool(READ_CLIPBOARD, "Read the text on the user's clipboard (what they last copied). Use it "
                          "when the user refers to something they copied.",
                          {"type": "object", "properties": {}, "additionalProperties": False},
                          clipboard_tool, tags=("desktop",)))
    if opener is not None:
        launch = opener

        def url_tool(url: str) -> dict[str, Any]:
            return open_url(launch, url)

        tools.append(Tool(OPEN_URL, "Open a web page (http or https) or a mailto link in the user's default "
                          "browser or mail program. Send the full URL, e.g. https://example.org/page.",
                          {"type": "object", "properties": {"url": {"type": "string", "description":
                                                                    "the full http(s) or mailto URL"}},
                           "required": ["url"], "additionalProperties": False},
                          url_tool, tags=("desktop",)))
    return tools

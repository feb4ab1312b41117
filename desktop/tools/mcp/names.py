"""Model-facing tool names and the text a tool call hands back to the model.

The Realtime API accepts function names of letters, digits, `_` and `-`, at most 64 characters; one bad name gets
the whole `session.update` refused. MCP tool names are freer (dots and slashes are common), so each is sanitised,
and prefixed with its server's name only when the bare name is already taken.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from mcp_types import CallToolResult, EmbeddedResource, ImageContent, ResourceLink, TextContent

MAX_NAME = 64
MAX_OUTPUT_CHARS = 20_000  # ~5k tokens: a whole file read aloud helps nobody and costs every later turn
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class McpCallError(Exception):
    """A tool call that did not produce a result; the message is written for the model (and the user)."""


def sanitise(name: str) -> str:
    """Runs of unsafe characters become one `_`; never empty, never over 64 characters."""
    clean = _UNSAFE.sub("_", name).strip("_") or "tool"
    return clean[:MAX_NAME]


def model_names(server: str, tool_names: Sequence[str], taken: Iterable[str]) -> list[str]:
    """One unique, valid model-facing name per MCP tool name, in order. A name is the tool's own (sanitised)
    when free, else `server_tool`, else that with a numeric suffix; `taken` holds other sources' names."""
    used = set(taken)
    result: list[str] = []
    for tool in tool_names:
        candidates = [sanitise(tool), sanitise(f"{server}_{tool}")]
        name = next((c for c in candidates if c not in used), None)
        n = 2
        while name is None:
            suffix = f"_{n}"
            candidate = candidates[1][: MAX_NAME - len(suffix)] + suffix
            name = candidate if candidate not in used else None
            n += 1
        used.add(name)
        result.append(name)
    return result


def result_text(result: CallToolResult) -> str:
    """The text the model gets: text parts joined, other parts described, the structured result as JSON when it
    adds something the text does not already say. An error result raises McpCallError with the server's words."""
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, TextContent):
            parts.append(item.text)
        elif isinstance(item, ImageContent):
            parts.append(f"[image, {item.mime_type}]")
        elif isinstance(item, ResourceLink):
            parts.append(f"[resource {item.uri}]")
        elif isinstance(item, EmbeddedResource):
            text = getattr(item.resource, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {item.resource.uri}]")
        else:
            parts.append(f"[{item.type} content]")
    text = "\n".join(parts)
    if result.is_error:
        raise McpCallError(text or "the tool reported an error without a message")
    structured = result.structured_content
    if structured is not None and not _says_the_same(text, structured):
        structured_json = json.dumps(structured, ensure_ascii=False)
        text = f"{text}\n{structured_json}" if text else structured_json
    if len(text) > MAX_OUTPUT_CHARS:
        cut = len(text) - MAX_OUTPUT_CHARS
        text = f"{text[:MAX_OUTPUT_CHARS]}\n[... {cut} more characters cut by Parley]"
    return text


def _says_the_same(text: str, structured: object) -> bool:
    """Whether the text already is the structured result (servers often send both, or wrap it as {"result": ...})."""
    if structured == {"result": text}:
        return True
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return bool(parsed == structured) or (isinstance(structured, dict) and structured == {"result": parsed})

"""Model-facing names obey the API's rules and stay unique; results become text the model can read."""

from __future__ import annotations

import json
import re

import pytest
from mcp_types import CallToolResult, ImageContent, TextContent

from desktop.tools.mcp.names import MAX_OUTPUT_CHARS, McpCallError, model_names, result_text, sanitise

VALID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.mark.parametrize(("raw", "clean"), [
    ("echo", "echo"), ("files.read", "files_read"), ("a/b c", "a_b_c"), ("...", "tool"), ("x" * 80, "x" * 64),
    ("été", "t"),
])
def test_sanitise(raw: str, clean: str) -> None:
    assert sanitise(raw) == clean and VALID.match(clean)


def test_names_are_bare_when_free_prefixed_when_taken_and_always_unique() -> None:
    names = model_names("gh", ["search", "calculate", "a.b", "a/b", "a_b", "y" * 70], taken=["calculate"])
    assert names[:3] == ["search", "gh_calculate", "a_b"]
    assert names[3] == "gh_a_b" and names[4] == "gh_a_b_2"
    assert len(set(names)) == len(names) and all(VALID.match(n) for n in names)


def test_result_text() -> None:
    text = CallToolResult(content=[TextContent(type="text", text="hello")])
    assert result_text(text) == "hello"
    structured = CallToolResult(content=[TextContent(type="text", text='{"sum": 3}')], structured_content={"sum": 3})
    assert json.loads(result_text(structured)) == {"sum": 3}
    wrapped = CallToolResult(content=[TextContent(type="text", text="ok")], structured_content={"result": "ok"})
    assert result_text(wrapped) == "ok"
    both = CallToolResult(content=[TextContent(type="text", text="two items")], structured_content={"n": 2})
    assert result_text(both) == 'two items\n{"n": 2}'
    image = CallToolResult(content=[ImageContent(type="image", data="AA==", mime_type="image/png")])
    assert result_text(image) == "[image, image/png]"
    with pytest.raises(McpCallError, match="no such file"):
        result_text(CallToolResult(content=[TextContent(type="text", text="no such file")], is_error=True))


def test_a_huge_result_is_cut_with_a_note() -> None:
    out = result_text(CallToolResult(content=[TextContent(type="text", text="x" * (MAX_OUTPUT_CHARS + 123))]))
    assert out.startswith("x" * MAX_OUTPUT_CHARS) and out.endswith("[... 123 more characters cut by Parley]")

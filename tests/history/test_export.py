"""Export of one conversation: Markdown to read, JSON to process, both with every item."""

from __future__ import annotations

import json

from desktop.history.export import to_json, to_markdown
from desktop.history.models import ConversationRecord, ConversationSummary, StoredItem


def _record() -> ConversationRecord:
    summary = ConversationSummary("c1", 1_700_000_000.0, 1_700_000_100.0, "Plans for Saturday", "offline",
                                  "offline engine", 0.0, 2)
    items = (StoredItem("u1", "user", "message", "Plans for Saturday?", created=1_700_000_001.0, done=True),
             StoredItem("t1", "assistant", "function_call", "get_weather", arguments='{"day": "sat"}',
                        output='{"sky": "clear"}', created=1_700_000_002.0, done=True),
             StoredItem("a1", "assistant", "message", "A picnic would be lovely. Or a museum.",
                        heard="A picnic would be lovely.", unheard=" Or a museum.", created=1_700_000_003.0,
                        done=True))
    return ConversationRecord(summary, items, {"responses": 1, "output_audio": 12})


def test_markdown_reads_as_the_conversation_went() -> None:
    text = to_markdown(_record())
    assert text.startswith("# Plans for Saturday\n")
    assert "offline · offline engine · $0.000" in text
    assert "**You:** Plans for Saturday?" in text
    assert '**Tool** `get_weather` (`{"day": "sat"}`)' in text
    assert "**Assistant:** A picnic would be lovely. ~~Or a museum.~~ *(not heard)*" in text
    assert text.index("**You:**") < text.index("**Tool**") < text.index("**Assistant:**")


def test_json_has_every_field_and_parses() -> None:
    data = json.loads(to_json(_record()))
    assert data["id"] == "c1" and data["backend"] == "offline" and data["cost_usd"] == 0.0
    assert data["usage"] == {"responses": 1, "output_audio": 12}
    assert [i["item_id"] for i in data["items"]] == ["u1", "t1", "a1"]
    assert data["items"][2]["heard"] == "A picnic would be lovely."
    assert data["items"][1]["output"] == '{"sky": "clear"}'
    assert data["started"].startswith("2023-11-1")  # ISO 8601 with the local offset

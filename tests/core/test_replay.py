"""The text a fresh session is seeded with: newest first within a budget, sent in order, valid events, and a
continued conversation's items going out at connection."""

from __future__ import annotations

from desktop.core.config import SessionConfig
from desktop.core.conversation import TranscriptEntry
from desktop.core.replay import replay_events, seed_entries, within_budget
from desktop.core.session import Session
from desktop.history.models import StoredItem
from tests.support.event_validation import client_event_problems


def _entries(n: int, size: int = 10) -> list[TranscriptEntry]:
    return [TranscriptEntry(f"item_{i}", "user" if i % 2 == 0 else "assistant", f"{i:02d}" + "x" * (size - 2),
                            done=True) for i in range(n)]


def test_budget_keeps_the_newest_in_conversation_order() -> None:
    entries = _entries(30)
    chosen = within_budget(entries, max_entries=5)
    assert [e.item_id for e in chosen] == [f"item_{i}" for i in range(25, 30)]
    by_chars = within_budget(entries, max_entries=100, max_chars=35)
    assert [e.item_id for e in by_chars] == ["item_27", "item_28", "item_29"]


def test_interrupted_answers_replay_what_was_heard_and_empty_ones_are_skipped() -> None:
    cut = TranscriptEntry("a1", "assistant", "The first part. The second part.", done=True, interrupted=True,
                          heard_fraction=0.5)
    events = replay_events([TranscriptEntry("u0", "user", "   "), cut])
    assert len(events) == 1
    assert events[0]["item"]["content"][0]["text"] == cut.heard_text.strip() == "The first part."


def test_events_keep_valid_ids_and_pass_the_openai_models() -> None:
    entries = [TranscriptEntry("item_abc", "user", "hello", done=True),
               TranscriptEntry("x" * 40, "assistant", "too long an id to keep", done=True),
               TranscriptEntry("bad id!", "assistant", "an id with spaces", done=True)]
    events = replay_events(entries)
    assert [e["item"].get("id") for e in events] == ["item_abc", None, None]
    assert [e["item"]["role"] for e in events] == ["user", "assistant", "assistant"]
    for event in events:
        assert client_event_problems(event) == []


def test_seed_entries_from_stored_items_take_messages_with_text() -> None:
    items = [StoredItem("u1", "user", "message", "What time is it?", done=True),
             StoredItem("c1", "assistant", "function_call", "get_time", arguments="{}", output='"10:00"'),
             StoredItem("a1", "assistant", "message", "It is ten. Anything else?", heard="It is ten.",
                        unheard=" Anything else?", done=True),
             StoredItem("u2", "user", "message", "", done=True)]
    seeded = seed_entries(items)
    assert [(e.item_id, e.role, e.text) for e in seeded] == [("u1", "user", "What time is it?"),
                                                            ("a1", "assistant", "It is ten.")]


def test_a_seeded_session_replays_at_connection_and_knows_the_echo() -> None:
    session = Session(SessionConfig())
    seed = _entries(3)
    session.seed(seed)
    assert session.take_outgoing() == [], "nothing goes out before a socket is up"
    session.connection_opened()
    sent = session.take_outgoing()
    assert [e["type"] for e in sent] == ["session.update"] + ["conversation.item.create"] * 3
    assert [e["item"]["id"] for e in sent[1:]] == ["item_0", "item_1", "item_2"]
    session.take_effects()
    # the server echoes the replayed item: already known, so the transcript does not show it twice
    session.receive('{"type": "conversation.item.added", "event_id": "e1", "previous_item_id": null, "item": '
                    '{"id": "item_0", "type": "message", "role": "user", "status": "completed", '
                    '"content": [{"type": "input_text", "text": "00xxxxxxxx"}]}}')
    assert [e for e in session.take_effects() if type(e).__name__ == "TranscriptChanged"] == []
    assert [e.item_id for e in session.conversation.entries()] == ["item_0", "item_1", "item_2"]


def test_seeding_a_connected_session_sends_at_once() -> None:
    session = Session(SessionConfig())
    session.connection_opened()
    session.take_outgoing()
    session.seed(_entries(2))
    assert [e["item"]["content"][0]["text"] for e in session.take_outgoing()] == ["00xxxxxxxx", "01xxxxxxxx"]

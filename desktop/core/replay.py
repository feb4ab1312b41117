"""The text history a fresh server session is seeded with: after a reconnect, and when the user continues an
earlier conversation from the history.

A fresh session knows nothing, so the conversation so far goes in again as text items (audio is not replayed:
it is costly and the text carries the meaning). The budget is taken newest first — the latest turns matter
most — and sent in conversation order. Interrupted answers go in as what the user heard, as the server kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from desktop.core import events as ev
from desktop.core.conversation import TranscriptEntry

REPLAY_ENTRIES = 20  # items at most
REPLAY_CHARS = 12_000  # characters at most (about 3,000 tokens of text input per fresh session)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # what the API accepts as a client-chosen item id


class StoredText(Protocol):
    """What a stored history item offers (desktop.history.models.StoredItem has these)."""

    @property
    def item_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def spoken_text(self) -> str: ...


def seed_entries(items: Iterable[StoredText]) -> list[TranscriptEntry]:
    """Stored items -> the transcript entries a continued conversation starts with (messages that have text)."""
    return [
        TranscriptEntry(item.item_id, item.role, item.spoken_text.strip(), done=True)
        for item in items
        if item.kind == "message" and item.role in ("user", "assistant") and item.spoken_text.strip()
    ]


def within_budget(
    entries: Sequence[TranscriptEntry], max_entries: int = REPLAY_ENTRIES, max_chars: int = REPLAY_CHARS
) -> list[TranscriptEntry]:
    """The newest entries with text that fit the budget, in conversation order."""
    chosen: list[TranscriptEntry] = []
    used = 0
    for entry in reversed(entries):
        text = entry.heard_text.strip()
        if not text or entry.role not in ("user", "assistant"):
            continue
        if len(chosen) >= max_entries or used + len(text) > max_chars:
            break
        chosen.append(entry)
        used += len(text)
    return chosen[::-1]


def replay_events(entries: Sequence[TranscriptEntry], **budget: int) -> list[dict[str, Any]]:
    """conversation.item.create events for the entries within the budget, keeping each item's id when the
    API accepts it, so the server's echo of the item is recognised instead of shown twice."""
    events = []
    for entry in within_budget(entries, **budget):
        text = entry.heard_text.strip()
        item_id = entry.item_id if _CLIENT_ID.match(entry.item_id) else None
        make = ev.user_text if entry.role == "user" else ev.assistant_text
        events.append(make(text, item_id))
    return events

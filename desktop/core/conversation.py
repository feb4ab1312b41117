"""The transcript in conversation order, with what the user actually heard of interrupted answers.

Items are placed where the server says (`previous_item_id`), not where their text arrives: user transcriptions
come asynchronously, often after the answer has started.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TranscriptEntry:
    """A snapshot of one message for the UI."""

    item_id: str
    role: str  # "user" or "assistant"
    text: str
    done: bool = False
    failed: bool = False
    interrupted: bool = False
    heard_fraction: float | None = None  # set when the answer was cut off: share of its audio that was played

    @property
    def heard_text(self) -> str:
        if self.heard_fraction is None:
            return self.text
        return self.text[: heard_cut(self.text, self.heard_fraction)]

    @property
    def unheard_text(self) -> str:
        if self.heard_fraction is None:
            return ""
        return self.text[heard_cut(self.text, self.heard_fraction) :]


def heard_cut(text: str, fraction: float) -> int:
    """Where the heard part ends: that share of the characters, moved back to a word boundary."""
    fraction = min(max(fraction, 0.0), 1.0)
    cut = round(len(text) * fraction)
    if cut >= len(text):
        return len(text)
    while cut > 0 and not text[cut - 1].isspace() and not text[cut].isspace():
        cut -= 1
    return cut


class Conversation:
    def __init__(self) -> None:
        self._order: list[str] = []
        self._entries: dict[str, TranscriptEntry] = {}

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._entries

    def get(self, item_id: str) -> TranscriptEntry | None:
        return self._entries.get(item_id)

    def entries(self) -> list[TranscriptEntry]:
        return [self._entries[item_id] for item_id in self._order]

    def add(
        self, item_id: str, role: str, previous_item_id: str | None = None, text: str = ""
    ) -> TranscriptEntry:
        if item_id in self._entries:
            return self._entries[item_id]
        entry = TranscriptEntry(item_id, role, text)
        self._entries[item_id] = entry
        if previous_item_id in self._entries:
            self._order.insert(self._order.index(previous_item_id) + 1, item_id)
        else:
            self._order.append(item_id)
        return entry

    def replace(self, entry: TranscriptEntry) -> TranscriptEntry:
        self._entries[entry.item_id] = entry
        return entry

    def clear(self) -> None:
        self._order.clear()
        self._entries.clear()

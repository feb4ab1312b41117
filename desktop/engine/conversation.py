"""The conversation as the engine remembers it: ordered items, each with the text that counts as context.

Truncation is what keeps the engine's memory equal to the user's: an assistant reply keeps, per sentence, the
audio time at which that sentence ended, so `truncate(audio_end_ms)` keeps the sentences heard in full plus
the heard share of the words of the one cut off, and forgets the rest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from desktop.engine import protocol


@dataclass
class Item:
    id: str
    type: str  # "message" | "function_call" | "function_call_output"
    role: str | None = None  # message only: "user" | "assistant" | "system"
    status: str = "completed"
    text: str = ""  # user transcript or text, assistant transcript (as heard), system text
    content_type: str = "input_text"  # the content part's type for messages
    audio_ms: float = 0.0  # assistant audio sent so far
    marks: list[tuple[float, int]] = field(default_factory=list)  # (audio ms at sentence end, text length)
    call_id: str = ""
    name: str = ""
    arguments: str = ""
    output: str = ""
    transcript: asyncio.Task[str] | None = None  # user audio: recognition in progress

    def to_event(self) -> dict[str, Any]:
        """The item as the protocol shows it (conversation.item.added/done/retrieved, output_item.done)."""
        if self.type == "function_call":
            return protocol.function_call_item(self.id, self.call_id, self.name, self.arguments, self.status)
        if self.type == "function_call_output":
            return {"id": self.id, "type": "function_call_output", "object": "realtime.item",
                    "status": self.status, "call_id": self.call_id, "output": self.output}
        if self.role == "assistant":
            return protocol.assistant_item(self.id, self.status, self.text)
        if self.content_type == "input_audio":
            done = self.transcript is None or self.transcript.done()
            return protocol.user_audio_item(self.id, self.text if done else None)
        part = "text" if self.content_type in ("input_text", "output_text") else "transcript"
        return {"id": self.id, "type": "message", "object": "realtime.item", "role": self.role,
                "status": self.status, "content": [{"type": self.content_type, part: self.text}]}

    def heard_text(self, audio_end_ms: float) -> str:
        """The transcript up to `audio_end_ms` of this assistant item's audio."""
        kept, previous_ms, previous_len = 0, 0.0, 0
        for end_ms, length in self.marks:
            if end_ms <= audio_end_ms:
                kept, previous_ms, previous_len = length, end_ms, length
                continue
            share = (audio_end_ms - previous_ms) / max(end_ms - previous_ms, 1.0)
            words = self.text[previous_len:length].split()
            partial = " ".join(words[: int(len(words) * share)])
            return (self.text[:previous_len] + partial).strip()
        return self.text[:kept].strip()


class Conversation:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    @property
    def last_id(self) -> str | None:
        return next(reversed(self.items)) if self.items else None

    def add(self, item: Item) -> str | None:
        """Appends `item`; returns the id of the item before it (previous_item_id)."""
        previous = self.last_id
        self.items[item.id] = item
        return previous

    def previous_of(self, item_id: str) -> str | None:
        previous = None
        for key in self.items:
            if key == item_id:
                return previous
            previous = key
        return None

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    def delete(self, item_id: str) -> bool:
        return self.items.pop(item_id, None) is not None

    def since_last_response(self) -> list[Item]:
        """Items after the last assistant message or function call: what the next response answers."""
        tail: list[Item] = []
        for item in reversed(self.items.values()):
            if item.type == "function_call" or (item.type == "message" and item.role == "assistant"):
                break
            tail.append(item)
        return list(reversed(tail))

    def last_assistant_text(self) -> str:
        for item in reversed(self.items.values()):
            if item.type == "message" and item.role == "assistant" and item.text:
                return item.text
        return ""

    def pending_transcripts(self) -> list[asyncio.Task[str]]:
        return [item.transcript for item in self.items.values()
                if item.transcript is not None and not item.transcript.done()]

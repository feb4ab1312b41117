"""What the store hands back: plain frozen dataclasses, safe to pass between the writer thread and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("message", "function_call", "function_output", "approval")
BACKENDS = ("openai", "offline", "custom")
MATCH_START, MATCH_END = "\x02", "\x03"  # around the matched words in a search snippet


@dataclass(frozen=True)
class StoredItem:
    """One item of a conversation, as recorded when it was added and again when it was done."""

    item_id: str
    role: str  # "user", "assistant" or "tool"
    kind: str = "message"  # one of KINDS
    text: str = ""
    heard: str | None = None  # set when an answer was cut off: what the user heard ...
    unheard: str = ""  # ... and what they did not
    arguments: str = ""  # function calls: the JSON arguments
    output: str | None = None  # function calls: the result, None while running
    created: float = 0.0  # epoch seconds
    done: bool = False

    @property
    def spoken_text(self) -> str:
        """What the conversation really contained: the heard part of an interrupted answer."""
        return self.text if self.heard is None else self.heard


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    started: float
    updated: float
    title: str
    backend: str
    model: str
    cost: float
    items: int  # number of messages


@dataclass(frozen=True)
class ConversationRecord:
    summary: ConversationSummary
    items: tuple[StoredItem, ...]
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    title: str
    updated: float
    item_id: str
    role: str
    snippet: str  # the match wrapped in MATCH_START / MATCH_END

    def parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, is_match) runs, for a view that highlights without parsing markup."""
        runs: list[tuple[str, bool]] = []
        rest = self.snippet
        while rest:
            start = rest.find(MATCH_START)
            if start < 0:
                runs.append((rest, False))
                break
            end = rest.find(MATCH_END, start)
            end = len(rest) if end < 0 else end
            if start:
                runs.append((rest[:start], False))
            runs.append((rest[start + 1 : end], True))
            rest = rest[end + 1 :]
        return [run for run in runs if run[0]]


def title_from(text: str, words: int = 8, limit: int = 60) -> str:
    """A conversation's title: the first words of its first message."""
    flat = " ".join(text.split()[:words])
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"

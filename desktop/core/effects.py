"""What the session asks the app layer to do or show. Plain frozen data: the app maps them to Qt signals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop.core.conversation import TranscriptEntry
from desktop.core.errors import RealtimeError
from desktop.core.events import RateLimit
from desktop.core.link import LinkStatus
from desktop.core.state import TurnState
from desktop.core.usage import UsageTotals


@dataclass(frozen=True)
class StateChanged:
    state: TurnState
    previous: TurnState


@dataclass(frozen=True)
class PlayAudio:
    """PCM16 mono 24 kHz to queue for playback; the player counts played samples per item_id."""

    item_id: str
    content_index: int
    pcm: bytes = field(repr=False)


@dataclass(frozen=True)
class AudioFinished:
    """The server sent the last audio of this item: the player may play a tail shorter than its pre-buffer."""

    item_id: str


@dataclass(frozen=True)
class StopPlayback:
    """Drop everything queued for this item at once (barge-in, stop)."""

    item_id: str


@dataclass(frozen=True)
class TranscriptChanged:
    entry: TranscriptEntry


@dataclass(frozen=True)
class UsageChanged:
    """`cost_usd` is None when the backend's price is unknown; `meter` and `detail` are the meter's text."""

    totals: UsageTotals
    cost_usd: float | None
    meter: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ErrorRaised:
    error: RealtimeError


@dataclass(frozen=True)
class FunctionCallRequested:
    """The driver runs the handler and feeds the result back with Session.function_result()."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class FunctionCallsAbandoned:
    """The user moved on (talk, Stop, typed text, spoke hands-free) while these calls had no output yet: the app
    cancels them and still answers each one (the session sends the outputs, but no follow-up response.create)."""

    call_ids: tuple[str, ...]


@dataclass(frozen=True)
class SessionConfigured:
    """The server confirmed a session.update; `session` is its effective configuration."""

    session: Mapping[str, Any]


@dataclass(frozen=True)
class RateLimitsChanged:
    rate_limits: tuple[RateLimit, ...]


@dataclass(frozen=True)
class LinkChanged:
    """The link went up or down, or the next reconnect attempt was scheduled (for a countdown)."""

    status: LinkStatus


@dataclass(frozen=True)
class Notice:
    """A sentence for the transcript that is not an error: a message queued while offline, then sent."""

    text: str


Effect = (
    StateChanged
    | PlayAudio
    | AudioFinished
    | StopPlayback
    | TranscriptChanged
    | UsageChanged
    | ErrorRaised
    | FunctionCallRequested
    | FunctionCallsAbandoned
    | SessionConfigured
    | RateLimitsChanged
    | LinkChanged
    | Notice
)

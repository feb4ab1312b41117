"""Client event builders and the server event parser.

Every builder stamps a unique `event_id`: the server echoes it in the `error` an event causes, which is the
only way to tell which request failed. The parser is lenient by design — live servers add fields
(`obfuscation`), some still speak the beta names — and never raises: malformed input is logged and skipped,
unknown types are logged once.

Why one module of this size: it is the protocol's vocabulary, one small parser or builder per event type;
keeping them together keeps every wire name in one place.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop.core.config import SessionConfig
from desktop.core.errors import ServerErrorInfo

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------- client events

_PREFIX = f"evt_{os.urandom(4).hex()}_"
_COUNTER = itertools.count(1)


def new_event_id() -> str:
    """Unique per process run: a random prefix (reconnects, several sessions) plus a counter."""
    return f"{_PREFIX}{next(_COUNTER)}"


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": new_event_id(), **fields}


def session_update(config: SessionConfig) -> dict[str, Any]:
    return _event("session.update", session=config.session_payload())


def audio_append(pcm: bytes) -> dict[str, Any]:
    return _event("input_audio_buffer.append", audio=base64.b64encode(pcm).decode("ascii"))


def audio_commit() -> dict[str, Any]:
    return _event("input_audio_buffer.commit")


def audio_clear() -> dict[str, Any]:
    return _event("input_audio_buffer.clear")


def user_text(text: str, item_id: str | None = None) -> dict[str, Any]:
    """A typed turn, or an earlier one replayed; `item_id` (client-chosen, up to 32 characters) lets the echo
    of a replayed item be recognised as already known."""
    item: dict[str, Any] = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return _event("conversation.item.create", item={"id": item_id, **item} if item_id else item)


def assistant_text(text: str, item_id: str | None = None) -> dict[str, Any]:
    """Replays an earlier assistant answer into a fresh session (after reconnecting) as text."""
    item: dict[str, Any] = {"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": text}]}
    return _event("conversation.item.create", item={"id": item_id, **item} if item_id else item)


def function_call_output(call_id: str, output: str) -> dict[str, Any]:
    return _event(
        "conversation.item.create",
        item={"type": "function_call_output", "call_id": call_id, "output": output},
    )


def truncate(item_id: str, content_index: int, audio_end_ms: int) -> dict[str, Any]:
    return _event(
        "conversation.item.truncate", item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
    )


def response_create() -> dict[str, Any]:
    return _event("response.create")


def response_cancel(response_id: str | None = None) -> dict[str, Any]:
    return _event("response.cancel", **({"response_id": response_id} if response_id else {}))


# ---------------------------------------------------------------------------------------------- server events


@dataclass(frozen=True)
class ItemInfo:
    """The parts of a conversation item the core uses (messages and function calls)."""

    id: str
    type: str
    role: str | None = None
    status: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    text: str | None = None  # input_text / text / transcript found in the content, if any


@dataclass(frozen=True)
class SessionCreated:
    session: Mapping[str, Any]


@dataclass(frozen=True)
class SessionUpdated:
    session: Mapping[str, Any]


@dataclass(frozen=True)
class ErrorEvent:
    info: ServerErrorInfo


@dataclass(frozen=True)
class RateLimit:
    name: str
    limit: int | None
    remaining: int | None
    reset_seconds: float | None


@dataclass(frozen=True)
class RateLimitsUpdated:
    rate_limits: tuple[RateLimit, ...]


@dataclass(frozen=True)
class InputCommitted:
    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True)
class InputCleared:
    pass


@dataclass(frozen=True)
class SpeechStarted:
    item_id: str | None
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    item_id: str | None
    audio_end_ms: int


@dataclass(frozen=True)
class ItemAdded:
    """conversation.item.added (GA) or conversation.item.created (beta)."""

    item: ItemInfo
    previous_item_id: str | None


@dataclass(frozen=True)
class ItemDone:
    item: ItemInfo


@dataclass(frozen=True)
class ItemTruncated:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass(frozen=True)
class InputTranscriptDelta:
    item_id: str
    delta: str


@dataclass(frozen=True)
class InputTranscriptCompleted:
    item_id: str
    transcript: str


@dataclass(frozen=True)
class InputTranscriptFailed:
    item_id: str
    message: str


@dataclass(frozen=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True)
class Usage:
    """Token counts of one response; cached tokens are a subset of the input tokens."""

    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0


@dataclass(frozen=True)
class ResponseDone:
    response_id: str
    status: str
    usage: Usage | None
    status_details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class OutputItemAdded:
    response_id: str
    item: ItemInfo


@dataclass(frozen=True)
class OutputItemDone:
    response_id: str
    item: ItemInfo


@dataclass(frozen=True)
class AudioDelta:
    """response.output_audio.delta (GA) or response.audio.delta (beta), decoded to PCM16 bytes."""

    response_id: str
    item_id: str
    content_index: int
    pcm: bytes = field(repr=False)


@dataclass(frozen=True)
class AudioDone:
    response_id: str
    item_id: str


@dataclass(frozen=True)
class TranscriptDelta:
    """Assistant words: output_audio_transcript.delta or output_text.delta (and beta names)."""

    response_id: str
    item_id: str
    delta: str


@dataclass(frozen=True)
class TranscriptDone:
    response_id: str
    item_id: str
    transcript: str


@dataclass(frozen=True)
class FunctionCallDone:
    response_id: str
    item_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class OtherEvent:
    """A known event type the core has no use for (content_part.*, argument deltas, ...)."""

    type: str


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | ErrorEvent
    | RateLimitsUpdated
    | InputCommitted
    | InputCleared
    | SpeechStarted
    | SpeechStopped
    | ItemAdded
    | ItemDone
    | ItemTruncated
    | InputTranscriptDelta
    | InputTranscriptCompleted
    | InputTranscriptFailed
    | ResponseCreated
    | ResponseDone
    | OutputItemAdded
    | OutputItemDone
    | AudioDelta
    | AudioDone
    | TranscriptDelta
    | TranscriptDone
    | FunctionCallDone
    | OtherEvent
)

# Beta-era names some servers (speaches, older proxies) still send, mapped to the GA name.
BETA_ALIASES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}

_KNOWN_UNUSED = frozenset(
    {
        "conversation.created",
        "conversation.item.deleted",
        "conversation.item.retrieved",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "transcription_session.created",
        "transcription_session.updated",
    }
)


class _Malformed(Exception):
    pass


class _Unknown(Exception):
    pass


def _str(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise _Malformed(f"field {key!r} is not a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _item(data: Mapping[str, Any]) -> ItemInfo:
    text_parts: list[str] = []
    content = data.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                for key in ("text", "transcript"):
                    if isinstance(part.get(key), str):
                        text_parts.append(part[key])
    return ItemInfo(
        id=_str(data, "id"),
        type=_str(data, "type", "message"),
        role=_opt_str(data, "role"),
        status=_opt_str(data, "status"),
        call_id=_opt_str(data, "call_id"),
        name=_opt_str(data, "name"),
        arguments=_opt_str(data, "arguments"),
        text="".join(text_parts) if text_parts else None,
    )


def _usage(data: Mapping[str, Any]) -> Usage | None:
    if not data:
        return None
    inp, out = _dict(data, "input_token_details"), _dict(data, "output_token_details")
    cached_total = _int(inp, "cached_tokens")
    cached = _dict(inp, "cached_tokens_details")
    if cached:
        cached_text, cached_audio = _int(cached, "text_tokens"), _int(cached, "audio_tokens")
    else:  # no breakdown: count it as text, which prices the rest of the input as audio (the dearer guess)
        cached_text, cached_audio = cached_total, 0
    return Usage(
        input_text=_int(inp, "text_tokens"),
        input_audio=_int(inp, "audio_tokens"),
        cached_text=cached_text,
        cached_audio=cached_audio,
        output_text=_int(out, "text_tokens"),
        output_audio=_int(out, "audio_tokens"),
    )


def _rate_limits(data: Mapping[str, Any]) -> RateLimitsUpdated:
    limits: list[RateLimit] = []
    for entry in data.get("rate_limits") or []:
        if isinstance(entry, Mapping):
            reset = entry.get("reset_seconds")
            limits.append(
                RateLimit(
                    name=str(entry.get("name", "")),
                    limit=_int(entry, "limit") if "limit" in entry else None,
                    remaining=_int(entry, "remaining") if "remaining" in entry else None,
                    reset_seconds=float(reset) if isinstance(reset, int | float) else None,
                )
            )
    return RateLimitsUpdated(tuple(limits))


def _decode_audio(data: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode(_str(data, "delta"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Malformed(f"audio delta is not base64: {exc}") from None


def _build(kind: str, data: Mapping[str, Any]) -> ServerEvent:
    if kind == "session.created":
        return SessionCreated(_dict(data, "session"))
    if kind == "session.updated":
        return SessionUpdated(_dict(data, "session"))
    if kind == "error":
        err = _dict(data, "error")
        return ErrorEvent(
            ServerErrorInfo(
                code=_opt_str(err, "code"),
                message=str(err.get("message", "")),
                param=_opt_str(err, "param"),
                event_id=_opt_str(err, "event_id"),
                error_type=_opt_str(err, "type"),
            )
        )
    if kind == "rate_limits.updated":
        return _rate_limits(data)
    if kind == "input_audio_buffer.committed":
        return InputCommitted(_str(data, "item_id"), _opt_str(data, "previous_item_id"))
    if kind == "input_audio_buffer.cleared":
        return InputCleared()
    if kind == "input_audio_buffer.speech_started":
        return SpeechStarted(_opt_str(data, "item_id"), _int(data, "audio_start_ms"))
    if kind == "input_audio_buffer.speech_stopped":
        return SpeechStopped(_opt_str(data, "item_id"), _int(data, "audio_end_ms"))
    if kind == "conversation.item.added":
        return ItemAdded(_item(_dict(data, "item")), _opt_str(data, "previous_item_id"))
    if kind == "conversation.item.done":
        return ItemDone(_item(_dict(data, "item")))
    if kind == "conversation.item.truncated":
        return ItemTruncated(_str(data, "item_id"), _int(data, "content_index"), _int(data, "audio_end_ms"))
    if kind == "conversation.item.input_audio_transcription.delta":
        return InputTranscriptDelta(_str(data, "item_id"), _str(data, "delta", ""))
    if kind == "conversation.item.input_audio_transcription.completed":
        return InputTranscriptCompleted(_str(data, "item_id"), _str(data, "transcript", ""))
    if kind == "conversation.item.input_audio_transcription.failed":
        return InputTranscriptFailed(_str(data, "item_id"), str(_dict(data, "error").get("message", "")))
    if kind == "response.created":
        return ResponseCreated(_str(_dict(data, "response"), "id"))
    if kind == "response.done":
        response = _dict(data, "response")
        details = response.get("status_details")
        return ResponseDone(
            _str(response, "id"),
            _str(response, "status", "completed"),
            _usage(_dict(response, "usage")),
            details if isinstance(details, Mapping) else None,
        )
    if kind == "response.output_item.added":
        return OutputItemAdded(_str(data, "response_id"), _item(_dict(data, "item")))
    if kind == "response.output_item.done":
        return OutputItemDone(_str(data, "response_id"), _item(_dict(data, "item")))
    if kind == "response.output_audio.delta":
        return AudioDelta(
            _str(data, "response_id"), _str(data, "item_id"), _int(data, "content_index"), _decode_audio(data)
        )
    if kind == "response.output_audio.done":
        return AudioDone(_str(data, "response_id"), _str(data, "item_id"))
    if kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
        return TranscriptDelta(_str(data, "response_id"), _str(data, "item_id"), _str(data, "delta", ""))
    if kind == "response.output_audio_transcript.done":
        return TranscriptDone(_str(data, "response_id"), _str(data, "item_id"), _str(data, "transcript", ""))
    if kind == "response.output_text.done":
        return TranscriptDone(_str(data, "response_id"), _str(data, "item_id"), _str(data, "text", ""))
    if kind == "response.function_call_arguments.done":
        return FunctionCallDone(
            _str(data, "response_id"),
            _str(data, "item_id"),
            _str(data, "call_id"),
            _str(data, "name", ""),
            _str(data, "arguments", "{}"),
        )
    if kind in _KNOWN_UNUSED:
        return OtherEvent(kind)
    raise _Unknown(kind)


class EventParser:
    """Turns raw WebSocket messages into typed events; remembers which unknown types it has already logged."""

    def __init__(self) -> None:
        self._unknown_logged: set[str] = set()

    def parse(self, raw: str | bytes) -> ServerEvent | None:
        """The typed event, or None for malformed or unknown input (logged, never raised)."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("skipping malformed server message (%s): %.80r", exc, raw)
            return None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            log.warning("skipping server message without a type: %.80r", raw)
            return None
        raw_kind: str = data["type"]
        kind = BETA_ALIASES.get(raw_kind, raw_kind)
        try:
            return _build(kind, data)
        except _Unknown:
            if kind not in self._unknown_logged:
                self._unknown_logged.add(kind)
                log.info("ignoring unknown server event type %r (logged once)", kind)
            return None
        except _Malformed as exc:
            log.warning("skipping malformed %s event: %s", kind, exc)
            return None

"""The Realtime protocol's shapes as this engine sends them: ids, the session object, items, usage and the
`error` event. Builders live here so every event is shaped in one place and checked against the `openai`
package's models by the tests (tests/engine validates every event received).

The session accepts the GA shape only. Like the live server, an update with an unknown field is rejected
whole with an `error` naming the field, so a client bug shows up here as it would against the cloud.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

Event = dict[str, Any]

RATE = 24_000
MODEL = "parley-offline"
DEFAULT_VOICE = "marin"  # reported back as asked; the offline voice is always hibari's "heart"

# What a session.update may contain (GA). Values of dict type describe nested objects; None = any value.
_SESSION_SHAPE: dict[str, Any] = {
    "type": None, "model": None, "instructions": None, "output_modalities": None, "tools": None,
    "tool_choice": None, "max_output_tokens": None, "include": None, "prompt": None, "tracing": None,
    "truncation": None, "reasoning": None, "parallel_tool_calls": None,
    "audio": {
        "input": {"format": None, "transcription": None, "noise_reduction": None, "turn_detection": None},
        "output": {"format": None, "voice": None, "speed": None},
    },
}
_TURN_DETECTION_FIELDS = {
    "server_vad": {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
                   "interrupt_response", "idle_timeout_ms"},
    "semantic_vad": {"type", "eagerness", "create_response", "interrupt_response"},
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def default_session() -> dict[str, Any]:
    """The configuration a new connection starts with: the live server's defaults (server VAD on)."""
    return {
        "type": "realtime",
        "model": MODEL,
        "instructions": "",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                    "silence_duration_ms": 200, "create_response": True, "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": DEFAULT_VOICE, "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    }


def public_session(session: dict[str, Any]) -> dict[str, Any]:
    """A copy for session.created/updated: later updates must not change an event already queued."""
    return copy.deepcopy(session)


class SessionUpdateError(ValueError):
    def __init__(self, code: str, message: str, param: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def check_session_update(update: Any) -> None:
    """Raises SessionUpdateError for what the live server rejects: no `type`, unknown fields, a turn
    detection of an unknown kind, audio formats other than 24 kHz PCM16."""
    if not isinstance(update, dict):
        raise SessionUpdateError("invalid_type", "session must be an object.", "session")
    if update.get("type") != "realtime":
        raise SessionUpdateError("missing_required_parameter" if "type" not in update else "invalid_value",
                                 "session.type must be 'realtime'.", "session.type")
    _check_fields(update, _SESSION_SHAPE, "session")
    audio_in = (update.get("audio") or {}).get("input") or {}
    detection = audio_in.get("turn_detection")
    if detection is not None:
        kind = detection.get("type") if isinstance(detection, dict) else None
        if kind not in _TURN_DETECTION_FIELDS:
            raise SessionUpdateError("invalid_value", "turn_detection.type must be server_vad or semantic_vad.",
                                     "session.audio.input.turn_detection.type")
        for key in detection:
            if key not in _TURN_DETECTION_FIELDS[kind]:
                raise SessionUpdateError("unknown_parameter", f"Unknown parameter: '{key}'.",
                                         f"session.audio.input.turn_detection.{key}")
    for side in ("input", "output"):
        fmt = ((update.get("audio") or {}).get(side) or {}).get("format")
        if fmt is not None and (fmt.get("type") != "audio/pcm" or fmt.get("rate", RATE) != RATE):
            raise SessionUpdateError("invalid_value", "The offline engine speaks audio/pcm at 24000 Hz only.",
                                     f"session.audio.{side}.format")


def _check_fields(value: dict[str, Any], shape: dict[str, Any], path: str) -> None:
    for key, item in value.items():
        if key not in shape:
            raise SessionUpdateError("unknown_parameter", f"Unknown parameter: '{path}.{key}'.", f"{path}.{key}")
        if isinstance(shape[key], dict) and isinstance(item, dict):
            _check_fields(item, shape[key], f"{path}.{key}")


def merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Only the fields present change (a nested object merges; null replaces)."""
    for key, value in update.items():
        if key == "turn_detection" or not (isinstance(value, dict) and isinstance(target.get(key), dict)):
            target[key] = copy.deepcopy(value)
        else:
            merge(target[key], value)


def error(code: str, message: str, event_id: str | None = None, param: str | None = None,
          kind: str = "invalid_request_error") -> Event:
    return {"type": "error",
            "error": {"type": kind, "code": code, "message": message, "param": param, "event_id": event_id}}


def user_audio_item(item_id: str, transcript: str | None) -> Event:
    return {"id": item_id, "type": "message", "object": "realtime.item", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": transcript}]}


def assistant_item(item_id: str, status: str, transcript: str | None) -> Event:
    content = [] if transcript is None else [{"type": "output_audio", "transcript": transcript}]
    return {"id": item_id, "type": "message", "object": "realtime.item", "role": "assistant", "status": status,
            "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> Event:
    return {"id": item_id, "type": "function_call", "object": "realtime.item", "status": status,
            "call_id": call_id, "name": name, "arguments": arguments}


def usage(input_text_tokens: int, input_audio_tokens: int, output_text_tokens: int,
          output_audio_tokens: int) -> Event:
    """Token counts as the API reports them. Nothing is billed offline; the figures follow the API's rates
    (user audio 10 tokens/s, assistant audio 20 tokens/s, ~4 characters a text token) so the app's usage
    display keeps working."""
    total_in = input_text_tokens + input_audio_tokens
    total_out = output_text_tokens + output_audio_tokens
    return {
        "input_tokens": total_in, "output_tokens": total_out, "total_tokens": total_in + total_out,
        "input_token_details": {"text_tokens": input_text_tokens, "audio_tokens": input_audio_tokens,
                                "cached_tokens": 0,
                                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0}},
        "output_token_details": {"text_tokens": output_text_tokens, "audio_tokens": output_audio_tokens},
    }

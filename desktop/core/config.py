"""What the app configures: where to connect and how the session behaves, turned into wire payloads here only.

`turn_detection` is written as an explicit JSON null for push-to-talk: a serialiser that drops None would
leave the server's default voice detection on, and push-to-talk would silently behave like hands-free.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit

from desktop.core.errors import InsecureUrlError

OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
OPENAI_LIVE_URL = "wss://api.openai.com/v1/live/sessions"
DEFAULT_MODEL = "gpt-realtime"
SAMPLE_RATE = 24_000  # audio/pcm: 16-bit little-endian mono at 24 kHz, both directions
PCM_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": SAMPLE_RATE}


class TurnMode(StrEnum):
    PUSH_TO_TALK = "push_to_talk"
    SERVER_VAD = "server_vad"
    SEMANTIC_VAD = "semantic_vad"


class AuthStyle(StrEnum):
    BEARER = "bearer"  # Authorization: Bearer <key> (OpenAI, Azure with an Entra token)
    API_KEY = "api-key"  # api-key: <key> (Azure OpenAI keys)
    NONE = "none"  # local servers


@dataclass(frozen=True)
class SessionConfig:
    instructions: str = "You are a helpful, concise voice assistant."
    voice: str = "marin"
    model: str = DEFAULT_MODEL
    transcription_model: str | None = "gpt-4o-mini-transcribe"  # None: no user transcripts
    noise_reduction: str | None = "near_field"  # "near_field", "far_field" or None
    turn_mode: TurnMode = TurnMode.PUSH_TO_TALK
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    eagerness: str = "auto"  # semantic_vad: "low", "medium", "high" or "auto"
    create_response: bool = True
    interrupt_response: bool = True
    tools: Sequence[Mapping[str, Any]] = field(default=())

    @property
    def hands_free(self) -> bool:
        return self.turn_mode is not TurnMode.PUSH_TO_TALK

    def turn_detection(self) -> dict[str, Any] | None:
        """Every field spelled out: a partial object falls back to server defaults (silence 200 ms live)."""
        if self.turn_mode is TurnMode.PUSH_TO_TALK:
            return None
        if self.turn_mode is TurnMode.SERVER_VAD:
            return {
                "type": "server_vad",
                "threshold": self.threshold,
                "prefix_padding_ms": self.prefix_padding_ms,
                "silence_duration_ms": self.silence_duration_ms,
                "create_response": self.create_response,
                "interrupt_response": self.interrupt_response,
            }
        return {
            "type": "semantic_vad",
            "eagerness": self.eagerness,
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }

    def session_payload(self) -> dict[str, Any]:
        """The `session` object of a session.update (GA shape, `type: realtime`)."""
        audio_in: dict[str, Any] = {
            "format": dict(PCM_FORMAT),
            "transcription": {"model": self.transcription_model} if self.transcription_model else None,
            "noise_reduction": {"type": self.noise_reduction} if self.noise_reduction else None,
            "turn_detection": self.turn_detection(),
        }
        session: dict[str, Any] = {
            "type": "realtime",
            "instructions": self.instructions,
            "output_modalities": ["audio"],
            "audio": {"input": audio_in, "output": {"format": dict(PCM_FORMAT), "voice": self.voice}},
            "tools": [dict(tool) for tool in self.tools],
            "tool_choice": "auto",
        }
        return session


@dataclass(frozen=True)
class ConnectionConfig:
    """Where and how to connect. `url` overrides the OpenAI default (Azure, local servers)."""

    api_key: str | None = field(default=None, repr=False)
    model: str = DEFAULT_MODEL
    url: str | None = None
    auth_style: AuthStyle = AuthStyle.BEARER
    protocol: str = "realtime"  # or "live": GPT-Live, whose URL names no model (session.start does)
    open_timeout_s: float = 10.0
    ping_interval_s: float = 2.0  # a link quiet this long is pinged ...
    ping_timeout_s: float = 3.0  # ... and dropped when neither the pong nor any data comes back in this time
    close_timeout_s: float = 2.0
    send_queue_size: int = 1000

    def resolved_url(self) -> str:
        """The URL with the model added when the override names neither a model nor an Azure deployment."""
        if self.protocol == "live":
            url = self.url or OPENAI_LIVE_URL
            check_url_security(url)
            return url
        url = self.url or OPENAI_REALTIME_URL
        if "model=" not in url and "deployment=" not in url:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode({'model': self.model})}"
        check_url_security(url)
        return url

    def endpoint(self) -> tuple[str, int]:
        """Host and TCP port of the server, for the reachability probe."""
        parts = urlsplit(self.url or OPENAI_REALTIME_URL)
        return parts.hostname or "localhost", parts.port or (443 if parts.scheme == "wss" else 80)

    def headers(self) -> dict[str, str]:
        """Auth headers only. Never `OpenAI-Beta`: the beta shape is off and answered with close 4000."""
        if not self.api_key or self.auth_style is AuthStyle.NONE:
            return {}
        if self.auth_style is AuthStyle.API_KEY:
            return {"api-key": self.api_key}
        return {"Authorization": f"Bearer {self.api_key}"}


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url_security(url: str) -> None:
    """wss:// anywhere; ws:// only to this machine, where there is nothing to intercept."""
    parts = urlsplit(url)
    if parts.scheme == "wss":
        return
    if parts.scheme == "ws":
        if is_loopback_host(parts.hostname):
            return
        raise InsecureUrlError(
            f"plain ws:// is allowed only for loopback hosts, not {parts.hostname!r}; use wss://"
        )
    raise InsecureUrlError(f"unsupported URL scheme {parts.scheme!r}: use wss:// (or ws:// to localhost)")

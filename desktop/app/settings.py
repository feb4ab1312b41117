"""Every user setting, declared once: name, type, default and a description the settings dialog shows.

Declaring them as data (rather than scattering `QSettings.value()` calls) keeps defaults in one place, lets the
dialog and the command line share validation, and makes it impossible to store a secret by accident: the API key
is not a setting at all, it lives in the OS keyring (see desktop.app.secrets).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QSettings

T = TypeVar("T", str, int, float, bool)

ORGANIZATION = "Parley"
APPLICATION = "Parley"
OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One persisted option. `choices` restricts str settings; `minimum`/`maximum` bound numbers. `label` is what
    the settings dialog shows beside the field (the description is its tooltip), `unit` the spin box's suffix and
    `zero_label` what a spin box shows for 0 when 0 means something special."""

    key: str
    type: type[T]
    default: T
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    label: str = ""
    unit: str = ""
    zero_label: str = ""

    def coerce(self, raw: Any) -> T:
        """Turns what QSettings hands back (often a str on Linux) into the declared type, or the default."""
        try:
            if self.type is bool:
                value: Any = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
            else:
                value = self.type(raw)
        except (TypeError, ValueError):
            return self.default
        if self.choices and value not in self.choices:
            return self.default
        if self.minimum is not None and value < self.minimum:
            return self.default
        if self.maximum is not None and value > self.maximum:
            return self.default
        return value  # type: ignore[no-any-return]


SETTINGS: tuple[Setting[Any], ...] = (
    Setting("backend", str, "auto", "Which server Parley talks to: 'auto' uses the offline engine until an API key "
            "is stored, then OpenAI.", choices=("auto", "offline", "openai", "custom"), label="Server"),
    Setting("endpoint_url", str, OPENAI_REALTIME_URL, "Realtime WebSocket endpoint (OpenAI, Azure OpenAI or a "
            "compatible server). PARLEY_REALTIME_URL and --url override it.", label="Endpoint URL"),
    Setting("auth_style", str, "bearer", "How the key is sent: 'bearer' (OpenAI), 'api-key' (Azure OpenAI) or "
            "'none' (a local server).", choices=("bearer", "api-key", "none"), label="Key sent as"),
    Setting("model", str, "gpt-realtime-2.1", "Model (or Azure deployment) name: a Realtime model, or gpt-live-* for "
            "GPT-Live (full duplex).", label="Model"),
    Setting("voice", str, "marin", "The assistant's voice; it can change only before its first spoken reply.",
            label="Voice"),
    Setting("instructions", str, "You are Parley, a helpful voice assistant. Keep answers short and spoken.",
            "System instructions sent with every session.", label="Instructions"),
    Setting("transcription_model", str, "gpt-4o-mini-transcribe", "Model that transcribes what you say.",
            label="Transcription model"),
    Setting("noise_reduction", str, "near_field", "Server-side noise reduction for the microphone.",
            choices=("near_field", "far_field", "off"), label="Noise reduction"),
    Setting("turn_mode", str, "push_to_talk", "Who decides when your turn ends: you (push-to-talk) or voice "
            "activity detection (hands-free).", choices=("push_to_talk", "server_vad", "semantic_vad"),
            label="Turn taking"),
    Setting("vad_threshold", float, 0.5, "Hands-free: speech detection threshold (0–1).", minimum=0.0, maximum=1.0,
            label="Hands-free: speech threshold"),
    Setting("vad_silence_ms", int, 500, "Hands-free: silence that ends your turn (ms).", minimum=100, maximum=5000,
            label="Hands-free: silence ending a turn", unit="ms"),
    Setting("vad_prefix_padding_ms", int, 300, "Hands-free: audio kept before detected speech (ms).",
            minimum=0, maximum=2000, label="Hands-free: audio kept before speech", unit="ms"),
    Setting("semantic_eagerness", str, "auto", "Hands-free (semantic): how eagerly the model takes its turn.",
            choices=("low", "medium", "high", "auto"), label="Semantic detection: eagerness"),
    Setting("input_device", str, "", "Microphone: name substring or index; empty means the system default.",
            label="Microphone"),
    Setting("output_device", str, "", "Speaker: name substring or index; empty means the system default.",
            label="Speaker"),
    Setting("hotkey", str, "Space", "Hold this key in the window to talk.", label="Talk key in the window"),
    Setting("global_hotkey_enabled", bool, False, "Also listen for a hold-to-talk key while other apps have focus."),
    Setting("global_hotkey", str, "F9", "The global hold-to-talk key.", label="Global talk key"),
    Setting("jitter_ms", int, 80, "Audio buffered before a reply starts playing (ms): more is smoother, less is "
            "snappier.", minimum=20, maximum=500, label="Jitter buffer", unit="ms"),
    Setting("preroll_ms", int, 300, "Audio kept from just before you press talk, so the first syllable is not "
            "lost (ms).", minimum=0, maximum=1000, label="Pre-roll", unit="ms"),
    Setting("audio_rest_s", int, 10, "Rest the microphone and speaker after this many seconds unused (0: never). "
            "Resting frees the CPU and turns off the system's microphone indicator; the first press after a rest "
            "has no pre-roll.", minimum=0, maximum=3600, label="Rest the audio after", unit="s",
            zero_label="never"),
    Setting("headphones", bool, False, "I use headphones: no echo canceller or echo guard (less CPU)."),
    Setting("keep_history", bool, True, "Keep every conversation in a searchable history on this computer (off: "
            "nothing is written; History → Delete all removes what was kept).", label="Keep a history"),
    Setting("start_with", str, "new", "When Parley starts: a new conversation, or continue the last one (its text "
            "is replayed to the model).", choices=("new", "continue"), label="On start"),
    Setting("close_to_tray", bool, True, "Closing the window keeps Parley running in the system tray (when the "
            "desktop has one); quit from the tray menu."),
    Setting("start_hidden", bool, False, "Start hidden in the system tray (when the desktop has one)."),
    Setting("tray_notice_shown", bool, False, "The one-time notice that closing hides Parley to the tray was "
            "shown."),
    Setting("start_at_login", bool, False, "Start Parley when you log in to this computer."),
    Setting("earcons", bool, False, "Play a short sound when Parley starts and stops listening."),
)

_BY_KEY = {s.key: s for s in SETTINGS}


def setting(key: str) -> Setting[Any]:
    """Looks a declaration up; a KeyError here is a programming error, not user input."""
    return _BY_KEY[key]


class SettingsStore:
    """Typed access to QSettings for the declared settings only; unknown keys are refused loudly."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings if qsettings is not None else QSettings(ORGANIZATION, APPLICATION)

    def get(self, key: str) -> Any:
        decl = setting(key)
        raw = self._q.value(key)
        return decl.default if raw is None else decl.coerce(raw)

    def set(self, key: str, value: Any) -> None:
        decl = setting(key)
        coerced = decl.coerce(value)
        if coerced != value and not (decl.type is float and isinstance(value, int)):
            raise ValueError(f"{key}: {value!r} is not a valid {decl.type.__name__}")
        self._q.setValue(key, coerced)

    def reset(self, key: str) -> None:
        self._q.remove(setting(key).key)

    def items(self) -> Iterator[tuple[str, Any]]:
        for decl in SETTINGS:
            yield decl.key, self.get(decl.key)

    def sync(self) -> None:
        self._q.sync()

    def file_name(self) -> str:
        return self._q.fileName()

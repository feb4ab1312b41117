"""Which server to talk to, decided in one place from the command line, the environment, settings and the key.

"auto" is what a new user gets: with no key, Parley still holds a spoken conversation through the offline engine
on this computer, and says so; once a key exists, OpenAI. An explicit --url / PARLEY_REALTIME_URL always wins,
because whoever typed it knows what server they want.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop.app.secrets import KeySource
from desktop.app.settings import OPENAI_REALTIME_URL


@dataclass(frozen=True)
class Backend:
    kind: str  # "offline", "openai" or "custom"
    url: str | None  # None for "offline": the engine's URL is known once it has started
    auth_style: str
    key: str | None
    notice: str  # one sentence for the status area


def choose_backend(settings: dict[str, Any], key: KeySource, url_override: str | None) -> Backend:
    kind = settings["backend"]
    model = settings["model"]
    if url_override:
        return Backend("custom", url_override, settings["auth_style"], key.key, f"Using {url_override}")
    if kind == "auto":
        kind = "openai" if key.key else "offline"
    if kind == "offline":
        notice = ("No API key yet: talking to the offline engine on this computer (Settings → Connection to add "
                  "a key)." if not key.key else "Talking to the offline engine on this computer.")
        return Backend("offline", None, "none", None, notice)
    if kind == "openai":
        url = f"{OPENAI_REALTIME_URL}?model={model}"
        if not key.key:
            return Backend("openai", url, "bearer", None, "OpenAI needs an API key: open Settings → Connection.")
        return Backend("openai", url, "bearer", key.key, f"Connected to OpenAI ({model})")
    url = settings["endpoint_url"]
    if "model=" not in url and "deployment=" not in url:
        url = f"{url}{'&' if '?' in url else '?'}model={model}"
    return Backend("custom", url, settings["auth_style"], key.key, f"Using {url}")

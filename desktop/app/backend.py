"""Which server to talk to, decided in one place from the command line, the environment, settings and the key.

"auto" is what a new user gets: with no key, Parley still holds a spoken conversation through the offline engine
on this computer, and says so; once a key exists, OpenAI. An explicit --url / PARLEY_REALTIME_URL always wins,
because whoever typed it knows what server they want.

The window's status line says where Parley talks in words (`title`); the URL itself is for the tooltip and the
settings, not for the line a user reads at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from desktop.app.secrets import KeySource
from desktop.app.settings import OPENAI_REALTIME_URL
from desktop.core.config import OPENAI_LIVE_URL
from desktop.core.models import Protocol, find


@dataclass(frozen=True)
class Backend:
    kind: str  # "offline", "openai" or "custom"
    url: str | None  # None for "offline": the engine's URL is known once it has started
    auth_style: str
    key: str | None
    title: str  # the status line: "OpenAI · gpt-realtime · voice marin", "Offline engine", "Custom server · host"
    notice: str = ""  # a sentence for the transcript when there is something to know or do, else nothing
    protocol: str = "realtime"  # or "live": GPT-Live (/v1/live/sessions), chosen by the model or the URL's path


def live_url(url: str) -> bool:
    """A GPT-Live endpoint is known by its path (/v1/live/sessions), whoever serves it."""
    try:
        return "/live/" in urlsplit(url).path + "/"
    except ValueError:
        return False


def model_protocol(model: str) -> str:
    entry = find(model)
    return entry.protocol.value if entry is not None else Protocol.REALTIME.value


def choose_backend(settings: dict[str, Any], key: KeySource, url_override: str | None) -> Backend:
    kind = settings["backend"]
    model = settings["model"]
    if url_override:
        protocol = "live" if live_url(url_override) else "realtime"
        return Backend("custom", url_override, settings["auth_style"], key.key, custom_title(url_override),
                       protocol=protocol)
    if kind == "auto":
        kind = "openai" if key.key else "offline"
    if kind == "offline":
        notice = "" if key.key else ("No API key yet: talking to the offline engine on this computer "
                                     "(Settings → Connection to add a key).")
        if key.problem and settings["backend"] == "auto":  # a key may well be saved: say why it was not used
            notice = f"{key.problem} Until then Parley talks to the offline engine on this computer."
        return Backend("offline", None, "none", None, "Offline engine", notice)
    if kind == "openai":
        protocol = model_protocol(model)
        if protocol == "live":  # the model goes in session.start, never in the URL
            url, title = OPENAI_LIVE_URL, f"OpenAI GPT-Live · {model} · voice {settings['voice']}"
        else:
            url, title = f"{OPENAI_REALTIME_URL}?model={model}", f"OpenAI · {model} · voice {settings['voice']}"
        if not key.key:
            return Backend("openai", url, "bearer", None, title,
                           key.problem or
                           "Open Settings → Connection and paste your key; it is kept in the system keyring.", protocol)
        return Backend("openai", url, "bearer", key.key, title, protocol=protocol)
    url = settings["endpoint_url"]
    if live_url(url):
        return Backend("custom", url, settings["auth_style"], key.key, custom_title(url), protocol="live")
    if "model=" not in url and "deployment=" not in url:
        url = f"{url}{'&' if '?' in url else '?'}model={model}"
    return Backend("custom", url, settings["auth_style"], key.key, custom_title(url))


def custom_title(url: str) -> str:
    """"Custom server · host[:port]": never the path, query or any credentials in the URL."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a malformed port: the connection will say what is wrong with the URL
        return "Custom server"
    if not host:
        return "Custom server"
    host = f"[{host}]" if ":" in host else host
    return f"Custom server · {host}:{port}" if port else f"Custom server · {host}"

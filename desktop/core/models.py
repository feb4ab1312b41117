"""The models Parley offers, with the protocol each speaks and its list price: one table, used by the cost meter
and the model picker.

Prices are OpenAI's list prices as its model pages state them (developers.openai.com/api/docs/models/<id>), read
on 2026-12-03. Where no page stating a price was found, the price is None and the meter shows tokens instead of
inventing dollars. What a backend really charges is decided in `pricing()`: the offline engine is free, OpenAI
bills list prices, and another server is priced only when it serves a model this table knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    REALTIME = "realtime"  # /v1/realtime: token billing
    LIVE = "live"  # /v1/live/sessions (GPT-Live): billed per second of session


@dataclass(frozen=True)
class TokenPrices:
    """US dollars per million tokens."""

    text_in: float
    cached_text_in: float
    audio_in: float
    cached_audio_in: float
    text_out: float
    audio_out: float


@dataclass(frozen=True)
class DurationPrices:
    """US dollars per minute of session, billed per second (not rounded up to whole minutes)."""

    active_per_minute: float
    standby_per_minute: float | None = None  # WebRTC sessions only; a WebSocket session is always active


Prices = TokenPrices | DurationPrices


@dataclass(frozen=True)
class Model:
    id: str
    label: str
    protocol: Protocol
    prices: Prices | None  # None: no list price found; the meter then shows tokens only

    def price_text(self) -> str:
        """One line for the model picker."""
        p = self.prices
        if p is None:
            return "list price not known"
        if isinstance(p, DurationPrices):
            return f"${p.active_per_minute:g} per minute"
        return f"audio ${p.audio_in:g} in / ${p.audio_out:g} out, text ${p.text_in:g} / ${p.text_out:g} per 1M tokens"


_FLAGSHIP = TokenPrices(text_in=4.0, cached_text_in=0.40, audio_in=32.0, cached_audio_in=0.40, text_out=16.0,
                        audio_out=64.0)
_REASONING = TokenPrices(text_in=4.0, cached_text_in=0.40, audio_in=32.0, cached_audio_in=0.40, text_out=24.0,
                         audio_out=64.0)
_MINI = TokenPrices(text_in=0.60, cached_text_in=0.06, audio_in=10.0, cached_audio_in=0.30, text_out=2.40,
                    audio_out=20.0)

CATALOGUE: tuple[Model, ...] = (
    # No OpenAI page for plain gpt-realtime was found in the searched docs. These are the figures Parley used
    # before (the same as gpt-realtime-1.5's page); kept so the long-standing default is not left unpriced.
    Model("gpt-realtime", "GPT-Realtime", Protocol.REALTIME, _FLAGSHIP),
    Model("gpt-realtime-1.5", "GPT-Realtime-1.5", Protocol.REALTIME, _FLAGSHIP),  # models/gpt-realtime-1.5
    Model("gpt-realtime-2", "GPT-Realtime-2", Protocol.REALTIME, _REASONING),  # models/gpt-realtime-2
    Model("gpt-realtime-2.1", "GPT-Realtime-2.1", Protocol.REALTIME, _REASONING),  # models/gpt-realtime-2.1
    Model("gpt-realtime-2.1-mini", "GPT-Realtime-2.1 Mini", Protocol.REALTIME, _MINI),  # models/gpt-realtime-2.1-mini
    # gpt-realtime-mini: only its text input price ($0.60 per 1M) appears (in the comparison on the 2.1 Mini
    # page); its own page was not found, so its price stays unknown rather than guessed.
    Model("gpt-realtime-mini", "GPT-Realtime Mini", Protocol.REALTIME, None),
    Model("gpt-live-1", "GPT-Live 1 (full duplex)", Protocol.LIVE, DurationPrices(0.05)),  # models/gpt-live-1
    Model("gpt-live-1.1", "GPT-Live-1.1 (full duplex)", Protocol.LIVE,
          DurationPrices(0.05, standby_per_minute=0.02)),  # models/gpt-live-1.1
)
_BY_ID = {model.id: model for model in CATALOGUE}
_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")  # gpt-realtime-2025-08-28 is a gpt-realtime snapshot

FREE = TokenPrices(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def find(model_id: str) -> Model | None:
    """The catalogue entry for an id or a dated snapshot of it. Never a prefix guess: 'gpt-realtime-mini' is not
    'gpt-realtime' (that guess once priced the mini at about three times its cost)."""
    model_id = model_id.strip()
    if model_id in _BY_ID:
        return _BY_ID[model_id]
    match = _SNAPSHOT.match(model_id)
    return _BY_ID.get(match["base"]) if match else None


def list_prices(model_id: str) -> TokenPrices | None:
    """Token prices at OpenAI's list price, or None when unknown (or when the model is billed by duration)."""
    model = find(model_id)
    return model.prices if model is not None and isinstance(model.prices, TokenPrices) else None


Pricing = Callable[[str], TokenPrices | None]  # model id -> the token prices this backend charges, None: unknown


def pricing(backend: str) -> Pricing:
    """What a backend charges: the offline engine ('offline') runs here and costs nothing; OpenAI ('openai')
    and other servers ('custom': Azure, proxies) are priced by model when the model is known."""
    if backend == "offline":
        return lambda _model: FREE
    return list_prices


def duration_cost(seconds: float, prices: DurationPrices) -> float:
    """Per-second billing of an always-active session (GPT-Live over a WebSocket)."""
    return max(seconds, 0.0) / 60.0 * prices.active_per_minute

"""Token totals and their cost, from `response.done` usage.

Audio tokens cost many times text tokens and every turn re-reads the growing context, so the app shows a
running cost. Prices live in ONE table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.core.events import Usage


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    text_in: float
    cached_text_in: float
    audio_in: float
    cached_audio_in: float
    text_out: float
    audio_out: float


# LIST PRICES TO CHECK against https://openai.com/api/pricing before relying on them (gpt-realtime GA).
PRICES: dict[str, Prices] = {
    "gpt-realtime": Prices(
        text_in=4.0, cached_text_in=0.40, audio_in=32.0, cached_audio_in=0.40, text_out=16.0, audio_out=64.0
    ),
}
DEFAULT_PRICED_MODEL = "gpt-realtime"


def prices_for(model: str) -> Prices:
    """Exact name, then the longest table key the name starts with (dated snapshots), then the default."""
    if model in PRICES:
        return PRICES[model]
    matches = [key for key in PRICES if model.startswith(key)]
    return PRICES[max(matches, key=len)] if matches else PRICES[DEFAULT_PRICED_MODEL]


@dataclass(frozen=True)
class UsageTotals:
    responses: int = 0
    usage: Usage = field(default_factory=Usage)

    def add(self, usage: Usage) -> UsageTotals:
        u = self.usage
        return UsageTotals(
            self.responses + 1,
            Usage(
                input_text=u.input_text + usage.input_text,
                input_audio=u.input_audio + usage.input_audio,
                cached_text=u.cached_text + usage.cached_text,
                cached_audio=u.cached_audio + usage.cached_audio,
                output_text=u.output_text + usage.output_text,
                output_audio=u.output_audio + usage.output_audio,
            ),
        )

    def cost_usd(self, model: str) -> float:
        return cost_usd(self.usage, prices_for(model))


def cost_usd(usage: Usage, prices: Prices) -> float:
    """Cached tokens are part of the input counts, so they are taken out before pricing the rest."""
    uncached_text = max(usage.input_text - usage.cached_text, 0)
    uncached_audio = max(usage.input_audio - usage.cached_audio, 0)
    total = (
        uncached_text * prices.text_in
        + usage.cached_text * prices.cached_text_in
        + uncached_audio * prices.audio_in
        + usage.cached_audio * prices.cached_audio_in
        + usage.output_text * prices.text_out
        + usage.output_audio * prices.audio_out
    )
    return total / 1_000_000

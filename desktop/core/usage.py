"""Token totals and their cost, from `response.done` usage.

Audio tokens cost many times text tokens and every turn re-reads the growing context, so the app shows a
running cost. Prices live in ONE table: desktop.core.models. A backend whose price is unknown shows tokens,
never made-up dollars; the offline engine shows that it is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop.core.events import Usage
from desktop.core.models import FREE, TokenPrices, list_prices

Prices = TokenPrices  # the name this module used before the catalogue


def prices_for(model: str) -> TokenPrices | None:
    """OpenAI's list prices for a model (or a dated snapshot of it); None when not known."""
    return list_prices(model)


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

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input_text + u.input_audio + u.output_text + u.output_audio

    def cost_usd(self, prices: TokenPrices | None) -> float | None:
        return None if prices is None else cost_usd(self.usage, prices)


def cost_usd(usage: Usage, prices: TokenPrices) -> float:
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


def meter_text(totals: UsageTotals, prices: TokenPrices | None) -> tuple[str, str]:
    """What the cost meter shows, and its tooltip: dollars at list price, 'Free', or tokens when unpriced."""
    u = totals.usage
    tokens = (f"Tokens in: {u.input_audio} audio, {u.input_text} text ({u.cached_audio + u.cached_text} cached); "
              f"out: {u.output_audio} audio, {u.output_text} text.")
    replies = f"{totals.responses} repl{'y' if totals.responses == 1 else 'ies'}"
    if prices == FREE:
        return "Free", f"The offline engine runs on this computer and costs nothing. {replies}. {tokens}"
    if prices is None:
        return (f"{totals.tokens:,} tokens",
                f"This server's price is not known, so Parley counts tokens instead of dollars. {replies}. {tokens}")
    return f"${cost_usd(u, prices):.3f}", f"Session cost at list prices over {replies}. {tokens}"

"""The model catalogue: every offered model, its protocol and list price, and what each backend really charges."""

from __future__ import annotations

import pytest

from desktop.core import events as ev
from desktop.core.models import (
    CATALOGUE,
    FREE,
    DurationPrices,
    Protocol,
    TokenPrices,
    duration_cost,
    find,
    list_prices,
    pricing,
)
from desktop.core.usage import UsageTotals, cost_usd, meter_text

OFFERED = ["gpt-realtime", "gpt-realtime-1.5", "gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini",
           "gpt-realtime-mini", "gpt-live-1", "gpt-live-1.1"]

# Two offline turns' worth of usage, as the offline engine reports it (it used to cost $0.011 at OpenAI's prices).
TWO_TURNS = ev.Usage(input_text=300, input_audio=120, cached_text=150, output_text=40, output_audio=140)


def test_catalogue_offers_exactly_the_listed_models_with_their_protocol() -> None:
    assert [model.id for model in CATALOGUE] == OFFERED
    for model in CATALOGUE:
        expected = Protocol.LIVE if model.id.startswith("gpt-live") else Protocol.REALTIME
        assert model.protocol is expected
        if model.prices is not None:
            assert isinstance(model.prices, DurationPrices if expected is Protocol.LIVE else TokenPrices)


def test_mini_models_are_not_priced_as_the_flagship() -> None:
    flagship, mini = list_prices("gpt-realtime"), list_prices("gpt-realtime-2.1-mini")
    assert flagship is not None and mini is not None
    assert mini.audio_out == 20.0 and flagship.audio_out == 64.0
    usage = ev.Usage(input_audio=1000, output_audio=1000)
    assert cost_usd(usage, flagship) / cost_usd(usage, mini) == pytest.approx(96 / 30)
    assert list_prices("gpt-realtime-mini") is None  # its price was not found: unknown, not the flagship's


@pytest.mark.parametrize(
    ("name", "found"),
    [("gpt-realtime-2025-08-28", "gpt-realtime"), ("gpt-realtime-2.1-mini", "gpt-realtime-2.1-mini"),
     (" gpt-realtime-2 ", "gpt-realtime-2"), ("gpt-realtime-2.1-turbo", None), ("my-azure-deployment", None),
     ("gpt-realtime-mini-2025-12-15", "gpt-realtime-mini")],
)
def test_lookup_takes_exact_ids_and_dated_snapshots_only(name: str, found: str | None) -> None:
    model = find(name)
    assert (model.id if model else None) == found


def test_reasoning_models_cost_more_for_text_out() -> None:
    two, one_five = list_prices("gpt-realtime-2"), list_prices("gpt-realtime-1.5")
    assert two is not None and one_five is not None
    assert (two.text_out, one_five.text_out) == (24.0, 16.0)


def test_offline_engine_is_free_and_says_so() -> None:
    totals = UsageTotals().add(TWO_TURNS).add(TWO_TURNS)
    prices = pricing("offline")("gpt-realtime")
    assert prices == FREE
    assert totals.cost_usd(prices) == 0.0
    label, detail = meter_text(totals, prices)
    assert label == "Free" and "offline engine" in detail and "2 replies" in detail
    paid = pricing("openai")("gpt-realtime")
    assert paid is not None and totals.cost_usd(paid) > 0  # the same usage at OpenAI's prices does cost


def test_unknown_price_shows_tokens_not_dollars() -> None:
    totals = UsageTotals().add(TWO_TURNS)
    prices = pricing("custom")("some-local-model")
    assert prices is None and totals.cost_usd(prices) is None
    label, detail = meter_text(totals, prices)
    assert label == "600 tokens" and "$" not in label and "not known" in detail


def test_known_model_on_a_custom_server_is_priced_by_model() -> None:
    totals = UsageTotals().add(ev.Usage(output_audio=1_000_000))
    label, _ = meter_text(totals, pricing("custom")("gpt-realtime-2.1-mini"))
    assert label == "$20.000"


def test_live_models_are_billed_by_the_second() -> None:
    live = find("gpt-live-1.1")
    assert live is not None and isinstance(live.prices, DurationPrices)
    assert duration_cost(90, live.prices) == pytest.approx(0.075)  # 90 s is not rounded up to 2 minutes
    assert list_prices("gpt-live-1") is None  # not token-priced
    assert "per minute" in live.price_text()
    assert all(model.price_text() for model in CATALOGUE)

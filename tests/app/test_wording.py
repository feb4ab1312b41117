"""The words the app shows for link states, errors and cost."""

from __future__ import annotations

from desktop.app.wording import LINK_STATES, error_advice, usage_text
from desktop.core import errors as e
from desktop.core.events import Usage
from desktop.core.usage import UsageTotals


def test_each_error_kind_gets_its_own_advice_and_the_rest_a_safe_default() -> None:
    advice = {
        "auth": error_advice(e.AuthError(401, "bad key")),
        "missing": error_advice(e.NotFoundError(404, "no such model")),
        "insecure": error_advice(e.InsecureUrlError("ws:// to a remote host")),
        "limited": error_advice(e.RateLimitedError(429, "slow down")),
        "offline": error_advice(e.ConnectFailedError("refused")),
        "closed": error_advice(e.ConnectionClosedError(1006, "")),
        "other": error_advice(e.SessionUpdateError("rejected")),
    }
    assert "API key" in advice["auth"] and "model" in advice["missing"] and "wss://" in advice["insecure"]
    assert "reconnects" in advice["closed"] and "log" in advice["other"]
    assert len(set(advice.values())) == len(advice)


def test_the_cost_tooltip_counts_tokens_over_the_replies() -> None:
    totals = UsageTotals().add(Usage(input_text=10, input_audio=200, cached_audio=50, output_text=7,
                                     output_audio=300)).add(Usage(input_text=5, cached_text=5))
    text = usage_text(totals)
    assert "over 2 replies" in text
    assert "200 audio, 15 text (55 cached)" in text and "out: 300 audio, 7 text" in text


def test_link_states_are_the_ones_the_session_reports() -> None:
    from desktop.core.state import TurnState

    assert set(LINK_STATES) <= {state.value for state in TurnState}

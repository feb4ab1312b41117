"""What the app tells the user in words about the link, errors and cost: kept out of the controller so it reads
as wiring, and in one place so the same thing is always said the same way."""

from __future__ import annotations

from desktop.core import errors as e
from desktop.core.usage import UsageTotals

# Turn states that are really about the link, with what the status line says for each.
LINK_STATES = {"connecting": "Connecting…", "reconnecting": "Connection lost: reconnecting…", "error": "Disconnected"}

ERROR_ADVICE: dict[type[e.RealtimeError], str] = {
    e.AuthError: "Check the API key in Settings → Connection.",
    e.NotFoundError: "Check the endpoint URL and model in Settings → Connection.",
    e.InsecureUrlError: "Use a wss:// URL (plain ws:// only to this computer).",
    e.BadRequestError: "Check the model and endpoint in Settings → Connection.",
    e.RateLimitedError: "Wait a moment and try again, or check your plan's limits.",
    e.ConnectFailedError: "Check the network connection; Parley retries on its own.",
    e.ConnectionClosedError: "Parley reconnects on its own; if it keeps failing, check the network.",
}


def error_advice(err: e.RealtimeError) -> str:
    """What to do about a connection or server error (the message itself is str(err))."""
    return next((text for kind, text in ERROR_ADVICE.items() if isinstance(err, kind)),
                "Parley keeps running; see the log for details.")


def usage_text(totals: UsageTotals) -> str:
    """The cost label's tooltip: what the session's cost was computed from."""
    u = totals.usage
    return (f"Session cost at list prices over {totals.responses} replies. Tokens in: {u.input_audio} audio, "
            f"{u.input_text} text ({u.cached_audio + u.cached_text} cached); out: {u.output_audio} audio, "
            f"{u.output_text} text.")

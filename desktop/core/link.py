"""How the link behaves when it breaks: the retry policy, what the window shows about it, and a cheap probe that
notices a server coming back.

Retrying only helps for some failures (errors.RealtimeError.retryable). For those, attempts are spaced by an
exponential backoff with jitter, capped (30 s by default) and without a limit on their number; a rate limit
(HTTP 429) waits longer, at least what the server's Retry-After asks. While waiting after a failure to reach the
server at all (refused, no route, DNS), a TCP probe runs every second: when the server becomes reachable again
the next attempt starts at once instead of at the end of a long backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from enum import StrEnum

from desktop.core.errors import ConnectFailedError, RateLimitedError, RealtimeError


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 30.0
    jitter: float = 0.5  # up to this share of each delay is taken off at random, so clients do not retry in step
    rate_limited_s: float = 20.0  # a 429 waits at least this long (or the server's Retry-After, if longer)
    probe_every_s: float = 1.0  # while the server is unreachable: how often to check whether it is back

    def delay(self, attempt: int, error: RealtimeError | None, rng: random.Random) -> float:
        """Seconds before attempt number `attempt` (1 = the first retry after a drop)."""
        base = min(self.cap_s, self.first_s * self.factor ** max(attempt - 1, 0))
        delay = base * (1.0 - self.jitter * rng.random())
        if isinstance(error, RateLimitedError):
            delay = max(delay, self.rate_limited_s, error.retry_after_s or 0.0)
        return delay


class LinkPhase(StrEnum):
    CONNECTED = "connected"
    WAITING = "waiting"  # lost; the next attempt is scheduled (countdown in the window)
    CONNECTING = "connecting"  # an attempt is under way
    STOPPED = "stopped"  # retrying cannot help (bad key, wrong URL or model): the user must act


@dataclass(frozen=True)
class LinkStatus:
    phase: LinkPhase
    attempt: int = 0  # attempts made since the link was lost
    retry_at: float | None = None  # time.monotonic() of the next attempt, while WAITING
    reason: str = ""  # why the link is down, for the window

    @property
    def can_retry_now(self) -> bool:
        return self.phase in (LinkPhase.WAITING, LinkPhase.STOPPED)


def describe(error: RealtimeError | None) -> str:
    """One sentence for the window about why the link is down."""
    if error is None:
        return "Connection lost."
    text = str(error)
    text = text[:1].upper() + text[1:]
    if not text.endswith((".", "!", "?")):
        text += "."
    if isinstance(error, RateLimitedError):
        text += " Waiting longer before the next try."
    return text


def probes_help(error: RealtimeError | None) -> bool:
    """Only a server that could not be reached at all can be noticed coming back by a TCP probe."""
    return isinstance(error, ConnectFailedError) and error.unreachable


async def reachable(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """A TCP connection to host:port opens (and is closed at once). Costs no TLS, no handshake, no session."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True

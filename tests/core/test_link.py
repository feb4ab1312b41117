"""The retry policy and the reachability probe."""

from __future__ import annotations

import asyncio
import random
import socket

from desktop.core.errors import ConnectFailedError, ConnectionClosedError, RateLimitedError
from desktop.core.link import Backoff, LinkPhase, LinkStatus, describe, probes_help, reachable


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy, rng = Backoff(), random.Random(1)
    delays = [[policy.delay(attempt, None, rng) for attempt in range(1, 12)] for _ in range(50)]
    for run in delays:
        for attempt, delay in enumerate(run, start=1):
            base = min(30.0, 2.0 ** (attempt - 1))
            assert base * 0.5 <= delay <= base
    assert max(max(run) for run in delays) <= 30.0
    assert len({round(run[3], 6) for run in delays}) > 10  # jittered: clients do not retry in step


def test_rate_limit_waits_longer_and_honours_retry_after() -> None:
    policy, rng = Backoff(), random.Random(2)
    assert policy.delay(1, RateLimitedError(429, "busy"), rng) >= 20.0
    assert policy.delay(1, RateLimitedError(429, "busy", retry_after_s=45.0), rng) >= 45.0


def test_only_an_unreachable_server_is_probed() -> None:
    assert probes_help(ConnectFailedError("refused", unreachable=True))
    assert not probes_help(ConnectFailedError("TLS failed"))
    assert not probes_help(ConnectionClosedError(1011, "x"))
    assert describe(ConnectionClosedError(1011, "oops")) == "Connection closed by server (code 1011): oops."
    assert LinkStatus(LinkPhase.WAITING).can_retry_now and not LinkStatus(LinkPhase.CONNECTED).can_retry_now


def test_probe_sees_a_listening_port_and_not_a_closed_one() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        assert asyncio.run(reachable("127.0.0.1", port))
    finally:
        listener.close()
    assert not asyncio.run(reachable("127.0.0.1", port))

"""Soak: 200 typed turns against a server that injects a random fault into about a third of them.

No crash, no stuck link, every answer that finished before a fault is in the conversation exactly once, and the
client's memory stays flat (RSS growth printed and bounded). Bounded in time: about a minute here.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from pathlib import Path

import pytest

from desktop.core.link import LinkPhase
from tests.core.helpers import LinkClient, until
from tests.support.realtime_server import RealtimeTestServer, spoken_tone

pytestmark = pytest.mark.slow

TURNS = 200
FAULTS = ("abort", "close-1011", "close-1001", "close-4000", "junk", "unknown", "error")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def inject(server: RealtimeTestServer, fault: str) -> None:
    if fault == "abort":
        await asyncio.wrap_future(server.abort_connections())
    elif fault.startswith("close-"):
        await asyncio.wrap_future(server.close_connections(int(fault.split("-")[1]), "soak"))
    elif fault == "junk":
        await asyncio.wrap_future(server.send("{not json"))
    elif fault == "unknown":
        await asyncio.wrap_future(server.send(json.dumps({"type": "soak.unknown", "n": 1})))
    elif fault == "error":
        error = {"type": "server_error", "code": "soak", "message": "injected", "param": None, "event_id": None}
        await asyncio.wrap_future(server.send({"type": "error", "error": error}))


def test_two_hundred_turns_with_random_faults() -> None:
    server = RealtimeTestServer().start()
    server.default_script.audio = spoken_tone(0.3)
    server.default_script.speed = 0  # as fast as the socket goes
    rng = random.Random(14)
    outcomes: dict[str, int] = {}

    async def run() -> None:
        client = await LinkClient(server.url).start()
        client.effects = deque(maxlen=200)  # type: ignore[assignment]  # the test must not be what grows
        client.driver._on_effect = client.effects.append
        baseline = 0.0
        try:
            for turn in range(TURNS):
                if turn == 20:
                    baseline = rss_mb()  # after imports, caches and the first reconnects have settled
                done_before = sum(1 for e in server.sent if e["type"] == "response.done")
                handshakes = len(server.handshakes)
                fault = rng.choice(FAULTS) if rng.random() < 0.35 else "none"
                client.driver.send_text(f"Turn {turn}.")
                if fault != "none" and rng.random() < 0.5:
                    await asyncio.sleep(rng.uniform(0, 0.02))  # sometimes mid-reply rather than before it
                await inject(server, fault)
                dropped = fault in ("abort", "close-1011", "close-1001", "close-4000")

                def settled(done_before: int = done_before, handshakes: int = handshakes,
                            dropped: bool = dropped) -> bool:
                    done = sum(1 for e in server.sent if e["type"] == "response.done") > done_before
                    recovered = (len(server.handshakes) > handshakes and not dropped) or (
                        dropped and len(server.handshakes) > handshakes)
                    return (done or recovered) and client.idle() and (
                        client.driver.link_status.phase is LinkPhase.CONNECTED)

                await until(settled, limit_s=20, what=f"turn {turn} settled after {fault}")
                key = fault if fault != "none" else "clean"
                outcomes[key] = outcomes.get(key, 0) + 1
            end = rss_mb()
            entries = client.driver.session.conversation.entries()
            ids = [entry.item_id for entry in entries]
            assert len(ids) == len(set(ids))
            completed = {e["response"]["output"][0]["id"] for e in server.sent
                         if e["type"] == "response.done" and e["response"]["status"] == "completed"
                         and e["response"]["output"]}
            # every finished answer whose response.done reached us is in the conversation (exactly once)
            seen = {entry.item_id for entry in entries if entry.role == "assistant"}
            missing = completed - seen
            print(f"\nsoak: {TURNS} turns, outcomes {dict(sorted(outcomes.items()))}, "
                  f"{len(server.handshakes)} connections, {len(entries)} conversation entries, "
                  f"RSS {baseline:.1f} MB at turn 20 -> {end:.1f} MB at the end ({end - baseline:+.1f} MB, "
                  f"{(end - baseline) * 1024 / (TURNS - 20):.0f} KiB a turn, the in-process test server's log of "
                  f"every event it sent and received included)")
            assert len(missing) <= outcomes.get("abort", 0) + sum(
                outcomes.get(f"close-{c}", 0) for c in (1011, 1001, 4000))  # only answers cut by a drop
            assert end - baseline < 40.0
            assert server.violations == []
        finally:
            await client.close()

    started = time.monotonic()
    try:
        asyncio.run(run())
    finally:
        server.stop()
    print(f"soak took {time.monotonic() - started:.0f} s")

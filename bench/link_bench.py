"""The link's recovery times on the loopback Realtime server, with the shipped settings.

Rows: a stalled socket found by Parley's watchdog (and, for comparison, by websockets' own keepalive at its
defaults, which Parley used before); a dropped socket back and configured; the server away for a while, then
reconnected after its return; Retry now.

Usage: .venv/bin/python bench/link_bench.py [--runs N] [--skip-websockets-default]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect

from desktop.core.link import Backoff, LinkPhase
from tests.core.helpers import LinkClient, until
from tests.support.realtime_server import TEST_KEY, RealtimeTestServer


async def stall_detected_s(server: RealtimeTestServer) -> float:
    client = await LinkClient(server.url, backoff=Backoff()).start()
    try:
        await asyncio.wrap_future(server.stall_connections())
        server.stalled = False
        start = time.monotonic()
        await until(lambda: client.driver.link_status.phase is not LinkPhase.CONNECTED, limit_s=30)
        return time.monotonic() - start
    finally:
        await client.close()


async def websockets_default_stall_s(server: RealtimeTestServer) -> float:
    """websockets' keepalive with its defaults (ping every 20 s, 20 s for the pong, 10 s to close)."""
    async with connect(server.url, additional_headers={"Authorization": f"Bearer {TEST_KEY}"}) as ws:
        await ws.recv()  # session.created
        await asyncio.wrap_future(server.stall_connections())
        server.stalled = False
        start = time.monotonic()
        await ws.wait_closed()
        return time.monotonic() - start


async def drop_to_configured_s(server: RealtimeTestServer) -> float:
    client = await LinkClient(server.url, backoff=Backoff()).start()
    try:
        updates = server.received_types().count("session.update")
        await asyncio.wrap_future(server.abort_connections())
        start = time.monotonic()
        await until(lambda: server.received_types().count("session.update") > updates and client.idle())
        return time.monotonic() - start
    finally:
        await client.close()


async def away_then_back_s(gap_s: float) -> float:
    server = RealtimeTestServer().start()
    client = await LinkClient(server.url, backoff=Backoff()).start()
    port = server.port
    server.stop()
    back: RealtimeTestServer | None = None
    try:
        await asyncio.sleep(gap_s)
        back = RealtimeTestServer(port=port).start()
        start = time.monotonic()
        await until(lambda: client.driver.link_status.phase is LinkPhase.CONNECTED and client.idle(), limit_s=40)
        return time.monotonic() - start
    finally:
        await client.close()
        if back is not None:
            back.stop()


async def retry_now_s(server: RealtimeTestServer) -> float:
    client = await LinkClient(server.url, backoff=Backoff(first_s=60, cap_s=60)).start()
    try:
        await asyncio.wrap_future(server.close_connections(1011, "bench"))
        await until(lambda: client.driver.link_status.phase is LinkPhase.WAITING)
        start = time.monotonic()
        client.driver.retry_now()
        await until(client.idle)
        return time.monotonic() - start
    finally:
        await client.close()


def row(name: str, values: list[float], goal: str) -> str:
    spread = f"min {min(values):.2f}, max {max(values):.2f} s" if len(values) > 1 else ""
    return f"| {name} (median of {len(values)}) | {statistics.median(values):.2f} s | {spread} | {goal} |"


async def main(runs: int, skip_default: bool) -> None:
    server = RealtimeTestServer().start()
    try:
        print("| figure | value | spread | goal |")
        print("|---|---|---|---|")
        stalls = [await stall_detected_s(server) for _ in range(runs)]
        print(row("stalled socket -> dropped (watchdog: 2 s quiet, 3 s for the pong)", stalls, "<= 5 s"), flush=True)
        if not skip_default:
            print(row("stalled socket -> closed by websockets' keepalive at its defaults",
                      [await websockets_default_stall_s(server)], "(comparison)"), flush=True)
        drops = [await drop_to_configured_s(server) for _ in range(runs)]
        print(row("dropped socket -> reconnected and configured", drops, "<= 2 s"), flush=True)
        retries = [await retry_now_s(server) for _ in range(runs)]
        print(row("Retry now -> reconnected", retries, "<= 1 s"), flush=True)
    finally:
        server.stop()
    gaps = [await away_then_back_s(20.0) for _ in range(max(1, runs // 2))]
    print(row("server away 20 s -> reconnected after its return (backoff then 8-16 s apart)", gaps, "<= 2 s"),
          flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-websockets-default", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.skip_websockets_default))

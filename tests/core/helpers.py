"""A driver client for link tests: records effects and link states, plays everything at once (so answers end and
the session gets back between turns), and waits on conditions, never on fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from desktop.core import ConnectionConfig, RealtimeDriver, SessionConfig, TurnState
from desktop.core.effects import Effect, LinkChanged, Notice
from desktop.core.link import Backoff, LinkPhase
from tests.support.realtime_server import TEST_KEY, RealtimeTestServer

FAST = Backoff(first_s=0.05, cap_s=0.4, rate_limited_s=0.5, probe_every_s=0.1)


async def until(predicate: Callable[[], bool], limit_s: float = 10.0, what: str = "condition") -> float:
    """Waits for the predicate; returns how long it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > limit_s:
            raise TimeoutError(f"{what} not met within {limit_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class LinkClient:
    def __init__(self, url: str, *, connection: dict[str, Any] | None = None, **driver: Any) -> None:
        self.effects: list[Effect] = []
        driver.setdefault("backoff", FAST)
        self.driver = RealtimeDriver(
            ConnectionConfig(api_key=TEST_KEY, url=url, **(connection or {})),
            SessionConfig(),
            on_effect=self.effects.append,
            played_samples=lambda _item: 1 << 62,  # no speaker: every answer counts as heard at once
            **driver,
        )

    def of(self, kind: type) -> list[Any]:
        return [effect for effect in self.effects if isinstance(effect, kind)]

    @property
    def phases(self) -> list[LinkPhase]:
        return [effect.status.phase for effect in self.of(LinkChanged)]

    @property
    def notices(self) -> list[str]:
        return [effect.text for effect in self.of(Notice)]

    @property
    def texts(self) -> list[str]:
        return [entry.text for entry in self.driver.session.conversation.entries()]

    def idle(self) -> bool:
        return self.driver.session.state is TurnState.IDLE and self.driver.session.between_turns()

    async def start(self) -> LinkClient:
        await self.driver.connect()
        await until(self.idle, what="session ready")
        return self

    async def turn(self, server: RealtimeTestServer, text: str, *, replies: int) -> None:
        """A typed turn, waited for until the answer is done and the session is back between turns."""
        self.driver.send_text(text)
        await server.async_wait_sent("response.done", timeout=10, count=replies)
        await until(self.idle, what="back between turns")

    async def close(self) -> None:
        await self.driver.close()


def replayed(server: RealtimeTestServer) -> list[str]:
    """Texts of the conversation.item.create events the server received (typed turns and replays)."""
    return [
        part.get("text", "")
        for event in server.received
        if event["type"] == "conversation.item.create" and event["item"]["type"] == "message"
        for part in event["item"]["content"]
    ]

"""Small shared helpers for the audio tests: waiting on a condition inside a running loop, joining chunks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from desktop.audio.capture import AudioChunk
from desktop.audio.playback import Playback

DELTA = 1200  # 50 ms deltas, like the server's


async def until(condition: Callable[[], bool], within: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within} s")
        await asyncio.sleep(0.01)


async def pause(seconds: float) -> None:
    """Lets audio flow for a while (the loop keeps running; nothing is blocked)."""
    start = time.monotonic()
    await until(lambda: time.monotonic() - start >= seconds, within=seconds + 5)


def joined(chunks: list[AudioChunk]) -> np.ndarray:
    return np.concatenate([c.pcm for c in chunks]) if chunks else np.zeros(0, dtype=np.int16)


def runs(
    samples: np.ndarray, rate: int = 24000, threshold: float = 1000.0, block: int = 120
) -> list[tuple[int, int]]:
    """(start, length) in samples of each loud stretch, at `block` resolution: where tones are in a
    recording."""
    n = len(samples) // block
    if n == 0:
        return []
    blocks = samples[: n * block].astype(np.float64).reshape(n, block)
    loud = np.sqrt(np.mean(blocks * blocks, axis=1)) > threshold
    found: list[tuple[int, int]] = []
    start: int | None = None
    for i, flag in enumerate([*loud.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            found.append((start * block, (i - start) * block))
            start = None
    return found


def feed_all(playback: Playback, item_id: str, pcm: np.ndarray) -> None:
    """Feeds a whole item in server-sized deltas."""
    for start in range(0, len(pcm), DELTA):
        playback.feed(item_id, pcm[start : start + DELTA].tobytes())

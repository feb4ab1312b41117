"""Audio engine figures on a private PulseAudio with virtual devices (started like the tests' fixture).

Rows: stop() -> first faded callback (and the speaker's silence, from the reported output latency), mic
callback -> chunk handed to the consumer, played-clock error against a recording of the speaker monitor, and
CPU while capturing and playing at once. Prints figures; goals are shown for reference, not asserted.

    .venv/bin/python bench/audio_bench.py [--trials 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop.audio.capture import Capture, CaptureConfig
from desktop.audio.playback import Playback, PlaybackConfig
from tests.support.pulse import WARM_UP_S, PulseServer, start_pulse
from tests.support.sounds import tone

DELTA = 1200


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def loud_runs(samples: np.ndarray, threshold: float = 1000.0, block: int = 48) -> list[int]:
    """Lengths (samples, 2 ms resolution) of loud stretches in a monitor recording."""
    n = len(samples) // block
    blocks = samples[: n * block].astype(np.float64).reshape(n, block)
    loud = [*(np.sqrt(np.mean(blocks * blocks, axis=1)) > threshold).tolist(), False]
    lengths, start = [], None
    for i, flag in enumerate(loud):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            lengths.append((i - start) * block)
            start = None
    return lengths


async def wait_for(condition, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.005)


async def stop_trials(server: PulseServer, trials: int) -> dict[str, list[float]]:
    playback = Playback(PlaybackConfig())
    await playback.open()
    recording = server.record_speaker()
    heard: list[int] = []
    try:
        await asyncio.sleep(0.5)
        for trial in range(trials):
            item = f"t{trial}"
            pcm = tone(440 + 20 * trial, 2.0)
            for start in range(0, len(pcm), DELTA):
                playback.feed(item, pcm[start : start + DELTA].tobytes())
            target = 4800 + 240 * (trial % 7)  # stop at varying points inside a block
            await wait_for(lambda item=item, target=target: playback.played_samples(item) >= target)
            heard.append(playback.stop().played_samples)
            await wait_for(lambda item=item: playback.is_drained(item))
            await asyncio.sleep(0.35)  # a gap so each tone is its own run in the recording
        samples = recording.stop()
    finally:
        recording.stop()
        await playback.close()
    lengths = loud_runs(samples)
    errors = (
        [abs(a - b) / 24.0 for a, b in zip(lengths, heard, strict=False)]
        if len(lengths) == len(heard)
        else []
    )
    return {
        "stop_ms": list(playback.stats.stop_latencies_ms),
        "latency_ms": [playback.reported_latency * 1000],
        "clock_err_ms": errors,
        "runs": [float(len(lengths)), float(len(heard))],
    }


async def duplex(server: PulseServer, seconds: float) -> dict[str, list[float]]:
    capture = Capture(CaptureConfig())
    playback = Playback(PlaybackConfig())
    await capture.open()
    await playback.open()
    tap = capture.open_tap(preroll=False)
    player = server.play_into_mic(tone(300, seconds + 2))
    pcm = tone(500, seconds + 1)
    try:
        # A new input stream through the ALSA->Pulse plugin busy-waits (up to ~2 s) for its first block: a cost
        # of opening, once per run of the app, not of streaming. Measure from a second after the first block.
        first_block = asyncio.Event()
        unlisten = capture.add_chunk_listener(lambda _chunk: first_block.set())
        await asyncio.wait_for(first_block.wait(), 10)
        unlisten()
        await asyncio.sleep(1.0)
        capture.stats.latencies_ms.clear()
        cpu0, wall0 = time.process_time(), time.monotonic()
        fed = 0
        while time.monotonic() - wall0 < seconds:
            due = int((time.monotonic() - wall0 + 0.2) * 24000)  # keep ~200 ms queued, as a live reply would
            while fed < min(due, len(pcm)):
                playback.feed("duplex", pcm[fed : fed + DELTA].tobytes())
                fed += DELTA
            tap.take_all()
            await asyncio.sleep(0.02)
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
    finally:
        player.stop()
        await capture.close()
        await playback.close()
    return {
        "capture_ms": list(capture.stats.latencies_ms),
        "cpu": [cpu],
        "underruns": [playback.stats.underruns],
    }


async def main(trials: int, seconds: float) -> None:
    server = start_pulse()
    await asyncio.sleep(WARM_UP_S)  # a just-started audio server costs its clients more (tests/support/pulse.py)
    try:
        stop = await stop_trials(server, trials)
        both = await duplex(server, seconds)
    finally:
        server.stop()
    latency = stop["latency_ms"][0]
    rows = [
        (
            "stop() -> first faded callback",
            f"{pct(stop['stop_ms'], 50):.1f}",
            f"{pct(stop['stop_ms'], 95):.1f}",
            "<= 20 p95",
        ),
        (
            "  + reported output latency (speaker silent)",
            f"{pct(stop['stop_ms'], 50) + latency:.1f}",
            f"{pct(stop['stop_ms'], 95) + latency:.1f}",
            "(info)",
        ),
        (
            "mic callback -> chunk available",
            f"{pct(both['capture_ms'], 50):.2f}",
            f"{pct(both['capture_ms'], 95):.2f}",
            "<= 30 p95",
        ),
        (
            "played clock vs monitor recording |err|",
            f"{pct(stop['clock_err_ms'], 50):.1f}",
            f"{pct(stop['clock_err_ms'], 95):.1f}",
            "<= 20",
        ),
        ("CPU % of one core, capture + playback", f"{both['cpu'][0]:.1f}", "", "<= 5"),
    ]
    print(f"audio bench: {trials} stop trials, {seconds:.0f} s duplex, pid {os.getpid()}")
    print(f"{'figure':46} {'p50 ms':>9} {'p95 ms':>9}  goal")
    for name, p50, p95, goal in rows:
        print(f"{name:46} {p50:>9} {p95:>9}  {goal}")
    print(
        f"(monitor runs found {stop['runs'][0]:.0f} for {stop['runs'][1]:.0f} trials; playback underruns "
        f"during duplex {both['underruns'][0]:.0f}; reported output latency {latency:.0f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(main(args.trials, args.seconds))

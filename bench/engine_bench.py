"""Offline engine figures, measured over its WebSocket as the app sees them (the engine is a subprocess).

Rows: end of the user's speech -> first reply audio for push-to-talk (commit sent -> first
response.output_audio.delta) and for server VAD (last speech sample sent, audio streamed in real time ->
first delta, so the silence wait is included); model load time; engine RSS after load; idle CPU over 5 s.
Speech comes from espeak-ng. Prints figures; goals are shown for reference, not asserted.

    .venv/bin/python bench/engine_bench.py [--turns 6] [--standard-asr]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop.engine import READY_PREFIX
from desktop.engine.launcher import engine_command
from tests.engine.helpers import CHUNK_BYTES, PUSH_TO_TALK, EngineClient, silence, speech

PHRASES = ["what time is it", "what is twelve times seven", "set a timer for five minutes", "what can you do",
           "what is six plus three", "hello there", "what's the date today", "thank you"]
SILENCE_MS = 500


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def voiced_seconds(pcm: bytes, rms_floor: float = 300.0) -> float:
    """Where the speech in `pcm` really ends: espeak-ng's WAV carries trailing silence of its own."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = samples[: len(samples) // 240 * 240].reshape(-1, 240)  # 10 ms
    loud = np.flatnonzero(np.sqrt(np.mean(frames * frames, axis=1)) > rms_floor)
    return (int(loud[-1]) + 1) * 0.01 if loud.size else 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def first_delta_after(client: EngineClient, start: int) -> float:
    """Arrival time of the first output_audio.delta among events from index `start` on."""
    while True:
        for index in range(start, len(client.events)):
            if client.events[index]["type"] == "response.output_audio.delta":
                return client.arrivals[index]
        await client.next("response.output_audio.delta")


async def push_to_talk_turns(url: str, turns: int) -> list[float]:
    client = await EngineClient.open(url)
    await client.configure(**PUSH_TO_TALK)
    latencies = []
    for turn in range(turns):
        await client.send({"type": "input_audio_buffer.clear"})
        await client.next("input_audio_buffer.cleared")
        await client.append(speech(PHRASES[turn % len(PHRASES)]))  # streamed while the key was held
        mark = len(client.events)
        sent = time.monotonic()
        await client.send({"type": "input_audio_buffer.commit"})
        await client.send({"type": "response.create"})
        latencies.append((await first_delta_after(client, mark) - sent) * 1000)
        await client.send({"type": "response.cancel"})  # no need to hear it all
        await client.next("response.done")
    await client.close()
    return latencies


async def server_vad_turns(url: str, turns: int) -> list[float]:
    client = await EngineClient.open(url)
    await client.configure(audio={"input": {"transcription": {"model": "whisper-1"}, "turn_detection": {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": SILENCE_MS,
        "create_response": True, "interrupt_response": True}}})
    latencies = []
    for turn in range(turns):
        words = speech(PHRASES[turn % len(PHRASES)])
        stream = silence(0.6) + words + silence(2.5)
        end_of_speech = 0.6 + voiced_seconds(words)  # seconds into the stream
        mark = len(client.events)
        started = time.monotonic()
        reply = asyncio.ensure_future(first_delta_after(client, mark))
        for index, offset in enumerate(range(0, len(stream), CHUNK_BYTES)):  # real time, like a microphone
            await asyncio.sleep(max(0.0, started + index * 0.1 - time.monotonic()))
            chunk = stream[offset : offset + CHUNK_BYTES]
            await client.send({"type": "input_audio_buffer.append",
                               "audio": base64.b64encode(chunk).decode("ascii")}, check=False)
            if reply.done():
                break
        arrived = await reply
        latencies.append((arrived - (started + end_of_speech)) * 1000)
        done = await client.next("response.done")
        if done["response"]["status"] == "in_progress":  # never, but keeps the next turn clean
            await client.send({"type": "response.cancel"})
    await client.close()
    return latencies


async def main(turns: int, standard_asr: bool) -> None:
    command = [*engine_command(sys.executable), "-v", *(["--standard-asr"] if standard_asr else [])]
    spawned = time.monotonic()
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    url = ""
    while line := (await process.stdout.readline()).decode():
        if line.startswith(READY_PREFIX):
            url = line.split()[1]
            break
    ready_s = time.monotonic() - spawned
    if not url:
        print("engine did not start:", (await process.stderr.read()).decode()[-2000:])
        return
    load_s = float("nan")
    try:
        while line := (await asyncio.wait_for(process.stderr.readline(), 5)).decode():
            if match := re.search(r"models loaded in ([\d.]+) s", line):
                load_s = float(match.group(1))
                break
    except TimeoutError:
        pass
    drain = asyncio.ensure_future(process.stderr.read())  # the engine logs every turn: keep its pipe empty
    try:
        rss = rss_mb(process.pid)
        before = cpu_seconds(process.pid)
        await asyncio.sleep(5)
        idle_cpu = (cpu_seconds(process.pid) - before) / 5 * 100
        ptt = await push_to_talk_turns(url, turns)
        vad = await server_vad_turns(url, turns)
        rss_after = rss_mb(process.pid)
    finally:
        process.terminate()
        await process.wait()
        drain.cancel()
    path = "standard 30 s" if standard_asr else "short-clip"
    rows = [
        ("push-to-talk: commit -> first reply audio", f"{pct(ptt, 50):.0f}", f"{pct(ptt, 95):.0f}", "<= 1000"),
        (f"server VAD: end of speech -> first audio (+{SILENCE_MS} ms wait)", f"{pct(vad, 50):.0f}",
         f"{pct(vad, 95):.0f}", "<= 1500"),
        ("model load (in the engine)", f"{load_s * 1000:.0f}", "", "<= 3000"),
        ("spawn -> READY line", f"{ready_s * 1000:.0f}", "", "<= 6000"),
    ]
    print(f"engine bench: {turns} turns per mode, {path} recognition, {os.cpu_count()} cores, "
          f"engine pid {process.pid}")
    print(f"{'figure':58} {'p50 ms':>9} {'p95 ms':>9}  goal")
    for name, p50, p95, goal in rows:
        print(f"{name:58} {p50:>9} {p95:>9}  {goal}")
    print(f"{'engine RSS after load / after the turns (MB)':58} {rss:>9.0f} {rss_after:>9.0f}  <= 400")
    print(f"{'engine idle CPU % of one core over 5 s':58} {idle_cpu:>9.1f} {'':>9}  <= 1")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--standard-asr", action="store_true", help="measure faster-whisper's standard path")
    args = parser.parse_args()
    asyncio.run(main(max(5, args.turns), args.standard_asr))

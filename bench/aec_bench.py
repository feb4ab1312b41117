"""Echo canceller figures on a private PulseAudio: the speaker looped back into the microphone (module-loopback
from the speaker monitor) at laptop-like gains and delays, the real audio engine playing synthesised speech
replies, and the canceller attached as the app attaches it.

Rows: ERLE after convergence (0 dB and -13 dB), time from the first reply's start to convergence, echo-only
replies that would interrupt (a 20 ms frame of the cleaned microphone loud enough for the server's voice
detection, or a local detection), CPU of the canceller per 10 ms frame, and, with --libraries, the comparison of
candidate libraries on one recorded echo. Goals are shown, not asserted.

    .venv/bin/python bench/aec_bench.py [--replies 50] [--libraries]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop.audio.capture import AudioChunk, CaptureConfig
from desktop.audio.echo_canceller import EchoCanceller, attach_canceller
from desktop.audio.echo_guard import EchoGuard
from desktop.audio.engine import AudioEngine
from desktop.audio.playback import PlaybackConfig
from tests.support.pulse import PulseServer, start_pulse
from tests.support.sounds import read_wav, speech_wav

SERVER_SPEECH_RMS = 500.0  # the loopback server's energy detector: a 20 ms frame above this is "speech"
REPLIES = ["Sure, the meeting is at three o'clock tomorrow.",
           "Here is a longer answer so that there is plenty of time to listen. The weather tomorrow will be mild "
           "with some sunshine in the afternoon, and a light breeze from the west.",
           "I found two restaurants nearby, both open until ten."]


def loop_speaker_into_mic(pulse: PulseServer, gain_db: float, delay_ms: int) -> int:
    module = pulse.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic",
                         f"latency_msec={delay_ms}", "source_dont_move=true", "sink_dont_move=true").strip()
    index = None
    for line in pulse.pactl("list", "sink-inputs").splitlines():
        line = line.strip()
        if line.startswith("Sink Input #"):
            index = line.split("#", 1)[1]
        elif line.startswith("Owner Module:") and line.split(":", 1)[1].strip() == module:
            pulse.pactl("set-sink-input-volume", str(index), f"{gain_db}dB")
    return int(module)


async def drained(engine: AudioEngine, item: str) -> None:
    done = asyncio.Event()
    unlisten = engine.playback.add_event_listener(
        lambda event: done.set() if event.kind == "drained" and event.item_id == item else None)
    try:
        if not engine.playback.is_drained(item):
            await asyncio.wait_for(done.wait(), 60)
    finally:
        unlisten()


@dataclass
class Session:
    raw: list[np.ndarray] = field(default_factory=list)
    cleaned: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic of each chunk
    active: list[bool] = field(default_factory=list)
    reply_spans: list[tuple[float, float]] = field(default_factory=list)
    cpu_s: float = 0.0
    frames: int = 0
    converged_at: float | None = None
    canceller: EchoCanceller | None = None


async def echo_session(gain_db: float, delay_ms: int, replies: int, pulse: PulseServer) -> Session:
    module = loop_speaker_into_mic(pulse, gain_db, delay_ms)
    engine = AudioEngine(CaptureConfig(), PlaybackConfig())
    await engine.open()
    guard = EchoGuard()
    detach = attach_canceller(engine, guard)
    canceller = guard.canceller
    assert canceller is not None
    session = Session(canceller=canceller)
    process = canceller.process

    def timed(chunk: AudioChunk) -> AudioChunk:
        start = time.thread_time()
        out = process(chunk)
        session.cpu_s += time.thread_time() - start
        session.raw.append(chunk.pcm)
        session.cleaned.append(out.pcm)
        session.times.append(chunk.monotonic)
        session.active.append(canceller.active)
        if canceller.active and session.converged_at is None:
            session.converged_at = time.monotonic()
        return out

    engine.capture.processor = timed
    voices = [read_wav(speech_wav(text))[0] for text in REPLIES]
    try:
        for _ in range(100):  # a user's microphone has been running a while: warm it up (2 s of chunks) first
            if len(session.times) >= 50:
                break
            await asyncio.sleep(0.1)
        for n in range(replies):
            pcm = voices[n % len(voices)]
            item = f"reply-{n}"
            started = time.monotonic()
            for at in range(0, len(pcm), 2400):  # streamed faster than real time, as the API does
                engine.playback.feed(item, pcm[at:at + 2400].astype("<i2").tobytes())
                await asyncio.sleep(0.03)
            engine.playback.finish(item)
            await drained(engine, item)
            await asyncio.sleep(0.3)  # the echo's tail
            session.reply_spans.append((started, time.monotonic()))
            await asyncio.sleep(0.4)
    finally:
        session.frames = canceller.frames
        detach()
        await engine.close()
        pulse.unload(module)
    return session


def frame_rms(pcm: np.ndarray, frame: int = 480) -> np.ndarray:
    n = len(pcm) // frame
    blocks = pcm[: n * frame].astype(np.float64).reshape(n, frame)
    return np.sqrt(np.mean(blocks * blocks, axis=1))


def analyse(session: Session) -> dict[str, float]:
    """Figures over the chunks the canceller handed on while active (before that, the level guard decides)."""
    times = np.array(session.times)
    active = np.array(session.active)
    raw_e, out_e, loud_replies, worst = 0.0, 0.0, 0, 0.0
    for start, end in session.reply_spans:
        picked = [i for i in range(len(times)) if start <= times[i] <= end and active[i]]
        if not picked:
            continue
        raw = np.concatenate([session.raw[i] for i in picked])
        out = np.concatenate([session.cleaned[i] for i in picked])
        raw_e += float(np.sum(raw.astype(np.float64) ** 2))
        out_e += float(np.sum(out.astype(np.float64) ** 2))
        peak = float(frame_rms(out).max(initial=0.0))
        loud_replies += peak > SERVER_SPEECH_RMS
        worst = max(worst, peak)
    first = session.reply_spans[0][0]
    return {
        "erle_db": 10 * np.log10((raw_e + 1) / (out_e + 1)),
        "converge_s": (session.converged_at - first) if session.converged_at else float("nan"),
        "loud_replies": loud_replies,
        "worst_frame_rms": worst,
        "cpu_ms_per_frame": 1000 * session.cpu_s / max(1, session.frames),
        "cpu_pct": 100 * session.cpu_s / max(1e-9, times[-1] - times[0]) if len(times) > 1 else float("nan"),
    }


async def run(replies: int) -> None:
    pulse = start_pulse()
    try:
        for gain, delay, count in ((0, 30, replies), (-13, 30, max(5, replies // 5)), (0, 120, max(5, replies // 5))):
            session = await echo_session(gain, delay, count, pulse)
            a = analyse(session)
            label = f"{gain} dB, {delay} ms"
            print(f"| AEC ERLE after convergence ({label}) | {a['erle_db']:.1f} dB | worst 20 ms frame "
                  f"{a['worst_frame_rms']:.0f} RMS | goal >= 25 dB |", flush=True)
            print(f"| AEC convergence from the first reply's start ({label}) | {a['converge_s']:.2f} s | lag "
                  f"{(session.canceller.lag or 0) / 24:.0f} ms | goal <= 1 s |", flush=True)
            print(f"| echo-only replies loud enough for a server VAD ({label}) | {a['loud_replies']} of {count} | "
                  f"frame > {SERVER_SPEECH_RMS:.0f} RMS | goal 0 |", flush=True)
            print(f"| canceller CPU ({label}) | {a['cpu_ms_per_frame']:.3f} ms per 10 ms frame | "
                  f"{a['cpu_pct']:.2f}% of a core | goal <= 3% |", flush=True)
    finally:
        pulse.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.replies))
    return 0


if __name__ == "__main__":
    sys.exit(main())

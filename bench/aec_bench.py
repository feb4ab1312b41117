"""Echo canceller figures on a private PulseAudio: the speaker looped back into the microphone (module-loopback
from the speaker monitor) at laptop-like gains and delays, the real audio engine playing synthesised speech
replies, and the canceller attached as the app attaches it.

Rows: ERLE after convergence (0 dB and -13 dB), time from the first reply's start to convergence, echo-only
replies that would interrupt (a 20 ms frame of the cleaned microphone loud enough for the server's voice
detection, or a local detection), CPU of the canceller per 10 ms frame, and, with --libraries, the comparison of
candidate libraries on one recorded echo. Goals are shown, not asserted.

    .venv/bin/python bench/aec_bench.py [--replies 50] [--trials 5] [--libraries]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_env  # noqa: F401  (isolated home, offscreen Qt, fake key: before Qt and desktop/)
import qasync
from interrupt_bench import open_app, responses_settled, start_reply
from PySide6.QtWidgets import QApplication

from desktop.audio.capture import AudioChunk, CaptureConfig
from desktop.audio.echo_canceller import EchoCanceller, WebRtcBackend, attach_canceller
from desktop.audio.echo_guard import EchoGuard
from desktop.audio.engine import AudioEngine
from desktop.audio.playback import PlaybackConfig
from tests.support.app_harness import stop_app, until
from tests.support.pulse import WARM_UP_S, PulseServer, start_pulse
from tests.support.realtime_server import RealtimeTestServer
from tests.support.sounds import read_wav, speech_wav

SERVER_SPEECH_RMS = 500.0  # the loopback server's energy detector: a 20 ms frame above this is "speech"
SUSTAINED_FRAMES = 3  # ... and what the echo tests ask of it (60 ms in a row), as a model-based VAD would
REPLIES = ["Sure, the meeting is at three o'clock tomorrow.",
           "Here is a longer answer so that there is plenty of time to listen. The weather tomorrow will be mild "
           "with some sunshine in the afternoon, and a light breeze from the west.",
           "I found two restaurants nearby, both open until ten."]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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


def longest_run(flags: np.ndarray) -> int:
    """The most True values in a row."""
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def analyse(session: Session) -> dict[str, float]:
    """Figures over the chunks the canceller handed on while active (before that, the level guard decides)."""
    times = np.array(session.times)
    active = np.array(session.active)
    raw_e, out_e, loud_replies, sustained_replies, worst = 0.0, 0.0, 0, 0, 0.0
    for start, end in session.reply_spans:
        picked = [i for i in range(len(times)) if start <= times[i] <= end and active[i]]
        if not picked:
            continue
        raw = np.concatenate([session.raw[i] for i in picked])
        out = np.concatenate([session.cleaned[i] for i in picked])
        raw_e += float(np.sum(raw.astype(np.float64) ** 2))
        out_e += float(np.sum(out.astype(np.float64) ** 2))
        levels = frame_rms(out)
        peak = float(levels.max(initial=0.0))
        loud_replies += peak > SERVER_SPEECH_RMS
        sustained_replies += longest_run(levels > SERVER_SPEECH_RMS) >= SUSTAINED_FRAMES
        worst = max(worst, peak)
    first = session.reply_spans[0][0]
    return {
        "erle_db": 10 * np.log10((raw_e + 1) / (out_e + 1)),
        "converge_s": (session.converged_at - first) if session.converged_at else float("nan"),
        "loud_replies": loud_replies,
        "sustained_replies": sustained_replies,
        "worst_frame_rms": worst,
        "cpu_ms_per_frame": 1000 * session.cpu_s / max(1, session.frames),
        "cpu_pct": 100 * session.cpu_s / max(1e-9, times[-1] - times[0]) if len(times) > 1 else float("nan"),
    }


# ----------------------------------------------------------------------------------------- library comparison
# The candidates, each behind the app's backend shape (10 ms int16 frames in, cleaned frames out). Only the chosen
# one is a dependency; the others are measured when installed (pip install livekit speexdsp-aec; the latter also
# needs the system's libspeexdsp).


class LiveKitBackend:
    name = "livekit (rtc.AudioProcessingModule, AEC3)"

    def __init__(self) -> None:
        from livekit import rtc  # type: ignore[import-not-found]

        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        self._apm.process_reverse_stream(self._rtc.AudioFrame(far.tobytes(), 24000, 1, len(far)))
        frame = self._rtc.AudioFrame(near.tobytes(), 24000, 1, len(near))
        self._apm.process_stream(frame)
        return np.frombuffer(frame.data, dtype=np.int16).copy()


class SpeexBackend:
    name = "speexdsp-aec (libspeexdsp, 300 ms tail)"

    def __init__(self) -> None:
        import speexdsp_aec  # type: ignore[import-not-found]

        self._aec = speexdsp_aec.SpeexAec(sample_rate=24000, frame_ms=10, filter_tail_ms=300)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return np.frombuffer(self._aec.process(near, far), dtype=np.int16)


class PyWebRtcBackend(WebRtcBackend):
    name = "pywebrtc-audio (AudioProcessor, AEC3) [chosen]"


def record_echo(pulse: PulseServer, gain_db: float, delay_ms: int, far: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plays `far` on the speaker with the loopback on; returns (microphone, speaker monitor) recordings."""
    module = loop_speaker_into_mic(pulse, gain_db, delay_ms)
    try:
        time.sleep(1.0)
        mic, spk = pulse.record("vmic"), pulse.record_speaker()
        time.sleep(0.5)
        pulse.play_into("spk", far).wait(60)
        time.sleep(0.5)
        return mic.stop(), spk.stop()
    finally:
        pulse.unload(module)


def xcorr_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """d such that a[n] ~ b[n - d]."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    c = np.fft.irfft(np.fft.rfft(a.astype(np.float64), n) * np.conj(np.fft.rfft(b.astype(np.float64), n)), n)
    c = np.concatenate([c[-max_lag:], c[: max_lag + 1]])
    return int(np.argmax(c)) - max_lag


def energy(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2)) + 1.0


def compare_library(factory: type, mic: np.ndarray, spk: np.ndarray, near: np.ndarray) -> dict[str, float]:
    """ERLE, convergence, CPU and double talk for one library on one recorded echo (reference aligned by
    cross-correlation and taken 40 ms early, as the app does)."""
    n = min(len(mic), len(spk))
    mic, spk = mic[:n].astype(np.int32), spk[:n]
    d = xcorr_lag(mic, spk, 24000) - 960
    ref = np.zeros(n, dtype=np.int16)
    if d >= 0:
        ref[d:] = spk[: n - d]
    else:
        ref[: n + d] = spk[-d:]
    at = 5 * 24000
    with_user = mic.copy()
    with_user[at:at + len(near)] += near
    outs, cpu = [], 0.0
    for signal in (mic, with_user):
        backend, out = factory(), np.zeros(n, dtype=np.int16)
        near16 = np.clip(signal, -32768, 32767).astype(np.int16)
        start = time.thread_time()
        for i in range(0, n - 239, 240):
            out[i:i + 240] = backend.process(np.ascontiguousarray(near16[i:i + 240]), ref[i:i + 240])
        cpu = time.thread_time() - start
        outs.append(out)
    echo_out, dt_out = outs
    w = 2400
    blocks = [10 * np.log10(energy(mic[i:i + w]) / energy(echo_out[i:i + w]))
              for i in range(0, n - w, w) if energy(mic[i:i + w]) > 300.0**2]
    converge = next((k * w / 24000 for k in range(len(blocks)) if np.mean(np.array(blocks[k:]) >= 25) >= 0.9),
                    float("nan"))
    span = slice(at, at + len(near))
    user, echo = near.astype(np.float64), mic[span].astype(np.float64)
    # What was sent during double talk, explained as a mix of the user's words and the echo (least squares, at the
    # canceller's small processing delay): how much of each survived, in dB of what was in the microphone.
    fits = []
    for k in range(0, 480, 4):
        sent = dt_out[at + k: at + k + len(near)].astype(np.float64)
        coef, *_ = np.linalg.lstsq(np.stack([user, echo], axis=1), sent, rcond=None)
        fits.append((float(np.sum((sent - coef[0] * user - coef[1] * echo) ** 2)), coef))
    _, (g_user, g_echo) = min(fits, key=lambda fit: fit[0])
    return {"erle": 10 * np.log10(energy(mic[2 * 24000:]) / energy(echo_out[2 * 24000:])), "converge": converge,
            "cpu_ms": 1000 * cpu / (n / 240),
            "dt_echo_left": 20 * np.log10(abs(g_echo) + 1e-6), "dt_user_gain": 20 * np.log10(abs(g_user) + 1e-6)}


def compare_libraries(pulse: PulseServer) -> None:
    far = np.concatenate([read_wav(speech_wav(text))[0] for text in REPLIES[1:] + REPLIES[1:]])
    near = read_wav(speech_wav("Wait, stop please, I have a different question."))[0]
    for gain, delay in ((0, 30), (-13, 30), (0, 120)):
        mic, spk = record_echo(pulse, gain, delay, far)
        for factory in (PyWebRtcBackend, LiveKitBackend, SpeexBackend):
            try:
                r = compare_library(factory, mic, spk, near)
            except (ImportError, RuntimeError) as exc:
                print(f"| library {factory.name} ({gain} dB, {delay} ms) | not installed | {exc} | |")
                continue
            print(f"| library {factory.name} ({gain} dB, {delay} ms) | ERLE {r['erle']:.1f} dB | convergence "
                  f"{r['converge']:.1f} s, {r['cpu_ms']:.3f} ms per 10 ms frame, double talk: echo left "
                  f"{r['dt_echo_left']:.1f} dB, user's words {r['dt_user_gain']:.1f} dB | ERLE >= 25 dB |", flush=True)


async def app_rows(pulse: PulseServer, replies: int, trials: int) -> None:
    """The whole app, hands-free, speaker looped into the mic at 0 dB / 30 ms: echo-only replies that got
    interrupted (by the local detector or the server's, which hears the cleaned microphone), and the time from
    the user's speech onset (first loud block the detectors see) to the truncation."""
    server = RealtimeTestServer().start()
    module: int | None = loop_speaker_into_mic(pulse, 0, 30)
    speech = read_wav(speech_wav(REPLIES[0]))[0].astype("<i2").tobytes()
    long_reply = read_wav(speech_wav(REPLIES[1]))[0].astype("<i2").tobytes()
    user = read_wav(speech_wav("Wait, stop please, I have a different question."))[0]
    app = await open_app(server, hands_free=True)
    try:
        await start_reply(app, server, long_reply, heard_ms=50)  # the first reply aligns the canceller
        await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
        before = len(app.controller.interrupts)
        cpu, wall = cpu_seconds(), time.monotonic()
        for _ in range(replies):
            await start_reply(app, server, speech, heard_ms=50)
            await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
        cpu_on = 100 * (cpu_seconds() - cpu) / (time.monotonic() - wall)
        false = len(app.controller.interrupts) - before
        print(f"| false interruptions over echo-only replies (0 dB, 30 ms, whole app) | {false} of {replies} | "
              f"canceller lag {(app.controller.mic.guard.canceller.lag or 0) / 24:.0f} ms | goal 0 |", flush=True)
        onset: list[float] = []
        app.controller.mic_samples.connect(
            lambda pcm: onset.append(time.monotonic())
            if not onset and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 500 else None)
        delays, from_play, triggers, early = [], [], [], []
        for _ in range(trials):
            done = len(app.controller.interrupts)
            try:
                await start_reply(app, server, long_reply, heard_ms=2000)
            except AssertionError:  # the reply did not get 2 s in: say why instead of stopping the bench
                early.append(f"{[r.trigger for r in app.controller.interrupts[done:]]} {app.controller.turn_state}")
                await until(lambda: responses_settled(app, server) and app.controller.turn_state == "idle",
                            within=30)
                continue
            onset.clear()
            played = time.monotonic()
            playing = pulse.play_into_mic(user)
            await until(lambda n=done: len(app.controller.interrupts) > n, within=10, what="interrupt")
            record = app.controller.interrupts[-1]
            triggers.append(record.trigger)
            from_play.append((record.at - played) * 1000)
            if onset:
                delays.append((record.at - onset[0]) * 1000)
            await asyncio.to_thread(playing.wait, 20)  # the user's turn ends; the server answers it: cut that
            await until(lambda: responses_settled(app, server) and app.controller.turn_state == "idle", within=30)
        await stop_app(app)
        pulse.unload(module)  # without a canceller the server would take the echo for the user
        module = None
        app = await open_app(server, hands_free=True, headphones=True)  # the same replies without the canceller
        cpu, wall = cpu_seconds(), time.monotonic()
        for _ in range(min(replies, 10)):
            await start_reply(app, server, speech, heard_ms=50)
            await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
        cpu_off = 100 * (cpu_seconds() - cpu) / (time.monotonic() - wall)
        print(f"| app CPU over echo-only replies, canceller on / off (headphones) | {cpu_on:.1f} % / {cpu_off:.1f} % "
              f"| whole process, speaker and mic running | window_bench duplex: 8-12 % |", flush=True)
        print(f"| user speech onset -> truncate with the AEC (0 dB, 30 ms), p50 / max | {np.median(delays):.0f} / "
              f"{max(delays):.0f} ms | paplay start -> truncate {np.median(from_play):.0f} ms; triggers "
              f"{', '.join(sorted(set(triggers)))} ({len(delays)} of {trials}) | goal <= 300 ms |", flush=True)
        if early:
            print(f"| replies that did not reach 2 s before the user spoke | {len(early)} of {trials} | {early} "
                  "| goal 0 |", flush=True)
    finally:
        await stop_app(app)
        if module is not None:
            pulse.unload(module)
        server.stop()


async def run(replies: int, trials: int, app: bool = True, engine: bool = True) -> None:
    pulse = start_pulse()
    await asyncio.sleep(WARM_UP_S)  # a just-started audio server costs its clients more (tests/support/pulse.py)
    try:
        if app:
            await app_rows(pulse, replies, trials)
        for gain, delay, count in ((0, 30, 12), (-13, 30, 5), (0, 120, 5), (-13, 120, 5)) if engine else ():
            session = await echo_session(gain, delay, count, pulse)
            a = analyse(session)
            label = f"{gain} dB, {delay} ms"
            print(f"| AEC ERLE after convergence ({label}) | {a['erle_db']:.1f} dB | worst 20 ms frame "
                  f"{a['worst_frame_rms']:.0f} RMS | goal >= 25 dB |", flush=True)
            print(f"| AEC convergence from the first reply's start ({label}) | {a['converge_s']:.2f} s | lag "
                  f"{(session.canceller.lag or 0) / 24:.0f} ms | goal <= 1 s |", flush=True)
            print(f"| echo-only replies loud enough for a server VAD ({label}) | {a['loud_replies']} of {count} | "
                  f"frame > {SERVER_SPEECH_RMS:.0f} RMS | goal 0 |", flush=True)
            print(f"| echo-only replies with 60 ms of echo through ({label}) | {a['sustained_replies']} of {count} | "
                  f"{SUSTAINED_FRAMES} frames in a row > {SERVER_SPEECH_RMS:.0f} RMS | goal 0 |", flush=True)
            print(f"| canceller CPU ({label}) | {a['cpu_ms_per_frame']:.3f} ms per 10 ms frame | "
                  f"{a['cpu_pct']:.2f}% of a core | goal <= 3% |", flush=True)
    finally:
        pulse.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--libraries", action="store_true", help="compare the candidate libraries only")
    parser.add_argument("--engine-only", action="store_true", help="skip the whole-app rows")
    parser.add_argument("--app-only", action="store_true", help="only the whole-app rows")
    args = parser.parse_args()
    if args.libraries:
        pulse = start_pulse()
        try:
            compare_libraries(pulse)
        finally:
            pulse.stop()
        return 0
    qt = QApplication.instance() or QApplication(sys.argv[:1])
    qt.setQuitOnLastWindowClosed(False)  # the app's window closes before the engine-level rows run
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(qt)) as runner:
        runner.run(run(args.replies, args.trials, app=not args.engine_only, engine=not args.app_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())

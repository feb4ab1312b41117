"""Interruption figures on the whole app (PulseAudio virtual devices, the loopback Realtime server):

- trigger -> silence for each trigger: the time from the trigger reaching the app to the first faded output
  callback (the speaker then goes quiet after the device's reported output latency, shown alongside);
- audio_end_ms error: what the app told the server minus what the speaker monitor recorded;
- local voice detection vs the server's speech_started: user speech onset (first loud mic block) -> stop;
- false interruptions over N replies whose own voice loops back into the microphone (-13 dB, 30 ms).

    .venv/bin/python bench/interrupt_bench.py [--trials 8] [--echo-replies 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_env  # noqa: F401  (isolated home, offscreen Qt, fake key: before Qt and desktop/)
import qasync
from PySide6.QtWidgets import QApplication

from tests.support.app_harness import App, start_app, stop_app, until
from tests.support.pulse import WARM_UP_S, PulseServer, start_pulse
from tests.support.realtime_server import RealtimeTestServer
from tests.support.sounds import read_wav, speech_wav, tone

RATE = 24000
USER = "Wait, stop please, I have a different question."
ASSISTANT = "Sure, here is the answer. It will be sunny tomorrow with a light breeze."


def pct(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if values else "n/a"


_SINCE: dict[int, int] = {}  # app -> index in server.sent where its connection began


def responses_settled(app: App, server: RealtimeTestServer) -> bool:
    kinds = [event["type"] for event in server.sent[_SINCE.setdefault(id(app), 0):]]
    return kinds.count("response.created") == kinds.count("response.done")


async def open_app(server: RealtimeTestServer, **settings: object) -> App:
    start = len(server.sent)
    app = await start_app(server.url, Path(tempfile.mkdtemp()), **settings)  # type: ignore[arg-type]
    _SINCE[id(app)] = start
    return app


async def start_reply(app: App, server: RealtimeTestServer, audio: bytes, heard_ms: float) -> str:
    # The loopback server does not cancel on a speech_started it was told to send: let that reply end first.
    await until(lambda: responses_settled(app, server), within=20, what="earlier replies done")
    server.script_response(audio=audio, speed=3.0, chunk_ms=100)
    app.controller.send_text("Go on.")
    await until(lambda: app.controller.turn_state == "speaking", within=15, what="reply playing")
    item = str(app.controller.driver.session._current_audio)  # set by the reply's first audio delta
    await until(lambda: app.controller._played_samples(item) >= heard_ms * RATE / 1000, within=15)
    return item


async def settle(app: App) -> None:
    """Until the speaker has played what it was given (after a stop, one output latency is still queued)."""
    record = app.controller.interrupts[-1]
    playback = app.controller.audio.playback
    await until(lambda: playback.played_samples(record.item_id) >= (record.played_samples or 0))
    deadline = time.monotonic() + 0.3
    await until(lambda: time.monotonic() >= deadline)


def audible(recording: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(recording.astype(np.int32)) > 500)
    return 0 if len(loud) == 0 else int(loud[-1] - loud[0] + 1)


async def trigger_trials(pulse: PulseServer, server: RealtimeTestServer, trials: int
                         ) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Stop, talk key, server speech_started and local VAD; returns stop latencies, truncation errors."""
    latencies: dict[str, list[float]] = {"stop": [], "talk": [], "server_vad": [], "local_vad": []}
    errors: dict[str, list[float]] = {trigger: [] for trigger in latencies}
    output_latency = 0.0
    steady = tone(330.0, 6.0, amplitude=0.4).astype("<i2").tobytes()
    user = read_wav(speech_wav(USER))[0]
    for trigger in latencies:
        hands_free = trigger in ("server_vad", "local_vad")
        app = await open_app(server, hands_free=hands_free)
        try:
            playback = app.controller.audio.playback
            output_latency = playback.reported_latency
            for _ in range(trials):
                # "idle" comes when the last audio left the callback; one output latency of it is still playing.
                quiet = time.monotonic() + 0.3
                await until(lambda t=quiet: time.monotonic() >= t)
                recording = pulse.record_speaker()
                truncates = server.received_types().count("conversation.item.truncate")
                await start_reply(app, server, steady, heard_ms=700)
                count = len(playback.stats.stop_latencies_ms)
                if trigger == "stop":
                    app.controller.stop_reply()
                elif trigger == "talk":
                    app.controller.press_talk()
                    app.controller.release_talk()
                elif trigger == "server_vad":
                    server.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0,
                                 "item_id": f"item_bench_{time.monotonic_ns()}"})
                else:
                    pulse.play_into_mic(user)
                await until(lambda n=truncates: server.received_types().count("conversation.item.truncate") > n,
                            within=10, what="truncate")
                await until(lambda p=playback, n=count: len(p.stats.stop_latencies_ms) > n, within=5)
                latencies[trigger].append(playback.stats.stop_latencies_ms[-1])
                await settle(app)
                heard = audible(await asyncio.to_thread(recording.stop))
                truncate = [e for e in server.received if e["type"] == "conversation.item.truncate"][-1]
                if playback.stats.underruns == 0:
                    errors[trigger].append(truncate["audio_end_ms"] - heard * 1000 / RATE)
                await until(lambda c=app.controller: c.turn_state in ("idle", "listening", "thinking"), within=10)
                if trigger == "local_vad":  # the user's words end a turn the server answers: let it finish
                    await until(lambda c=app.controller: c.turn_state == "idle", within=20)
                    app.controller.stop_reply()
        finally:
            await stop_app(app)
    return latencies, errors, output_latency


async def onset_to_stop(pulse: PulseServer, server: RealtimeTestServer, trials: int, local: bool) -> list[float]:
    """From the first loud mic block of the user's speech to the stop, with local detection on or off (off:
    headphones mode, so the server hears the mic and its speech_started is the trigger)."""
    user = read_wav(speech_wav(USER))[0]
    steady = tone(330.0, 8.0, amplitude=0.4).astype("<i2").tobytes()
    app = await open_app(server, hands_free=True, headphones=True)
    results: list[float] = []
    onset: list[float] = []

    def mic(pcm: np.ndarray) -> None:
        if not onset and float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) > 500:
            onset.append(time.monotonic())

    app.controller.mic_samples.connect(mic)
    if not local:
        app.controller._vad = None  # the bench's only reach inside: measure the server path alone
    try:
        for _ in range(trials):
            done = len(app.controller.interrupts)
            await start_reply(app, server, steady, heard_ms=600)
            onset.clear()
            pulse.play_into_mic(user)
            await until(lambda n=done: len(app.controller.interrupts) > n, within=10, what="interrupt")
            if onset:
                results.append((app.controller.interrupts[-1].at - onset[0]) * 1000)
            await until(lambda: app.controller.turn_state == "idle", within=20)
            app.controller.stop_reply()
    finally:
        await stop_app(app)
    return results


async def echo_replies(pulse: PulseServer, server: RealtimeTestServer, replies: int) -> tuple[int, int]:
    module = int(pulse.pactl("load-module", "module-loopback", "source=spk.monitor", "sink=mic",
                             "latency_msec=30", "source_dont_move=true", "sink_dont_move=true").strip())
    for line in pulse.pactl("list", "short", "sink-inputs").splitlines():
        if "module-loopback" in line:
            pulse.pactl("set-sink-input-volume", line.split()[0], "60%")
    speech = read_wav(speech_wav(ASSISTANT))[0].astype("<i2").tobytes()
    app = await open_app(server, hands_free=True)
    try:
        for _ in range(replies):
            await start_reply(app, server, speech, heard_ms=50)
            await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
        return len(app.controller.interrupts), replies
    finally:
        await stop_app(app)
        pulse.unload(module)


async def run(trials: int, echo_count: int) -> None:
    pulse = start_pulse()
    await asyncio.sleep(WARM_UP_S)  # a just-started audio server costs its clients more (tests/support/pulse.py)
    server = RealtimeTestServer().start()
    try:
        latencies, errors, output_latency = await trigger_trials(pulse, server, trials)
        local = await onset_to_stop(pulse, server, trials, local=True)
        remote = await onset_to_stop(pulse, server, trials, local=False)
        false_interrupts, replies = await echo_replies(pulse, server, echo_count)
    finally:
        server.stop()
        pulse.stop()
    print(f"interrupt bench: {trials} trials per trigger, {echo_count} echo replies, {os.cpu_count()} cores")
    print(f"{'figure':58} {'p50':>8} {'p95':>8}  goal")
    for trigger, values in latencies.items():
        print(f"{'trigger -> faded output callback, ' + trigger + ' (ms)':58} {pct(values, 50):>8} "
              f"{pct(values, 95):>8}  p95 <= 20 (+ output latency {output_latency * 1000:.0f} ms to the DAC)")
    for trigger, values in errors.items():
        abs_errors = [abs(e) for e in values]
        print(f"{'|audio_end_ms - heard on the speaker monitor|, ' + trigger + ' (ms)':58} {pct(abs_errors, 50):>8} "
              f"{pct(abs_errors, 95):>8}  <= 20 ({len(values)} trials)")
    print(f"{'user speech onset -> stop, local VAD (ms)':58} {pct(local, 50):>8} {pct(local, 95):>8}")
    print(f"{'user speech onset -> stop, server speech_started (ms)':58} {pct(remote, 50):>8} "
          f"{pct(remote, 95):>8}  (loopback server: no network delay)")
    print(f"{'false interruptions over echo-only replies':58} {false_interrupts:>8} {'':>8}  0 of {replies}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--echo-replies", type=int, default=20)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(run(args.trials, args.echo_replies))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Echo cancellation end to end: the whole app on real PulseAudio with the speaker looped back into the
microphone (module-loopback from the speaker sink's monitor) at laptop-like gains and delays, against the
loopback Realtime server, whose own energy voice detection hears whatever the app sends.

With the canceller on (the default on loudspeakers) the server hears the cleaned microphone while the assistant
speaks: an echo that got through would make it cut the reply (speech_started), so "no interruption" proves the
echo is gone from what is sent, not just that a local gate held."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from desktop.audio.capture import AudioChunk
from desktop.core.config import SAMPLE_RATE
from tests.app.test_interruption import USER_SPEECH, reply_playing
from tests.support.app_harness import TEST_KEY, App, start_app, stop_app, until
from tests.support.live_server import LiveTestServer
from tests.support.pulse import PulseServer
from tests.support.realtime_server import RealtimeTestServer
from tests.support.sounds import read_wav, rms, speech_wav

pytestmark = pytest.mark.slow

SHORT_REPLY = "Sure, the meeting is at three o'clock tomorrow."
LONG_REPLY = ("Here is a longer answer so that there is plenty of time to listen. The weather tomorrow will be mild "
              "with some sunshine in the afternoon, and a light breeze from the west.")


@pytest.fixture(autouse=True)
def _key_and_quiet_room(monkeypatch: pytest.MonkeyPatch, pulse: PulseServer) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    pulse.stop_sounds()
    yield
    pulse.stop_sounds()


def loop_speaker_into_mic(pulse: PulseServer, gain_db: float, delay_ms: int) -> int:
    """The speaker's sound reaches the microphone `delay_ms` later at `gain_db`; returns the module id."""
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


def speech_bytes(text: str) -> bytes:
    samples, rate = read_wav(speech_wav(text))
    assert rate == SAMPLE_RATE
    return samples.astype("<i2").tobytes()


def sent_audio(server: RealtimeTestServer) -> np.ndarray:
    pieces = [base64.b64decode(e["audio"]) for e in server.received if e["type"] == "input_audio_buffer.append"]
    return np.frombuffer(b"".join(pieces), dtype="<i2")


class RawMicLevel:
    """RMS of the raw microphone (what the capture hands the canceller) while the assistant speaks: proof the echo
    is there. Taken in the app rather than by a second recording of the device: another stream opening and closing
    on the source moved the loopback's delay by tens of ms in the middle of a reply."""

    def __init__(self, app: App) -> None:
        self.app, self.energy, self.samples = app, 0.0, 0
        capture = app.controller.audio.capture
        self._inner = capture.processor
        capture.processor = self

    def __call__(self, chunk: AudioChunk) -> AudioChunk:
        if self.app.controller.turn_state == "speaking":
            self.energy += float(np.sum(chunk.pcm.astype(np.float64) ** 2))
            self.samples += len(chunk.pcm)
        return self._inner(chunk) if self._inner is not None else chunk

    @property
    def rms(self) -> float:
        return float(np.sqrt(self.energy / max(1, self.samples)))


@pytest.mark.parametrize(("gain_db", "delay_ms", "replies"), [(0, 30, 20), (-13, 30, 2), (0, 120, 2),
                                                              (-13, 120, 2)])
def test_echo_only_replies_never_interrupt(gain_db: float, delay_ms: int, replies: int, qloop: asyncio.Runner,
                                           pulse: PulseServer, realtime_server: RealtimeTestServer,
                                           tmp_path: Path) -> None:
    module = loop_speaker_into_mic(pulse, gain_db, delay_ms)
    # Speech is 60 ms of loud audio, not one 20 ms frame: a model-based VAD does not take a lone residue of the
    # echo for the user (this machine, loaded, leaves one now and then: bench/aec_bench.py counts them), but any
    # echo that gets through for longer still cuts the reply and fails the test.
    realtime_server.speech_frames = 3

    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        try:
            guard = app.controller.mic.guard
            assert guard.canceller is not None, "the canceller is on by default on loudspeakers"
            raw = RawMicLevel(app)
            for n in range(replies):
                await reply_playing(app, realtime_server, speech_bytes(SHORT_REPLY if n else LONG_REPLY),
                                    heard_ms=100)
                await until(lambda: app.controller.turn_state == "idle", within=30, what=f"reply {n} played out")
            assert raw.rms > 1500 * 10 ** (gain_db / 20), "no echo reached the microphone: the test proves nothing"
            assert guard.canceller.active and not guard.gating, "the canceller took over from the level guard"
            kinds = realtime_server.received_types()
            canceller = guard.canceller
            assert app.controller.interrupts == [], (canceller.lag, [(e.lag, round(e.confidence, 2))
                                                                      for e in canceller.estimates[-12:]])
            assert "conversation.item.truncate" not in kinds and "response.cancel" not in kinds
            assert not [e for e in realtime_server.sent if e["type"] == "input_audio_buffer.speech_started"]
            assert guard.canceller.erle_db >= 20, guard.canceller.erle_db
        finally:
            await stop_app(app)

    try:
        qloop.run(scenario())
    finally:
        pulse.unload(module)


@pytest.mark.parametrize("delay_ms", [30, 120])
def test_user_interrupts_a_loud_echo_and_the_server_hears_the_user(delay_ms: int, qloop: asyncio.Runner,
                                                                   pulse: PulseServer,
                                                                   realtime_server: RealtimeTestServer,
                                                                   tmp_path: Path) -> None:
    module = loop_speaker_into_mic(pulse, 0, delay_ms)
    user, _ = read_wav(speech_wav(USER_SPEECH))
    realtime_server.speech_frames = 3  # as above: the user's words are speech, a lone residual frame is not

    async def scenario() -> None:
        app = await start_app(realtime_server.url, tmp_path, hands_free=True)
        try:
            await reply_playing(app, realtime_server, speech_bytes(LONG_REPLY), heard_ms=2000)
            canceller = app.controller.mic.guard.canceller
            await until(lambda: canceller.active, within=5, what="the canceller converged")
            sent_before = len(sent_audio(realtime_server))
            pulse.play_into_mic(speech_wav(USER_SPEECH))
            truncate = await realtime_server.async_wait_for("conversation.item.truncate", timeout=10)
            record = app.controller.interrupts[0]
            assert record.trigger in ("local_vad", "server_vad")
            assert truncate["item_id"] == record.item_id
            assert abs(truncate["audio_end_ms"] - record.played_samples * 1000 / SAMPLE_RATE) <= 1
            cancelled = "response.cancel" in realtime_server.received_types()
            if record.trigger == "server_vad":  # the server stops its own response
                assert not cancelled
            else:  # the app stops it, unless it had already been streamed whole (3x real time)
                assert cancelled or any(e["type"] == "response.done" and e["response"]["status"] == "completed"
                                        for e in realtime_server.sent)
            await realtime_server.async_wait_sent("input_audio_buffer.speech_stopped", timeout=10)
            # The server got the user's words, not silence (how much echo rides along during double talk is
            # measured in tests/audio/test_echo_canceller_devices.py, where the echo is known).
            sent = sent_audio(realtime_server)[sent_before:]
            assert rms(sent[: len(user)]) > 0.3 * rms(user), "the user's words did not reach the server"
        finally:
            await stop_app(app)

    try:
        qloop.run(scenario())
    finally:
        pulse.unload(module)


def test_gpt_live_hears_the_user_and_not_its_own_voice(qloop: asyncio.Runner, pulse: PulseServer,
                                                       live_server: LiveTestServer, tmp_path: Path) -> None:
    """GPT-Live listens all the time and decides itself when to yield, so on loudspeakers it must get the cleaned
    microphone or it would hear its own voice as the user's. While it speaks what it receives holds the echo at
    least 20 dB down; the user's words 2 s into a reply stop it and reach the model."""
    module = loop_speaker_into_mic(pulse, 0, 30)
    user, _ = read_wav(speech_wav(USER_SPEECH))

    async def scenario() -> None:
        app = await start_app(live_server.url, tmp_path, hands_free=True, model="gpt-live-1.1")
        try:
            guard = app.controller.mic.guard
            canceller = guard.canceller if guard is not None else None
            assert canceller is not None, "the canceller is on by default on loudspeakers"
            raw = RawMicLevel(app)
            heard: list[float] = []
            for text in (LONG_REPLY, SHORT_REPLY):  # the first reply aligns the canceller, the second is all clean
                active_before = canceller.active
                said = live_server.say(text, pcm=speech_bytes(text), pace=3.0)
                await until(lambda: app.controller.turn_state == "speaking", what="reply playing")
                start = len(live_server.received_audio())
                await until(lambda: app.controller.turn_state == "idle", within=30, what="reply played out")
                await asyncio.wrap_future(said)
                heard.append(rms(np.frombuffer(live_server.received_audio()[start:], dtype="<i2")))
            assert active_before, "the canceller vouched for the microphone from the second reply's start"
            assert raw.rms > 1500, "no echo reached the microphone: the test proves nothing"
            assert max(heard) < raw.rms / 10, (heard, raw.rms)  # >= 20 dB of echo gone from what the model hears
            assert app.controller.interrupts == []
            assert "session.instructions.append" not in live_server.received_types()

            played: list[int] = []
            app.controller.assistant_samples.connect(lambda pcm: played.append(len(pcm)))
            said = live_server.say(LONG_REPLY, pcm=speech_bytes(LONG_REPLY), pace=3.0)
            await until(lambda: sum(played) >= 2 * SAMPLE_RATE, what="2 s of the reply heard")
            start = len(live_server.received_audio())
            playing = pulse.play_into_mic(speech_wav(USER_SPEECH))
            await until(lambda: bool(app.controller.interrupts), within=10, what="the user's interruption")
            assert app.controller.interrupts[0].trigger == "local_vad"
            await until(lambda: "session.instructions.append" in live_server.received_types(), what="stop told")
            stop = next(e for e in live_server.received if e["type"] == "session.instructions.append")
            assert "Stop speaking" in stop["content"]
            await asyncio.to_thread(playing.wait, 20)
            await asyncio.wrap_future(said)
            await until(lambda: len(live_server.received_audio()) - start >= 2 * len(user), what="the words sent")
            sent = np.frombuffer(live_server.received_audio()[start:], dtype="<i2")
            assert rms(sent[: len(user)]) > 0.3 * rms(user), "the user's words did not reach the model"
        finally:
            await stop_app(app)
        assert live_server.violations == []

    try:
        qloop.run(scenario())
    finally:
        pulse.unload(module)

"""The canceller on the real audio engine and real PulseAudio devices (speaker looped into the microphone): odd
device rates, a rest and wake of both streams, a device change. Each time the echo must be gone again within a
reply, because the timeline re-anchors and the lag is found anew."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from desktop.audio.capture import AudioChunk, CaptureConfig
from desktop.audio.echo_canceller import EchoCanceller, attach_canceller
from desktop.audio.echo_guard import EchoGuard
from desktop.audio.engine import AudioEngine
from desktop.audio.playback import PlaybackConfig
from tests.support.pulse import PulseServer
from tests.support.sounds import read_wav, speech_wav

pytestmark = pytest.mark.slow

REPLY = "Here is a longer answer so that there is time to listen: mild weather tomorrow, some sunshine."


def loopback(pulse: PulseServer, source: str, sink: str, gain_db: float = 0.0) -> int:
    module = pulse.pactl("load-module", "module-loopback", f"source={source}", f"sink={sink}", "latency_msec=30",
                         "source_dont_move=true", "sink_dont_move=true").strip()
    index = None
    for line in pulse.pactl("list", "sink-inputs").splitlines():
        line = line.strip()
        if line.startswith("Sink Input #"):
            index = line.split("#", 1)[1]
        elif line.startswith("Owner Module:") and line.split(":", 1)[1].strip() == module:
            pulse.pactl("set-sink-input-volume", str(index), f"{gain_db}dB")
    return int(module)


class Tap:
    """Raw and cleaned microphone, chunk by chunk, with whether the canceller was active."""

    def __init__(self, canceller: EchoCanceller) -> None:
        self.canceller = canceller
        self.rows: list[tuple[np.ndarray, np.ndarray, bool]] = []

    def __call__(self, chunk: AudioChunk) -> AudioChunk:
        out = self.canceller.process(chunk)
        self.rows.append((chunk.pcm, out.pcm, self.canceller.active))
        return out

    def erle_since(self, start: int) -> tuple[float, int]:
        """ERLE over the active chunks from row `start` on, and how many there were."""
        rows = [(raw, out) for raw, out, active in self.rows[start:] if active]
        if not rows:
            return 0.0, 0
        raw = np.concatenate([r for r, _ in rows]).astype(np.float64)
        out = np.concatenate([o for _, o in rows]).astype(np.float64)
        return 10 * float(np.log10((np.sum(raw**2) + 1) / (np.sum(out**2) + 1))), len(rows)


async def play_reply(engine: AudioEngine, item: str) -> None:
    pcm = read_wav(speech_wav(REPLY))[0]
    for at in range(0, len(pcm), 2400):
        engine.playback.feed(item, pcm[at:at + 2400].astype("<i2").tobytes())
        await asyncio.sleep(0.03)
    engine.playback.finish(item)
    for _ in range(600):
        if engine.playback.is_drained(item):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)


async def warm(tap: Tap, chunks: int = 40) -> None:
    for _ in range(200):
        if len(tap.rows) >= chunks:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the microphone delivered nothing")


@pytest.fixture
def engine_with_canceller(pulse: PulseServer) -> Iterator[tuple[AudioEngine, Tap]]:
    module = loopback(pulse, "spk.monitor", "mic")
    engine = AudioEngine(CaptureConfig(), PlaybackConfig())
    guard = EchoGuard()
    detach = attach_canceller(engine, guard)
    assert guard.canceller is not None
    tap = Tap(guard.canceller)
    engine.capture.processor = tap
    try:
        yield engine, tap
    finally:
        detach()
        pulse.unload(module)


def test_rest_wake_and_reopen_realign(qloop: asyncio.Runner, pulse: PulseServer,
                                      engine_with_canceller: tuple[AudioEngine, Tap]) -> None:
    engine, tap = engine_with_canceller

    async def scenario() -> None:
        await engine.open()
        try:
            await warm(tap)
            await play_reply(engine, "first")
            erle, n = tap.erle_since(0)
            assert n > 20 and erle >= 25, (erle, n, tap.canceller.estimates[-3:])
            await engine.capture.rest()
            assert await engine.playback.rest()
            await asyncio.sleep(0.5)
            await engine.capture.wake()
            mark = len(tap.rows)
            await play_reply(engine, "after-rest")
            erle, n = tap.erle_since(mark)
            assert n > 20 and erle >= 25, ("after a rest", erle, n)
            await engine.reopen(None, None)  # a device change: both streams closed and opened again
            await warm(tap, len(tap.rows) + 40)
            mark = len(tap.rows)
            await play_reply(engine, "after-reopen")
            erle, n = tap.erle_since(mark)
            assert n > 20 and erle >= 25, ("after a reopen", erle, n)
        finally:
            await engine.close()

    qloop.run(scenario())


def lag_of(signal: np.ndarray, part: np.ndarray, max_lag: int) -> int:
    """Where `part` starts inside `signal` (0..max_lag), by cross-correlation."""
    n = 1 << int(np.ceil(np.log2(len(signal) + len(part))))
    corr = np.fft.irfft(np.fft.rfft(signal.astype(np.float64), n) * np.conj(np.fft.rfft(part.astype(np.float64), n)), n)
    return int(np.argmax(corr[: max_lag + 1]))


def double_talk_shares(raw: np.ndarray, cleaned: np.ndarray, words: np.ndarray,
                       piece: int = 9600) -> list[tuple[float, float, float]]:
    """How much of the user and of the echo are in the cleaned microphone, per 0.4 s stretch of the user's words.

    The user's recording reaches the microphone through PulseAudio, which may stretch it by a few ms when the
    machine is busy: each stretch is located on its own (near where the whole utterance was found). There the
    raw microphone is the user (gain ~1) plus the echo; the cleaned one is fitted, over the canceller's own
    processing delay, as a mix of the two. Stretches where either is quiet say nothing and are left out.
    Returns (user share, echo share, the user's energy in the stretch) per stretch."""
    at = lag_of(raw, words, len(raw) - len(words))
    shares = []
    for k in range(0, len(words) - piece + 1, piece):
        part = words[k:k + piece]
        lo = max(0, at + k - 720)
        local = lo + lag_of(raw[lo:lo + piece + 1440], part, 1440)
        mic = raw[local:local + piece]
        if len(mic) < piece or np.sqrt(np.mean(part**2)) < 300:
            continue
        gain = float(np.dot(mic, part) / np.dot(part, part))
        echo = mic - gain * part  # what the microphone had besides the user: the echo
        if not 0.7 < gain < 1.4 or np.sqrt(np.mean(echo**2)) < 0.3 * np.sqrt(np.mean(part**2)):
            continue
        fits = []
        for d in range(0, 480, 4):  # the canceller's own processing delay
            sent = cleaned[local + d: local + d + piece]
            if len(sent) < piece:
                break
            coef, *_ = np.linalg.lstsq(np.stack([part, echo], axis=1), sent, rcond=None)
            fits.append((float(np.sum((sent - coef[0] * part - coef[1] * echo) ** 2)), coef))
        if fits:
            _, (user_share, echo_share) = min(fits, key=lambda fit: fit[0])
            shares.append((float(user_share), float(echo_share), float(np.sum(part**2))))
    return shares


def test_double_talk_sends_the_user_not_the_echo(qloop: asyncio.Runner, pulse: PulseServer,
                                                 engine_with_canceller: tuple[AudioEngine, Tap]) -> None:
    """The user talks while the reply plays on, at 0 dB echo (as loud at the microphone as the user). The cleaned
    microphone is explained, stretch by stretch, as a mix of the user's words and the echo that was in the
    microphone: the echo's share must be small and the user's large."""
    engine, tap = engine_with_canceller
    user = read_wav(speech_wav("Wait, stop please, I have a different question."))[0]

    async def scenario() -> None:
        await engine.open()
        try:
            await warm(tap)
            reply = asyncio.ensure_future(play_reply(engine, "long"))
            for _ in range(100):
                if tap.canceller.active:
                    break
                await asyncio.sleep(0.05)
            assert tap.canceller.active, "the canceller did not converge on the first reply"
            await asyncio.sleep(0.5)
            mark = len(tap.rows)
            await asyncio.to_thread(pulse.play_into_mic(user).wait, 15)
            await asyncio.sleep(0.3)
            dt_rows = tap.rows[mark:]
            await reply
        finally:
            await engine.close()
        vouched = sum(active for _, _, active in dt_rows) / len(dt_rows)
        assert vouched >= 0.9, f"the canceller dropped out during double talk ({vouched:.0%} of chunks active)"
        raw = np.concatenate([r for r, _, _ in dt_rows]).astype(np.float64)
        cleaned = np.concatenate([c for _, c, _ in dt_rows]).astype(np.float64)
        shares = double_talk_shares(raw, cleaned, user.astype(np.float64))
        assert len(shares) >= 4, f"too few stretches where both the user and the echo were loud: {len(shares)}"
        echo_left_db = 20 * np.log10(np.median([abs(e) for _, e, _ in shares]) + 1e-9)
        # How much of the user's speech energy reaches the server: AEC3's suppressor dims some stretches of
        # double talk by 20-30 dB and passes others almost whole (it varies from run to run).
        user_kept_db = 10 * np.log10(sum(u * u * w for u, _, w in shares) / sum(w for _, _, w in shares) + 1e-12)
        assert echo_left_db < -20, f"echo left in what is sent during double talk: {echo_left_db:.1f} dB"
        assert user_kept_db > -15, (f"the user's words were suppressed: {user_kept_db:.1f} dB",
                                    [(round(u, 2), round(e, 3)) for u, e, _ in shares], tap.canceller.estimates[-6:])

    qloop.run(scenario())


def test_odd_device_rates(qloop: asyncio.Runner, pulse: PulseServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = pulse.load_sink("spk44", 44100)
    source, source_sink = pulse.load_source("mic48", 48000)
    module = loopback(pulse, "spk44.monitor", "mic48_in", -6.0)
    monkeypatch.setenv("PULSE_SINK", "spk44")  # read by the ALSA pulse plugin when a stream opens
    monkeypatch.setenv("PULSE_SOURCE", "mic48")
    engine = AudioEngine(CaptureConfig(rate=48000), PlaybackConfig(rate=44100))
    guard = EchoGuard()
    detach = attach_canceller(engine, guard)
    assert guard.canceller is not None
    tap = Tap(guard.canceller)
    engine.capture.processor = tap

    async def scenario() -> None:
        await engine.open()
        try:
            assert (engine.capture.device_rate, engine.playback.device_rate) == (48000, 44100)
            await warm(tap)
            await play_reply(engine, "odd-rates")
            erle, n = tap.erle_since(0)
            loudest = max(float(np.sqrt(np.mean(raw.astype(np.float64) ** 2))) for raw, _, _ in tap.rows)
            assert loudest > 1000, f"no echo reached the microphone ({loudest:.0f} RMS): the test proves nothing"
            assert n > 20 and erle >= 25, (erle, n, tap.canceller.estimates[-3:])
        finally:
            await engine.close()

    try:
        qloop.run(scenario())
    finally:
        detach()
        for m in (module, source, source_sink, sink):
            pulse.unload(m)

"""Acoustic echo cancellation on the capture path: the microphone minus what the speaker put into it.

Why: on laptop speakers the assistant's voice comes back through the microphone, often louder than the user. The
level guard (echo_guard.py) can only let the user through when they are clearly louder than the echo; a canceller
removes the echo itself, so the user can interrupt at any volume, and the server (whose own voice detection
then hears the cleaned microphone, not silence) can too.

How: every block the speaker played (the exact samples, with its DAC time and the output stream's frame count)
goes into a far-end timeline (aec_align.FarEnd); every microphone chunk (its ADC time and the capture's sample
index) is processed in 10 ms frames together with the far-end samples that explain it: timeline position minus
the echo path's lag, taken `lead_ms` early so that the canceller's own delay estimation sees the echo after its
reference. Positions come from sample counts (stamps jitter by milliseconds; the reference must not), tied to
the PortAudio clock once and again after a rest, a device change or an underrun. The lag is found by
cross-correlation (aec_align.estimate_lag, on a worker thread, a few ms per estimate: every 250 ms until locked,
then every second while the speaker plays) and followed as the two streams' clocks drift apart. The library
sits behind `CancellerBackend`; the choice, by measurement, is WebRTC's AEC3 from `pywebrtc-audio`
(bench/aec_bench.py --libraries compares it with livekit's copy of AEC3 and with speexdsp).

Until it is aligned and seen to converge, `active` is False: the raw microphone goes on and the level guard
gates as before. "I use headphones" turns both off. Cost on this machine: about 0.1 ms of AEC3 plus 0.08 ms of
bookkeeping per 10 ms frame on the loop thread (under 2 % of a core at 24 kHz mono, measured in the bench)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np
import soxr

from desktop.audio.aec_align import RATE, Anchor, FarEnd, LagEstimate, estimate_lag

if TYPE_CHECKING:
    from desktop.audio.capture import AudioChunk
    from desktop.audio.echo_guard import EchoGuard
    from desktop.audio.engine import AudioEngine

log = logging.getLogger(__name__)
FRAME = RATE // 100  # the canceller works on 10 ms frames


class CancellerBackend(Protocol):
    """One echo-cancelling library: 10 ms int16 frames at 24 kHz in, the cleaned near end out."""

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class WebRtcBackend:
    """WebRTC's audio processing module (AEC3 plus its high-pass filter) from the `pywebrtc-audio` wheel."""

    def __init__(self) -> None:
        import pywebrtc_audio

        self._apm = pywebrtc_audio.AudioProcessor(sample_rate=RATE, num_channels=1, echo_cancellation=True,
                                                  high_pass_filter=True)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return np.asarray(self._apm.process(near, far), dtype=np.int16)

    def reset(self) -> None:
        self._apm.reset()


def load_backend() -> CancellerBackend | None:
    """The canceller library, or None when it is not installed (the level guard is the fallback then)."""
    try:
        return WebRtcBackend()
    except ImportError as exc:
        log.warning("echo cancellation unavailable (%s): the level guard is used instead", exc)
        return None


@dataclass(frozen=True)
class CancellerConfig:
    lead_ms: float = 40.0  # the reference is taken this much before the estimated echo (AEC3 needs it causal)
    lag_lo_s: float = -0.8  # search range of DAC -> ADC stamp offsets (Pulse's plugin: about -0.5 s)
    lag_hi_s: float = 0.6
    window_s: float = 1.0  # microphone audio correlated per estimate
    every_s: float = 1.0  # how often to re-estimate while the speaker plays
    search_every_s: float = 0.125  # ... and until locked (each look costs ~2 ms off the loop; two must agree)
    min_confidence: float = 0.3
    moved_confidence: float = 0.6  # an estimate this sure, far from the lag, says the echo moved: stop vouching
    follow_ms: float = 10.0  # lag moves up to this are followed without restarting the filter
    follow_step: int = 4  # ... a few samples per estimate at most: a step of 20 samples made AEC3 leak a burst
    far_floor: float = 30.0  # int16 RMS under which the far end counts as silent
    converged_db: float = 15.0  # echo reduction that proves the filter has converged (then `active`)


class EchoCanceller:
    def __init__(self, backend: CancellerBackend, config: CancellerConfig | None = None,
                 estimate_off_loop: bool = True) -> None:
        self.config = config or CancellerConfig()
        self.backend = backend
        self.enabled = True
        self.far = FarEnd(keep_s=self.config.window_s + self.config.lag_hi_s - self.config.lag_lo_s + 1.0)
        self.lag: int | None = None  # samples; None until estimated
        self.estimates: list[LagEstimate] = []
        self._off_loop = estimate_off_loop
        self._estimating = False
        self._resampler: soxr.ResampleStream | None = None
        self._far_rate = RATE
        self._far_next = -1  # the device frame the next played block should start at (runs of blocks)
        self._far_run = (-1, 0)  # a run's first position (24 kHz) and the samples resampled since
        self._mic_anchor = Anchor()  # ties the capture's sample index to the ADC clock (as FarEnd does the DAC's)
        self._anchors = (0, 0)  # (far end, microphone) anchorings seen: any new one re-checks the alignment
        self._mic_anchors = 0
        self._far_loud_end = -(10**12)  # timeline position just after the last far-end block with sound
        self._mic_hist: deque[tuple[int, np.ndarray]] = deque()
        self._mic_hist_len = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(0, dtype=np.int16)
        self._last_estimate_pos = -(10**12)
        self.frames = 0  # frames processed by the backend (tests, bench)
        self.energy_in = 0.0  # microphone / cleaned energy while the far end plays (ERLE figure)
        self.energy_out = 0.0
        self.converged = False  # set once a third of a second of loud echo came out >= converged_db quieter
        self._recent: deque[tuple[float, float]] = deque(maxlen=8)
        # Called before each microphone chunk to bring the far end up to date (the playback's collect()): its
        # drains are batched, and on a busy loop the microphone chunk holding an echo could come first.
        self.pull_far_end: Callable[[], None] | None = None
        self._short = False  # the last chunk's reference was not all there yet: not vouched for

    @property
    def active(self) -> bool:
        """Enabled, aligned and seen to remove the echo, and neither stream's clock in doubt: the microphone it
        hands on is clean."""
        return (self.enabled and self.lag is not None and self.converged and not self.far.doubtful
                and not self._mic_anchor.doubtful and not self._short)

    # -- far end (loop thread, from the playback's drain) ----
    def note_playback(self, samples: np.ndarray, dac_time: float, rate: int, frame: int = -1) -> None:
        """A played block (int16 at the device rate), its DAC time and the output stream's frame count."""
        if not self.enabled:
            return
        if rate == RATE:
            self.far.write(samples, dac_time, frame)
            self._note_loudness(samples)
            return
        # Another device rate: each run of back-to-back blocks goes through one streaming resampler and is laid
        # out contiguously from its first block's position (per-block rounding would leave gaps and overlaps).
        if rate != self._far_rate or frame < 0 or frame != self._far_next:
            self._far_rate = rate
            self._resampler = soxr.ResampleStream(rate, RATE, 1, dtype="int16")
            self._far_run = (round(frame * RATE / rate) if frame >= 0 else -1, 0)
        self._far_next = frame + len(samples)
        pcm = self._resampler.resample_chunk(samples) if self._resampler is not None else samples
        start, emitted = self._far_run
        self._far_run = (start, emitted + len(pcm))
        if len(pcm):
            self.far.write(pcm, dac_time, start + emitted if start >= 0 else -1)
            self._note_loudness(pcm)

    def _note_loudness(self, pcm: np.ndarray) -> None:
        """Remembers where the far end last had sound, so quiet stretches cost no correlation (nor a look)."""
        if len(pcm) and float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2))) > self.config.far_floor:
            self._far_loud_end = self.far.end

    # -- near end (loop thread, from the capture's drain) ----
    def process(self, chunk: AudioChunk) -> AudioChunk:
        """The chunk with the echo removed (same length and stamps); untouched when disabled or not aligned."""
        if self.pull_far_end is not None:
            self.pull_far_end()
        n = len(chunk.pcm)
        if self._mic_anchor.check(round(chunk.adc_time * RATE), chunk.index):
            self._mic_anchors += 1  # ADC stamps jitter: positions follow the sample count, re-anchored rarely
        pos = chunk.index + self._mic_anchor.offset
        if not self.enabled:
            return chunk
        self._check_anchors()
        self._remember(pos, chunk.pcm)
        self._maybe_estimate(pos + n)
        if self.lag is None:  # not aligned yet: the raw microphone, judged by the level guard as before
            return chunk
        lead = round(self.config.lead_ms * RATE / 1000)
        ref_start = pos - len(self._pending) - (self.lag or 0) + lead
        near = np.concatenate([self._pending, chunk.pcm])
        ref = self.far.read(ref_start, len(near))
        # Sound played just before and the rest not handed over yet: the echo of that rest is in this chunk but
        # not in the reference (a late drain, an underrun). Cancelled as well as can be, but not vouched for.
        self._short = ref_start + len(near) > self.far.end and self._far_loud_end > ref_start - RATE // 4
        whole = len(near) // FRAME * FRAME
        cleaned = [self.backend.process(near[i:i + FRAME], ref[i:i + FRAME]) for i in range(0, whole, FRAME)]
        self.frames += len(cleaned)
        self._pending = near[whole:].copy()
        out = np.concatenate([self._out, *cleaned]) if cleaned else self._out
        if len(out) < n:  # only at the start (or after odd chunk sizes): a few samples of delay
            out = np.concatenate([np.zeros(n - len(out), dtype=np.int16), out])
        result, self._out = out[:n], out[n:].copy()
        if ref.any():
            self._measure(float(np.sum(chunk.pcm.astype(np.float64) ** 2)),
                          float(np.sum(result.astype(np.float64) ** 2)), n)
        return replace(chunk, pcm=result)

    def _check_anchors(self) -> None:
        """A timeline re-anchored (a stream restarted, a rest, an underrun): what was aligned may no longer be.
        The canceller stops counting as active (the level guard gates again) and starts afresh until the lag is
        confirmed and the echo is seen to go away once more: a misaligned canceller would hand the echo on."""
        anchors = (self.far.anchors, self._mic_anchors)
        if anchors == self._anchors:
            return
        self._anchors = anchors
        if self.lag is not None:
            log.info("audio timeline re-anchored: re-checking the echo canceller's alignment")
            self._restart()
            self._last_estimate_pos = -(10**12)  # look again as soon as there is a window to look at

    def _restart(self) -> None:
        self.converged = False
        self._recent.clear()
        self.backend.reset()
        self._out = np.zeros(0, dtype=np.int16)

    def _measure(self, energy_in: float, energy_out: float, n: int) -> None:
        self.energy_in += energy_in
        self.energy_out += energy_out
        if self.converged:
            return
        self._recent.append((energy_in, energy_out))
        total_in = sum(e for e, _ in self._recent)
        total_out = sum(e for _, e in self._recent)
        loud = total_in > (300.0**2) * n * len(self._recent)  # an echo clearly there (RMS > 300)
        if len(self._recent) == self._recent.maxlen and loud and total_in > total_out * 10 ** (
                self.config.converged_db / 10):
            self.converged = True
            log.info("echo canceller converged: %.0f dB", 10 * np.log10(total_in / (total_out + 1.0)))

    @property
    def erle_db(self) -> float:
        """Echo return loss enhancement over everything processed while the speaker played."""
        return 10 * float(np.log10((self.energy_in + 1.0) / (self.energy_out + 1.0)))

    # -- alignment ----
    def _remember(self, pos: int, pcm: np.ndarray) -> None:
        if self._mic_hist and self._mic_hist[-1][0] + len(self._mic_hist[-1][1]) != pos:
            self._mic_hist.clear()  # a gap (rest, device change): the history no longer lines up
            self._mic_hist_len = 0
        self._mic_hist.append((pos, pcm))
        self._mic_hist_len += len(pcm)
        limit = round(self.config.window_s * RATE)
        while self._mic_hist_len - len(self._mic_hist[0][1]) >= limit:
            self._mic_hist_len -= len(self._mic_hist.popleft()[1])

    def _maybe_estimate(self, end: int) -> None:
        c = self.config
        window = round(c.window_s * RATE)
        # Until locked, look often while the speaker plays, unless two seconds of looks found no echo at all
        # (headphones not declared, a muted speaker): then once a second, as when locked.
        looks = round(2.0 / c.search_every_s)
        searching = not self.converged and not (
            len(self.estimates) >= looks and all(e.confidence < c.min_confidence for e in self.estimates[-looks:]))
        every = c.search_every_s if searching else c.every_s
        due = end - self._last_estimate_pos >= every * RATE
        if self._estimating or not due or self._mic_hist_len < window or not self._mic_hist:
            return
        m0 = self._mic_hist[0][0]
        lag_lo, lag_hi = round(c.lag_lo_s * RATE), round(c.lag_hi_s * RATE)
        if self._far_loud_end < m0 - lag_hi:
            return  # nothing played lately: nothing to correlate
        far = self.far.read(m0 - lag_hi, self._mic_hist_len + lag_hi - lag_lo)
        self._last_estimate_pos = end
        mic = np.concatenate([pcm for _, pcm in self._mic_hist])
        if not self._off_loop:
            self._accept(estimate_lag(mic, far, lag_lo, lag_hi))
            return
        self._estimating = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, estimate_lag, mic, far, lag_lo, lag_hi)
        future.add_done_callback(self._estimated)

    def _estimated(self, future: asyncio.Future[LagEstimate]) -> None:
        self._estimating = False
        if not future.cancelled() and future.exception() is None:
            self._accept(future.result())

    def _accept(self, estimate: LagEstimate) -> None:
        """Follows the echo path's lag. Small moves (the two streams' sample clocks drift apart: about 3 samples a
        second on the test devices) are followed a few samples at a time, which AEC3 absorbs; a jump (another device, a
        re-anchored timeline) is taken only when two confident estimates in a row agree, and restarts the
        filter: AEC3 re-converges from scratch in well under a second but takes seconds to follow a jump."""
        previous = self.estimates[-1] if self.estimates else None
        self.estimates.append(estimate)
        del self.estimates[:-50]
        if estimate.confidence < self.config.min_confidence:
            return
        follow = RATE * self.config.follow_ms / 1000
        if self.lag is not None and abs(estimate.lag - self.lag) <= follow:
            # Toward the median of the latest confident estimates (one estimate can be off by tens of samples),
            # a few samples at a time: the clocks drift by a few a second, and any step moves the reference
            # under AEC3's adapted filter (a 21-sample step leaked a burst the server took for speech).
            recent = [e.lag for e in self.estimates[-3:]
                      if e.confidence >= self.config.min_confidence and abs(e.lag - self.lag) <= follow]
            step = round(float(np.median(recent))) - self.lag
            self.lag += max(-self.config.follow_step, min(self.config.follow_step, step))
            return
        agreed = previous is not None and previous.confidence >= self.config.min_confidence
        if not agreed or abs(previous.lag - estimate.lag) > RATE * 0.005:  # type: ignore[union-attr]
            if self.lag is not None and self.converged and estimate.confidence >= self.config.moved_confidence:
                # The echo moved (another stream opened on the device, a Bluetooth link's buffer grew): what is
                # aligned to the old lag leaks. Stop vouching now and look again soon; the next estimate agreeing
                # takes the new lag.
                log.info("echo path moved %.0f ms: re-checking before vouching again",
                         (estimate.lag - self.lag) * 1000 / RATE)
                self.converged = False
                self._recent.clear()
            return
        log.info("echo path lag %.0f ms (confidence %.2f)", estimate.lag * 1000 / RATE, estimate.confidence)
        self.lag = estimate.lag
        self._restart()


def attach_canceller(engine: AudioEngine, guard: EchoGuard,
                     backend: Callable[[], CancellerBackend | None] = load_backend) -> Callable[[], None]:
    """Puts a canceller on the engine's capture path, fed with its playback, and hands it to the guard (which
    then stops gating while the canceller is active). Returns a function that detaches it."""
    chosen = backend()
    if chosen is None:
        return lambda: None
    canceller = EchoCanceller(chosen)
    canceller.enabled = guard.config.enabled
    guard.canceller = canceller
    canceller.pull_far_end = engine.playback.collect
    engine.capture.processor = canceller.process
    unlisten = engine.playback.add_block_listener(canceller.note_playback)

    def detach() -> None:
        engine.capture.processor = None
        guard.canceller = None
        unlisten()

    return detach

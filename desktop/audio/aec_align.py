"""The far-end reference for the echo canceller: what the speaker played, on the capture's time axis.

Both PortAudio streams stamp their blocks on one clock (the output's DAC time, the input's ADC time), so a
microphone sample captured at time t contains the echo of what was played at about t - acoustic delay. In
practice the two stamps can disagree by a lot (through ALSA's PulseAudio plugin they differ by about half a
second), so the timestamps only give a first guess. `FarEnd` keeps the played audio (24 kHz int16) indexed by DAC
time, and `estimate_lag` finds the real offset by cross-correlating the microphone with it (an FFT over a
couple of seconds, run off the GUI thread). The canceller's own delay estimation (AEC3's matched filters) then
only has to refine a lag known to within a few tens of ms.

Qt-free, pure numpy."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

RATE = 24000
log = logging.getLogger(__name__)


class FarEnd:
    """A timeline of played samples: position p holds the sample whose DAC time is about p / RATE seconds.

    DAC stamps jitter (by a few ms, and on a loaded machine through PulseAudio's ALSA plugin by up to a tenth of
    a second), and the reference must not: positions come from the output stream's own frame count (which also
    counts the silent blocks between replies), tied to the DAC clock by an offset taken from the stamps when the
    stream starts (its count restarts), and moved only when they step away by more than `reanchor_s` for
    `confirm` blocks in a row (an underrun the device filled with silence of its own) or at once by more than
    `jump_s` (a rest); see `Anchor`. A single late stamp moves nothing. Without a frame count, blocks are laid
    back to back and gaps are taken from the stamps the same way. `anchors` counts the anchorings: the canceller
    re-checks its alignment after each. Only the last `keep_s` seconds are kept."""

    def __init__(self, keep_s: float = 4.0, reanchor_s: float = 0.015, jump_s: float = 0.25,
                 confirm: int = 3) -> None:
        self._size = int(keep_s * RATE)
        self._buf = np.zeros(self._size, dtype=np.int16)
        self._end = 0  # absolute position one past the newest sample
        self._anchor = Anchor(reanchor_s, jump_s, confirm)
        self._next_frame = -1  # the frame count the stream's next block should carry
        self.anchors = 0  # how often the timeline was (re-)anchored on a DAC time

    @property
    def doubtful(self) -> bool:
        return self._anchor.doubtful

    @property
    def end(self) -> int:
        return self._end

    def write(self, samples: np.ndarray, dac_time: float, frame: int = -1) -> None:
        """`frame`: the output stream's count of (24 kHz) frames before this block, or -1 if unknown."""
        if not len(samples):
            return
        stamped = round(dac_time * RATE)
        if frame < 0:  # no count from the stream: blocks are counted here, back to back
            frame = self._next_frame if self._next_frame >= 0 else 0
        restarted = frame != self._next_frame  # the first block, or a new stream (a reopen) counting from 0 again
        self._next_frame = frame + len(samples)
        count = frame
        if self._anchor.check(stamped, count, restarted):
            self.anchors += 1
        start = count + self._anchor.offset
        if start > self._end:  # a pause between replies (or the first block): the gap held silence
            self._clear(self._end, start)
        n = len(samples)
        if n >= self._size:
            samples, start = samples[-self._size:], start + n - self._size
            n = self._size
        self._put(start, samples[:n])
        self._end = max(self._end, start + n)

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start+n) of the timeline; silence where nothing (known) was played."""
        out = np.zeros(n, dtype=np.int16)
        lo = max(start, self._end - self._size)
        hi = min(start + n, self._end)
        while hi > lo:  # at most two slices of the ring
            at = lo % self._size
            take = min(hi - lo, self._size - at)
            out[lo - start: lo - start + take] = self._buf[at: at + take]
            lo += take
        return out

    def reset(self) -> None:
        self._buf[:] = 0
        self._end = 0
        self._next_frame = -1
        self._anchor = Anchor(self._anchor.small / RATE, self._anchor.jump / RATE, self._anchor.confirm)

    def _clear(self, lo: int, hi: int) -> None:
        lo = max(lo, hi - self._size)
        if hi > lo:
            self._put(lo, np.zeros(hi - lo, dtype=np.int16))

    def _put(self, start: int, samples: np.ndarray) -> None:
        done = 0
        while done < len(samples):  # at most two slices of the ring
            at = (start + done) % self._size
            take = min(len(samples) - done, self._size - at)
            self._buf[at: at + take] = samples[done: done + take]
            done += take


class Anchor:
    """Ties a stream's sample count to the PortAudio clock: a stream position is its count plus `offset`.

    Stamps jitter and counts do not, so the offset stays put; the two clocks drift apart slowly (a few samples a
    second, absorbed by the echo path's lag), which `trend` follows. A stamp further than `small` from the trend
    makes the anchor doubtful; `confirm` such stamps in a row are a real discontinuity (an underrun, lost
    blocks): the offset moves by that step only. A step over `jump`, or a restarted count, anchors afresh."""

    def __init__(self, small_s: float = 0.015, jump_s: float = 0.25, confirm: int = 3) -> None:
        self.small, self.jump, self.confirm = round(small_s * RATE), round(jump_s * RATE), confirm
        self.offset = 0
        self.trend = 0.0  # where the stamps sit relative to the offset lately (the clocks' drift)
        self._set = False
        self._strikes = 0

    @property
    def doubtful(self) -> bool:
        """The latest stamps disagree with the trend, not yet often enough to move the offset: a late stamp, or
        the start of a real discontinuity. Until it is settled either way, nothing aligned on it can be trusted."""
        return self._strikes > 0

    def check(self, stamped: int, count: int, restarted: bool = False) -> bool:
        """Takes one stamp; True when the offset moved."""
        off = stamped - count - self.offset
        step = off - self.trend
        if self._set and not restarted and abs(step) <= self.jump:
            if abs(step) <= self.small:
                self._strikes = 0
                self.trend += 0.05 * step
                return False
            self._strikes += 1
            if self._strikes < self.confirm:
                return False
            self.offset += round(step)
            self._strikes = 0
            log.debug("stream clock stepped %+.1f ms: re-anchored", step * 1000 / RATE)
            return True
        if self._set:
            log.debug("re-anchored on the PortAudio clock: %+.1f ms", off * 1000 / RATE)
        self.offset, self.trend, self._set, self._strikes = stamped - count, 0.0, True, 0
        return True


@dataclass(frozen=True)
class LagEstimate:
    lag: int  # samples: the echo of far-end position p is in the microphone at position p + lag
    confidence: float  # normalised correlation peak, 0..1


def estimate_lag(mic: np.ndarray, far: np.ndarray, lag_lo: int, lag_hi: int, decimate: int = 3) -> LagEstimate:
    """The lag in [lag_lo, lag_hi] at which the far end best explains the microphone.

    `mic` covers timeline positions [m0, m0 + M); `far` must cover [m0 - lag_hi, m0 + M - lag_lo), so that
    mic[i] ~ far[i + lag_hi - lag]. Whitened cross-spectrum (PHAT weighting), so speech's strong low frequencies
    do not smear the peak; costs a few ms for 2 s of audio (run it off the GUI thread)."""
    if decimate > 1:
        mic, far = _decimate(mic, decimate), _decimate(far, decimate)
    span = (lag_hi - lag_lo) // decimate
    n = 1 << int(np.ceil(np.log2(len(mic) + len(far))))
    cross = np.fft.rfft(far, n) * np.conj(np.fft.rfft(mic, n))
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.irfft(cross, n)[: span + 1]  # corr[k] = sum far[i + k] * mic[i]
    k = int(np.argmax(corr))
    spread = float(np.std(corr)) + 1e-12
    confidence = float(min(1.0, max(0.0, (float(corr[k]) / spread - 5.0) / 15.0)))
    return LagEstimate(lag_hi - k * decimate, confidence)


def _decimate(x: np.ndarray, factor: int) -> np.ndarray:
    """A crude anti-aliased decimation (moving average then pick): enough for a correlation peak."""
    x = x.astype(np.float32)
    kernel = np.ones(factor, dtype=np.float32) / factor
    return np.convolve(x, kernel, mode="same")[::factor]

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

from dataclasses import dataclass

import numpy as np

RATE = 24000


class FarEnd:
    """A timeline of played samples: position p holds the sample whose DAC time is about p / RATE seconds.

    DAC stamps jitter by a few ms, and the reference must not: positions come from the output stream's own
    frame count (which also counts the silent blocks between replies), tied to the DAC clock by an offset taken
    from the stamps once, and again only when they disagree by more than `reanchor_s` (a rest, a device
    change, an underrun that the device filled with silence of its own). Without a frame count, blocks are
    laid back to back and gaps are taken from the stamps. Only the last `keep_s` seconds are kept."""

    def __init__(self, keep_s: float = 4.0, reanchor_s: float = 0.05) -> None:
        self._size = int(keep_s * RATE)
        self._buf = np.zeros(self._size, dtype=np.int16)
        self._end = 0  # absolute position one past the newest sample
        self._reanchor = int(reanchor_s * RATE)
        self._offset: int | None = None  # timeline position minus stream frame (24 kHz)
        self.anchors = 0  # how often the timeline was re-anchored on a DAC time (tests, diagnostics)

    @property
    def end(self) -> int:
        return self._end

    def write(self, samples: np.ndarray, dac_time: float, frame: int = -1) -> None:
        """`frame`: the output stream's count of (24 kHz) frames before this block, or -1 if unknown."""
        stamped = round(dac_time * RATE)
        if frame >= 0:
            expected = frame + self._offset if self._offset is not None else None
        else:
            expected = self._end if self._end else None
        if expected is None or abs(stamped - expected) > self._reanchor:
            start = stamped
            self._offset = stamped - frame if frame >= 0 else None
            self.anchors += 1
        else:
            start = expected
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
        self._offset = None

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

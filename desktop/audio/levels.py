"""Levels and waveform summaries shared by capture and playback, so the UI draws both sides the same way.

Computed on the asyncio thread from copies the audio callbacks made, never inside a callback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FULL_SCALE = 32768.0


@dataclass(frozen=True)
class Level:
    """One block's loudness (int16 units) and a decimated min/max envelope for drawing.

    `time` is the PortAudio stream time the block's first sample met the converter (ADC time for the mic, DAC
    time for the speaker): the echo guard aligns the two by it. `monotonic` is the same instant on
    time.monotonic()."""

    time: float
    monotonic: float
    rms: float
    peak: int
    mins: np.ndarray
    maxs: np.ndarray

    @property
    def rms_dbfs(self) -> float:
        return 20.0 * float(np.log10(max(self.rms, 1.0) / FULL_SCALE))


def rms_peak(pcm: np.ndarray) -> tuple[float, int]:
    if len(pcm) == 0:
        return 0.0, 0
    wide = pcm.astype(np.float32)
    return float(np.sqrt(np.mean(wide * wide))), int(np.max(np.abs(pcm.astype(np.int32))))


def envelope(pcm: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of `bins` equal slices: enough to draw a waveform without shipping every sample."""
    if len(pcm) == 0 or bins <= 0:
        empty = np.zeros(0, dtype=np.int16)
        return empty, empty
    bins = min(bins, len(pcm))
    usable = len(pcm) - len(pcm) % bins
    shaped = pcm[:usable].reshape(bins, -1)
    return shaped.min(axis=1).astype(np.int16), shaped.max(axis=1).astype(np.int16)


def measure(pcm: np.ndarray, time: float, monotonic: float, bins: int = 8) -> Level:
    rms, peak = rms_peak(pcm)
    mins, maxs = envelope(pcm, bins)
    return Level(time=time, monotonic=monotonic, rms=rms, peak=peak, mins=mins, maxs=maxs)


def measure_blocks(pcm: np.ndarray, lengths: list[int], times: list[float], monotonics: list[float],
                   bins: int = 8) -> list[Level]:
    """Levels of consecutive blocks of `pcm`, as measure() gives each, in a few numpy calls for all of them
    when the blocks are of one length (the usual case: a fixed PortAudio block size)."""
    n = len(lengths)
    size = lengths[0] if n else 0
    if n == 0 or size == 0 or any(length != size for length in lengths) or size % bins or len(pcm) != n * size:
        levels, start = [], 0
        for length, at, mono in zip(lengths, times, monotonics, strict=True):
            levels.append(measure(pcm[start : start + length], at, mono, bins))
            start += length
        return levels
    shaped = pcm.reshape(n, size)
    wide = shaped.astype(np.float32)
    rms = np.sqrt(np.mean(wide * wide, axis=1))
    peaks = np.max(np.abs(shaped.astype(np.int32)), axis=1)
    binned = shaped.reshape(n, bins, size // bins)
    mins, maxs = binned.min(axis=2), binned.max(axis=2)
    return [Level(time=times[i], monotonic=monotonics[i], rms=float(rms[i]), peak=int(peaks[i]), mins=mins[i],
                  maxs=maxs[i]) for i in range(n)]

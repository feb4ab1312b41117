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

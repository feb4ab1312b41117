"""A preallocated ring of audio blocks between a PortAudio callback thread and the asyncio thread.

The callback side only copies samples into memory allocated up front and records three timestamps; the reader
takes everything new in one go under the same short lock. When the reader falls a whole ring behind, new
blocks are dropped and counted rather than overwriting what is being read."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RingBlock:
    samples: np.ndarray  # a copy, owned by the reader
    adc_time: float  # PortAudio time of the first sample at the converter
    monotonic: float  # the same instant on time.monotonic()
    callback_monotonic: float  # when the callback ran (for latency figures)
    stream_frame: int = -1  # the stream's own count of frames before this block, when the writer keeps one


class BlockRing:
    def __init__(self, capacity_frames: int, max_blocks: int, dtype: type[np.generic] = np.int16) -> None:
        self._data = np.zeros(capacity_frames, dtype=dtype)
        self._starts = np.zeros(max_blocks, dtype=np.int64)
        self._lengths = np.zeros(max_blocks, dtype=np.int64)
        self._times = np.zeros((max_blocks, 3), dtype=np.float64)
        self._frames = np.full(max_blocks, -1, dtype=np.int64)
        self._lock = threading.Lock()
        self._write_frame = 0  # absolute frame counters; positions are taken modulo the capacity
        self._read_frame = 0
        self._write_block = 0
        self._read_block = 0
        self.dropped_blocks = 0

    def write(
        self, samples: np.ndarray, adc_time: float, monotonic: float, callback_monotonic: float,
        stream_frame: int = -1,
    ) -> bool:
        """Called on the audio thread: copies only. False when the ring is full and the block was dropped."""
        n = len(samples)
        capacity = len(self._data)
        with self._lock:
            if (
                self._write_frame - self._read_frame + n > capacity
                or self._write_block - self._read_block >= len(self._starts)
            ):
                self.dropped_blocks += 1
                return False
            start = self._write_frame % capacity
            first = min(n, capacity - start)
            self._data[start : start + first] = samples[:first]
            if first < n:
                self._data[: n - first] = samples[first:]
            slot = self._write_block % len(self._starts)
            self._starts[slot] = self._write_frame
            self._lengths[slot] = n
            self._times[slot, 0] = adc_time
            self._times[slot, 1] = monotonic
            self._times[slot, 2] = callback_monotonic
            self._frames[slot] = stream_frame
            self._write_frame += n
            self._write_block += 1
            return True

    def read(self) -> list[RingBlock]:
        """Called on the reader thread: every block written since the last read, as copies."""
        capacity = len(self._data)
        blocks: list[RingBlock] = []
        with self._lock:
            while self._read_block < self._write_block:
                slot = self._read_block % len(self._starts)
                start = int(self._starts[slot]) % capacity
                n = int(self._lengths[slot])
                first = min(n, capacity - start)
                samples = np.empty(n, dtype=self._data.dtype)
                samples[:first] = self._data[start : start + first]
                if first < n:
                    samples[first:] = self._data[: n - first]
                adc, mono, cb = (float(v) for v in self._times[slot])
                blocks.append(RingBlock(samples, adc, mono, cb, int(self._frames[slot])))
                self._read_block += 1
                self._read_frame = int(self._starts[slot]) + n
        return blocks

    def clear(self) -> None:
        with self._lock:
            self._read_frame = self._write_frame
            self._read_block = self._write_block

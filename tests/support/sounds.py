"""Test sounds: real speech from espeak-ng (cached per session), tones, and WAV files through the stdlib
`wave`.

Speech rather than noise, because the capture path is judged on what it will carry in use: voice energy and
duration."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from functools import cache
from pathlib import Path

import numpy as np

_CACHE = Path(tempfile.mkdtemp(prefix="parley-sounds-"))


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """Returns (mono int16 samples, rate); a stereo file keeps its first channel."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit WAV is supported")
        channels = wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
        rate = wav.getframerate()
    if channels > 1:
        data = data.reshape(-1, channels)[:, 0].copy()
    return data, rate


def write_wav(path: Path | str, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return Path(path)


def tone(freq: float, seconds: float, rate: int = 24000, amplitude: float = 0.5) -> np.ndarray:
    """A sine as int16 with 5 ms ramps, so its own edges do not splatter energy into the FFT checks."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    signal = np.sin(2 * np.pi * freq * t) * amplitude
    ramp = min(n // 2, round(0.005 * rate))
    if ramp:
        edge = np.linspace(0.0, 1.0, ramp)
        signal[:ramp] *= edge
        signal[-ramp:] *= edge[::-1]
    return np.round(signal * 32767).astype(np.int16)


def silence(seconds: float, rate: int = 24000) -> np.ndarray:
    return np.zeros(round(seconds * rate), dtype=np.int16)


@cache
def speech_wav(text: str = "Hello Parley, this is a test of the microphone.", rate: int = 24000) -> Path:
    """espeak-ng speech resampled to `rate` with sox; cached for the session (espeak takes a noticeable
    moment)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed: install the apt package espeak-ng")
    raw = _CACHE / f"speech-{abs(hash(text))}-raw.wav"
    subprocess.run([espeak, "-w", str(raw), text], check=True, capture_output=True, timeout=60)
    samples, native = read_wav(raw)
    if native == rate:
        return raw
    import soxr

    resampled = soxr.resample(samples.astype(np.float32) / 32768.0, native, rate)
    out = _CACHE / f"speech-{abs(hash(text))}-{rate}.wav"
    return write_wav(out, np.clip(np.round(resampled * 32767), -32768, 32767).astype(np.int16), rate)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64))))) if len(samples) else 0.0


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency (Hz) via a Hann-windowed FFT."""
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(x))


def active_span(
    samples: np.ndarray, rate: int, threshold: float = 500.0, block_s: float = 0.005
) -> tuple[int, int]:
    """(first, end) sample indexes of the region whose 5 ms blocks exceed `threshold` RMS; (0, 0) if none."""
    block = max(1, round(block_s * rate))
    n = len(samples) // block
    if n == 0:
        return 0, 0
    blocks = samples[: n * block].astype(np.float64).reshape(n, block)
    loud = np.flatnonzero(np.sqrt(np.mean(blocks * blocks, axis=1)) > threshold)
    if len(loud) == 0:
        return 0, 0
    return int(loud[0] * block), int((loud[-1] + 1) * block)

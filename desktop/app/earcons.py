"""Earcons: a short rising chirp when Parley starts listening and a falling one when it stops (optional).

They are played by the system's own player as a separate stream of the sound server (paplay/pw-play/aplay on
Linux, afplay on macOS, winsound on Windows), never through Parley's playback: the assistant's played-sample
clock, which decides how much of a reply was heard when it is interrupted, never sees them. Qt-free.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RATE = 24_000
SECONDS = 0.09
LEVEL = 0.2  # of full scale: a cue, not an alarm (and a quiet one for a microphone near the speakers)
SWEEPS = {"start": (660.0, 1320.0), "stop": (1320.0, 660.0)}
PLAYERS = (("paplay", ()), ("pw-play", ()), ("aplay", ("-q",)))  # Linux, in order of preference


def tone(kind: str) -> np.ndarray:
    """The earcon as int16 samples at 24 kHz: a sine sweep with 10 ms fades (no clicks)."""
    low, high = SWEEPS[kind]
    n = int(RATE * SECONDS)
    t = np.arange(n) / RATE
    frequency = low + (high - low) * t / SECONDS
    phase = 2 * np.pi * np.cumsum(frequency) / RATE
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * RATE))
    return (np.sin(phase) * fade * LEVEL * 32767).astype(np.int16)


def wav_bytes(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def player_command(path: Path, platform: str = sys.platform) -> list[str] | None:
    """The command that plays `path` here, or None (Windows plays in-process; nothing found elsewhere)."""
    if platform == "darwin":
        return ["afplay", str(path)]
    if platform == "win32":
        return None
    for name, options in PLAYERS:
        found = shutil.which(name)
        if found:
            return [found, *options, str(path)]
    return None


class Earcons:
    def __init__(self) -> None:
        self._files: dict[str, Path] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.played: list[str] = []  # what was started, in order (the status line and tests read it)

    def play(self, kind: str) -> None:
        """Starts the earcon without waiting for it (the file is written once, off the GUI thread)."""
        task = asyncio.ensure_future(self._play(kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(self, kind: str) -> None:
        path = self._files.get(kind)
        if path is None:
            path = await asyncio.to_thread(_write, kind)
            self._files[kind] = path
        self.played.append(kind)
        if sys.platform == "win32":
            import winsound

            await asyncio.to_thread(winsound.PlaySound, str(path), winsound.SND_FILENAME | winsound.SND_ASYNC)
            return
        command = player_command(path)
        if command is None:
            log.info("no sound player found for earcons (paplay, pw-play or aplay)")
            return
        process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
        await process.wait()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _write(kind: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "parley-earcons"
    folder.mkdir(exist_ok=True)
    path = folder / f"{kind}.wav"
    data = wav_bytes(tone(kind))
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path

"""Tells when the user talks over the assistant, from the microphone alone (hands-free mode).

Silero (desktop/audio/voice_activity.py) runs on one worker thread, about 0.5 ms per 32 ms frame, so the event
loop's thread only compares numbers; chunks the quiet gates settle (most of them: room noise) are judged in place,
without the trip to the worker. Speech is then weighed against the echo guard, so the assistant's own voice
coming back through the speakers never counts as the user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from desktop.audio.capture import AudioChunk
from desktop.audio.echo_guard import EchoGuard
from desktop.audio.voice_activity import FRAME_16K, VoiceActivity

FRAME_S = FRAME_16K / 16000  # what one of the detector's decisions covers


class BargeInDetector:
    def __init__(self, guard: EchoGuard, vad: VoiceActivity | None = None) -> None:
        self.guard = guard
        self._vad = vad if vad is not None else VoiceActivity()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parley-vad")

    async def user_speaks(self, chunk: AudioChunk, interruptible: Callable[[], bool]) -> bool:
        """Feeds one microphone chunk (every chunk, in order: the detector keeps state across them). True when
        it holds the user's own speech and, once judged, `interruptible()` says there is a reply to cut off."""
        if self._vad.take(chunk.pcm):
            frames = await asyncio.get_running_loop().run_in_executor(self._pool, self._vad.judge)
        else:
            frames = self._vad.judge()
        if not frames or not interruptible():
            return False
        return self.guard.is_user(chunk.adc_time, max(f.rms for f in frames), any(f.speech for f in frames),
                                  seconds=len(frames) * FRAME_S)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""Resting the audio streams when nothing needs them, and waking them on demand.

Why: an open stream costs CPU even in silence (PortAudio's thread wakes every block, and through the
ALSA->PulseAudio plugin that is a few % of a core per stream), and an open microphone keeps the system's
"microphone in use" indicator lit while the user is not talking. A stopped stream restarts in milliseconds
(a freshly opened one can take seconds through PulseAudio), so a rest is cheap to undo. What a rest costs is the
pre-roll of the first push-to-talk press after it: the audio from just before the press is not there.

The policy runs on the asyncio loop with one timer, and no timer at all once both streams rest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Standby:
    """Rests the microphone when `mic_needed()` has been false, and the speaker when it has had nothing to play,
    for `rest_after_s` since the last activity(). A rest_after_s of 0 disables resting."""

    def __init__(self, engine: Any, rest_after_s: float, mic_needed: Callable[[], bool]) -> None:
        self._engine = engine  # desktop.audio.engine.AudioEngine (duck-typed: capture and playback)
        self.rest_after_s = rest_after_s
        self._mic_needed = mic_needed
        self._last_activity = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def activity(self) -> None:
        """Something happened that may need audio soon (a turn state change, a press): the rest clock restarts."""
        self._last_activity = time.monotonic()
        self._arm(self.rest_after_s)

    def wake_mic(self) -> None:
        """The user may talk now (a press, the window came to the front, hands-free mode): restart the mic."""
        self.activity()
        if self._engine.capture.is_resting:
            self._spawn(self._engine.capture.wake())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()

    def _arm(self, delay: float) -> None:
        if self.rest_after_s <= 0 or self._timer is not None:
            return
        self._timer = asyncio.get_running_loop().call_later(max(0.05, delay), self._check)

    def _check(self) -> None:
        self._timer = None
        quiet_for = time.monotonic() - self._last_activity
        if quiet_for < self.rest_after_s:
            self._arm(self.rest_after_s - quiet_for)
            return
        capture, playback = self._engine.capture, self._engine.playback
        busy = False
        if capture.is_open and not capture.is_resting:
            if self._mic_needed():
                busy = True
            else:
                self._spawn(capture.rest())
                log.info("microphone resting after %.0f s unused", quiet_for)
        if playback.is_open and not playback.is_resting:
            if playback.is_idle:
                self._spawn(playback.rest())
                log.info("speaker resting after %.0f s unused", quiet_for)
            else:
                busy = True
        if busy:
            self._arm(self.rest_after_s)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("resting or waking the audio failed", exc_info=task.exception())

"""Where each microphone chunk goes: to the window's waveform, to the session (which sends it only while a turn is
open), and in hands-free mode to the local voice detector that lets the user cut the assistant off.

On loudspeakers with no active echo canceller the server hears silence while the assistant speaks (it would take
the echo for the user); after a local barge-in it gets the real audio of the stretch it heard as silence, so the
first words of the interruption are not lost. The controller owns one router and only wires it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the audio package loads lazily; the controller imports this module
    from desktop.app.controller import Controller
    from desktop.audio.barge_in import BargeInDetector
    from desktop.audio.echo_guard import EchoGuard
    from desktop.audio.engine import AudioEngine

log = logging.getLogger(__name__)

NOT_SILENT = 1 << 62  # silent_from while the server hears the microphone itself


class MicRouter:
    def __init__(self, controller: Controller) -> None:
        self._c = controller
        self.guard: EchoGuard | None = None  # set once audio is open
        self.detector: BargeInDetector | None = None  # hands-free: the user talking over the assistant
        self.position = 0  # 24 kHz sample index handed to the session so far
        self.silent_from = NOT_SILENT  # sample index where the server began hearing silence (the echo gate)

    async def pump(self, audio: AudioEngine) -> None:
        """Until the capture's tap ends (the stream closed or the app quits)."""
        c = self._c
        tap = audio.capture.open_tap(preroll=False)
        try:
            async for chunk in tap:
                live = c.talk_held or c.hands_free
                if live:
                    c.mic_samples.emit(chunk.pcm)
                if c.hands_free and self.detector is not None:
                    user = await self.detector.user_speaks(chunk, lambda: c.turn_state in ("speaking", "thinking"))
                    if user and c.barge_in("local_vad"):
                        self._send_preroll(before=chunk.index)
                self.position = chunk.index + len(chunk.pcm)
                if c.driver is not None and live:  # a closed turn would drop it anyway: skip the copy
                    gated = self.echo_gated()
                    c.driver.audio(bytes(len(chunk.pcm) * 2) if gated else chunk.data)
                    self.silent_from = min(self.silent_from, chunk.index) if gated else NOT_SILENT
        finally:
            tap.close()

    def echo_gated(self) -> bool:
        """Hands-free on loudspeakers with no active echo canceller: while the assistant speaks (or a timer
        chimes) the server hears silence until the local guard hears the user speak."""
        c = self._c
        return (c.hands_free and self.guard is not None and self.guard.gating
                and (c.turn_state == "speaking" or c.timers.chiming))

    def _send_preroll(self, before: int) -> None:
        """After a local barge-in: the audio the server heard as silence, never what it already heard."""
        c = self._c
        if c.driver is None or c.audio is None:
            return
        for chunk in c.audio.capture.preroll(before):
            if self.silent_from <= chunk.index:
                c.driver.audio(chunk.data, preroll=True)

    def send_press_preroll(self) -> None:
        """Push-to-talk pressed: the pre-roll the pump handed on while the turn was closed (the first syllable
        spoken just before the key)."""
        c = self._c
        if c.hands_free or c.audio is None or c.driver is None:
            return
        for chunk in c.audio.capture.preroll():
            if chunk.index < self.position:
                c.driver.audio(chunk.data, preroll=True)

    def prepare_detector(self) -> None:
        """Hands-free needs the local detector; it loads once (a model file), and the server's detection still
        works without it."""
        if not self._c.hands_free or self.detector is not None or self.guard is None:
            return
        try:
            from desktop.audio.barge_in import BargeInDetector

            self.detector = BargeInDetector(self.guard)
        except Exception as exc:
            log.warning("local voice detection unavailable: %s", exc)

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()

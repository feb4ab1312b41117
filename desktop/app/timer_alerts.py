"""What happens when a timer or reminder fires: a desktop notification and a short chime, with or without the
window (hidden, minimised or behind others), and the timers' list for the window.

Notification: `notify(title, body)` is the seam for the desktop Notifier (desktop/app/notifications.py,
`Notifier.notify`); without one, the alert is logged and emitted as `alerted` (the window shows it).

The chime is generated (two decaying bell notes, 24 kHz PCM16, under a second) and played through the app's own
Playback as an item of its own (`timer-alert-N`). It plays only when the player is idle, i.e. no reply is
queued or unfinished, else it waits until the reply is over. Why: Playback has ONE queue shared by all items, in
feed order. A chime fed while a reply plays would be queued between two of the reply's deltas, so the user would
hear it in the middle of a sentence and the rest of the reply would be pushed back; and a barge-in's stop()
cuts every unfinished item, the chime included. The reply's played-sample clock itself stays exact either way
(each item counts only its own frames, at their own DAC times), so a reply that starts while a chime plays is
merely queued after it (under a second later) with its heard position still right.

The book (desktop/tools/timers.py) is made with the controller, so its tools are offered from the first
session.update; it reads its file at `start()` (off the GUI thread, after the window is shown) and until then
answers that the timers are still loading.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from desktop.audio.playback import Playback
    from desktop.tools.timers import Timer, TimerBook

log = logging.getLogger(__name__)

Notify = Callable[[str, str], None]
CHIME_RATE = 24000
CHIME_LONGEST_S = 3.0  # the chime (1 s) plus the output latency, with room for a slow start
RETRY_S = 0.25  # how often a waiting chime looks whether the player is free
GIVE_UP_WAITING_S = 30.0  # for a speaker to open or be free: an item left unfinished (a dropped connection)
# must not hold the chime forever


@functools.cache
def chime_pcm(rate: int = CHIME_RATE) -> bytes:
    """Two bell notes (B5 then G5 with soft overtones), each fading out, peaking at -9 dBFS: about 1 s."""
    import numpy as np

    length = int(rate * 1.0)
    t = np.arange(length, dtype=np.float64) / rate
    out = np.zeros(length)
    for start, frequency in ((0.0, 987.77), (0.28, 783.99)):
        local = t - start
        on = local >= 0
        envelope = np.where(on, np.exp(-np.clip(local, 0, None) / 0.22) * np.minimum(1.0, local / 0.004), 0.0)
        for partial, weight in ((1, 1.0), (2, 0.3), (3, 0.12)):
            out += envelope * weight * np.sin(2 * np.pi * frequency * partial * local)
    out *= 0.35 / np.max(np.abs(out))
    return (out * 32767).astype("<i2").tobytes()


def alert_text(timer: Timer, tz: dt.tzinfo | None = None) -> tuple[str, str]:
    """The notification's title and body: "Timer done" / "Your tea timer is done.", "Reminder" / the text; a
    late one says when it was due."""
    from desktop.core.timekeeping import timer_done_text

    if timer.kind == "reminder":
        title, body = "Reminder", timer.label[:1].upper() + timer.label[1:]
    else:
        title, body = "Timer done", timer_done_text(timer.label)
    if timer.late:
        due = timer.due.astimezone(tz) if tz is not None else timer.due.astimezone()
        day = "" if due.date() == dt.datetime.now(due.tzinfo).date() else f" on {due:%d %B}"
        body += f" (due at {due:%H:%M}{day}, while Parley was closed or the computer asleep)"
    return title, body


class TimerAlerts(QObject):
    alerted = Signal(str, str)  # title, body: every alert (and a timers file that could not be read)
    changed = Signal()  # timers set, cancelled or fired: the window's list redraws

    def __init__(self, playback: Callable[[], Playback | None], notify: Notify | None = None,
                 book: TimerBook | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notify = notify  # the seam for the desktop Notifier
        self._playback = playback
        self._book = book
        self._chime_waiting_since: float | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._chimes = 0
        self._chime_item: str | None = None
        self._chime_fed_at = 0.0
        self.alerts: list[tuple[str, str]] = []

    @property
    def book(self) -> TimerBook:
        """Created on first use (a test may give its own)."""
        if self._book is None:
            from desktop.tools.timers import TimerBook

            self._book = TimerBook()
        return self._book

    async def start(self) -> None:
        book = self.book
        book.on_fire = self.fire
        book.on_problem = lambda problem: self._alert("Timers could not be saved", problem)
        book.add_listener(self.changed.emit)
        await asyncio.get_running_loop().run_in_executor(None, chime_pcm)  # numpy work off the GUI thread, once
        await book.start()
        if book.problem:
            self._alert("Saved timers could not be read", book.problem)

    async def run(self) -> None:
        """Starts, then lives until cancelled (the app's end), and closes the book on the way out."""
        try:
            await self.start()
            await asyncio.Event().wait()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._book is not None:
            await self._book.aclose()

    def timers(self) -> list[Timer]:
        return self._book.timers() if self._book is not None and self._book.started else []

    def cancel(self, timer_id: str) -> None:
        if self._book is not None:
            self._book.cancel(timer_id)

    def cancel_all(self) -> None:
        if self._book is not None:
            self._book.cancel_all()

    # ------------------------------------------------------------------------------------------ alerts

    def fire(self, timer: Timer) -> None:
        """The book's on_fire: notify, then chime."""
        title, body = alert_text(timer, self.book.tz)
        self._alert(title, body)
        self.chime()

    def _alert(self, title: str, body: str) -> None:
        log.info("alert: %s: %s", title, body)
        self.alerts.append((title, body))
        self.alerted.emit(title, body)
        if self.notify is not None:
            try:
                self.notify(title, body)
            except Exception:
                log.exception("the desktop notification failed")

    def chime(self) -> None:
        """Plays the chime now if the player is free, else once it is (several alerts at once chime once)."""
        if self._chime_waiting_since is None:
            self._chime_waiting_since = time.monotonic()
        if self._retry is None:
            self._try_chime()

    def _try_chime(self) -> None:
        self._retry = None
        playback = self._playback()
        speaker = playback if playback is not None and playback.is_open else None
        waited = time.monotonic() - (self._chime_waiting_since or time.monotonic())
        if (speaker is None or not speaker.is_idle) and waited < GIVE_UP_WAITING_S:
            # Busy, or not open yet (a reminder missed while closed fires while the audio is still opening).
            with contextlib.suppress(RuntimeError):
                self._retry = asyncio.get_running_loop().call_later(RETRY_S, self._try_chime)
            return
        self._chime_waiting_since = None
        if speaker is None:
            return  # no speaker: the notification is the alert
        self._chimes += 1
        item_id = self._chime_item = f"timer-alert-{self._chimes}"
        self._chime_fed_at = time.monotonic()
        speaker.feed(item_id, chime_pcm())
        speaker.finish(item_id)

    @property
    def chiming(self) -> bool:
        """The chime is still on its way to the speaker (by the player's DAC clock): hands-free, the server must
        not hear its echo, or its voice detection would take the bell for the user starting to talk."""
        playback = self._playback() if self._chime_item is not None else None
        if playback is None or self._chime_item is None:
            return False
        recent = time.monotonic() - self._chime_fed_at < CHIME_LONGEST_S  # a chime cut by a stop never ends
        if recent and playback.played_samples(self._chime_item) < playback.received_samples(self._chime_item):
            return True
        self._chime_item = None  # heard: the microphone's 25 chunks a second need not ask the player again
        return False

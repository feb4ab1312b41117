"""Timers and reminders the model can set, list and cancel, kept across a restart.

A `TimerBook` holds them. Scheduling is on the asyncio loop: one `loop.call_later` for the earliest due time,
capped at `recheck_s` so that a clock change or a suspended laptop is noticed within that time (the loop's clock
is monotonic and stops during suspend; the wall clock does not). When a timer falls due it leaves the book and
`on_fire(timer)` is called on the loop; one that fell due while Parley was closed fires at start, marked late.

Persistence: a small JSON file in the platform data folder (`timers.json`), rewritten whole after every change.
The text is made on the loop (microseconds for the few timers a person keeps) and written by one worker thread,
in order, atomically (a temporary file in the same folder, fsync, then rename), so the GUI thread never waits on
the disk. A file that cannot be read is set aside as `timers.json.bad` and the problem reported, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

from desktop.core.timekeeping import clock_text, describe_duration, due_at

log = logging.getLogger(__name__)

MAX_TIMER_S = 7 * 86400  # a week: longer is a reminder with a date
MAX_AHEAD = dt.timedelta(days=366)
MAX_TIMERS = 100
LATE_AFTER_S = 5.0  # fired this long after its due time: it is "late" (Parley was closed, or the PC asleep)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Timer:
    """A countdown ("timer", `seconds` long) or a reminder at a wall-clock time ("reminder"). `due` is aware UTC.
    `late` is set when it fired more than LATE_AFTER_S after `due`."""

    id: str
    kind: str
    label: str
    due: dt.datetime
    created: dt.datetime
    seconds: float | None = None
    late: bool = False

    @property
    def title(self) -> str:
        """"tea timer", "5-minute timer", "Reminder: call the dentist"."""
        if self.kind == "reminder":
            return f"Reminder: {self.label}"
        return f"{self.label} timer"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "due": self.due.isoformat(),
                "created": self.created.isoformat(), "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        due = dt.datetime.fromisoformat(str(data["due"]))
        created = dt.datetime.fromisoformat(str(data.get("created") or data["due"]))
        if due.tzinfo is None or created.tzinfo is None:
            raise ValueError("times must carry their UTC offset")
        kind = str(data.get("kind") or "timer")
        if kind not in ("timer", "reminder"):
            raise ValueError(f"unknown kind {kind!r}")
        seconds = data.get("seconds")
        return cls(str(data["id"]), kind, str(data.get("label") or ""), due.astimezone(dt.UTC),
                   created.astimezone(dt.UTC), float(seconds) if seconds is not None else None)


def default_path() -> Path:
    return Path(platformdirs.user_data_dir("parley", appauthor=False)) / "timers.json"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TimerBook:
    def __init__(self, path: Path | None = None, on_fire: Callable[[Timer], None] | None = None, *,
                 clock: Callable[[], dt.datetime] = _utc_now, tz: dt.tzinfo | None = None,
                 recheck_s: float = 30.0) -> None:
        """`clock` gives the aware current time; `tz` is the zone for local times (None: the system's)."""
        self.path = path if path is not None else default_path()
        self.on_fire = on_fire
        self.on_problem: Callable[[str], None] | None = None  # a save that failed, told on the loop
        self.clock = clock
        self.tz = tz
        self.recheck_s = recheck_s
        self.problem: str | None = None  # why the saved timers could not be read, for the app to show
        self._timers: dict[str, Timer] = {}
        self._listeners: list[Callable[[], None]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._last_write: Future[None] | None = None
        self._save_failed = False
        self._started = False
        self._closed = False

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Reads the saved timers (off the loop), then fires the overdue ones (late) and schedules the rest."""
        loop = asyncio.get_running_loop()
        saved, self.problem = await loop.run_in_executor(None, _read, self.path)
        if self.problem:
            log.warning("timers: %s", self.problem)
        for timer in saved:
            self._timers.setdefault(timer.id, timer)
        self._started = True
        self._notify()
        self._tick()

    async def aclose(self) -> None:
        """Stops scheduling and waits for the last write to reach the disk."""
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        last = self._last_write
        if last is not None:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(last)
        if self._writer is not None:
            self._writer.shutdown(wait=False)
            self._writer = None

    @property
    def started(self) -> bool:
        """The saved timers have been read: the book may change and be saved."""
        return self._started

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener()` after every change (set, cancel, fired); returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # ------------------------------------------------------------------------------------------ the book

    def timers(self) -> list[Timer]:
        """Every timer and reminder still to come, soonest first."""
        return sorted(self._timers.values(), key=lambda timer: (timer.due, timer.id))

    def get(self, timer_id: str) -> Timer | None:
        return self._timers.get(timer_id)

    def remaining_s(self, timer: Timer) -> float:
        return max(0.0, (timer.due - self.clock()).total_seconds())

    def add_timer(self, seconds: float, label: str = "") -> Timer:
        if not 0 < seconds <= MAX_TIMER_S:
            raise ValueError(f"a timer runs from 1 second to {MAX_TIMER_S // 86400} days; for later, set a "
                             "reminder at a date and time")
        now = self.clock()
        label = _clean(label) or describe_duration(seconds)
        return self._add(Timer(self._next_id(), "timer", label, now + dt.timedelta(seconds=seconds), now, seconds))

    def add_reminder(self, at: str, text: str) -> Timer:
        now = self.clock()
        due = due_at(at, now, self.tz).astimezone(dt.UTC)
        if due - now > MAX_AHEAD:
            raise ValueError("a reminder can be at most a year ahead")
        text = _clean(text)
        if not text:
            raise ValueError("say what the reminder is for (text)")
        return self._add(Timer(self._next_id(), "reminder", text, due, now))

    def cancel(self, timer_id: str) -> Timer | None:
        timer = self._timers.pop(timer_id, None)
        if timer is not None:
            self._changed()
        return timer

    def cancel_all(self) -> list[Timer]:
        gone = self.timers()
        self._timers.clear()
        if gone:
            self._changed()
        return gone

    def find(self, words: str) -> list[Timer]:
        """Timers whose id or label is `words` (case-insensitive), else whose label contains them."""
        wanted = _clean(words).lower().removeprefix("the ").removeprefix("my ")
        wanted = wanted.removesuffix(" timer").removesuffix(" reminder").strip()
        exact = [t for t in self.timers() if wanted in (t.id, t.label.lower())]
        return exact or [t for t in self.timers() if wanted and wanted in t.label.lower()]

    def due_text(self, timer: Timer) -> str:
        now = self.clock()
        zone = self.tz or now.astimezone().tzinfo
        return clock_text(timer.due, now.astimezone(zone))

    def _add(self, timer: Timer) -> Timer:
        if not self._started:  # saving now would overwrite the saved timers before they are read
            raise ValueError("the saved timers are still loading; try again in a moment")
        if len(self._timers) >= MAX_TIMERS:
            raise ValueError(f"there are already {MAX_TIMERS} timers; cancel some first")
        self._timers[timer.id] = timer
        self._changed()
        return timer

    def _next_id(self) -> str:
        numbers = [int(key) for key in self._timers if key.isdigit()]
        return str(max(numbers, default=0) + 1)

    # ------------------------------------------------------------------------------------------ firing

    def check(self) -> None:
        """Fires whatever is due now and reschedules: for a clock that jumped (the PC woke from sleep) or a test's
        injected clock. Call on the loop, after start()."""
        if self._handle is not None:
            self._handle.cancel()
        self._tick()

    def _tick(self) -> None:
        """Fires what is due and schedules the next look: at the earliest due time, at most recheck_s away."""
        self._handle = None
        if self._closed or not self._started:
            return
        now = self.clock()
        due = [timer for timer in self.timers() if timer.due <= now]
        for timer in due:
            del self._timers[timer.id]
        for timer in due:
            late = (now - timer.due).total_seconds() > LATE_AFTER_S
            self._fire(replace(timer, late=late))
        if due:
            self._save()
            self._notify()
        upcoming = self.timers()
        if upcoming and not self._closed:
            wait = min(self.recheck_s, max(0.0, (upcoming[0].due - self.clock()).total_seconds()))
            self._handle = asyncio.get_running_loop().call_later(wait, self._tick)

    def _fire(self, timer: Timer) -> None:
        log.info("timer %s (%s) fired%s", timer.id, timer.kind, " late" if timer.late else "")
        if self.on_fire is None:
            return
        try:
            self.on_fire(timer)
        except Exception:
            log.exception("a timer alert failed")

    def _changed(self) -> None:
        """After a set or cancel: save, tell the listeners, and look again at the next due time (soon, not from
        inside the caller)."""
        self._save()
        if self._started and not self._closed:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = None
            with contextlib.suppress(RuntimeError):  # no running loop: start() schedules
                asyncio.get_running_loop().call_soon(self._reschedule)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _reschedule(self) -> None:
        if self._handle is None:
            self._tick()

    # ------------------------------------------------------------------------------------------ the file

    def _save(self) -> None:
        text = json.dumps({"version": FORMAT_VERSION, "timers": [t.to_json() for t in self.timers()]}, indent=1)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="parley-timers")
        self._last_write = self._writer.submit(_write, self.path, text)
        loop = _running_loop()
        self._last_write.add_done_callback(lambda done: self._written(done, loop))

    def _written(self, done: Future[None], loop: asyncio.AbstractEventLoop | None) -> None:
        """On the writer thread: a failed save is logged and told on the loop (the timers still run)."""
        exc = done.exception()
        told, self._save_failed = self._save_failed, exc is not None
        if exc is None:
            return
        self.problem = f"timers could not be saved to {self.path}: {exc}"
        log.warning("%s", self.problem)
        if loop is not None and self.on_problem is not None and not told:  # once, until a save works again
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self.on_problem, self.problem)


def _clean(text: str) -> str:
    return " ".join(str(text).split())[:200]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".timers-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _read(path: Path) -> tuple[list[Timer], str | None]:
    """The saved timers and, when some or all could not be read, why. The file as it was is kept beside it as
    `timers.json.bad` (copied when only some entries were bad: the good ones are rewritten at the next save)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        return [], f"{path} could not be read: {exc}"
    bad = path.with_name(path.name + ".bad")
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("timers"), list):
            raise ValueError("no 'timers' list")
    except ValueError as exc:
        with contextlib.suppress(OSError):
            os.replace(path, bad)
        return [], f"saved timers in {path} were unreadable ({exc}); the file was kept as {bad.name}"
    timers, errors = [], []
    for entry in data["timers"]:
        try:
            timers.append(Timer.from_json(entry))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            errors.append(str(exc))
    if not errors:
        return timers, None
    with contextlib.suppress(OSError):
        shutil.copyfile(path, bad)
    return timers, (f"{len(errors)} of the saved timers in {path} could not be read ({errors[0]}); the file was "
                    f"kept as {bad.name}")

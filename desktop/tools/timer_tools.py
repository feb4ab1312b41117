"""The timer tools the model calls: set_timer, list_timers and cancel_timer over a TimerBook
(desktop/tools/timers.py). Their answers carry what the model needs to confirm aloud: the label, when it is
due in local time, and how long is left."""

from __future__ import annotations

from typing import Any

from desktop.core.timekeeping import describe_duration
from desktop.tools.registry import Tool
from desktop.tools.timers import Timer, TimerBook

SET_TIMER = "set_timer"
LIST_TIMERS = "list_timers"
CANCEL_TIMER = "cancel_timer"


def timer_tools(book: TimerBook) -> list[Tool]:
    """set_timer (first: the offline engine's brain uses the first tool about timers to start one), list_timers
    and cancel_timer, all answering with what the model needs to confirm aloud."""

    def entry(timer: Timer) -> dict[str, Any]:
        return {"id": timer.id, "kind": timer.kind, "label": timer.label, "due": book.due_text(timer),
                "remaining": describe_duration(book.remaining_s(timer), hyphen=False),
                "remaining_s": round(book.remaining_s(timer))}

    def set_timer(seconds: float | None = None, at: str | None = None, label: str = "") -> dict[str, Any]:
        if (seconds is None) == (at is None or not at.strip()):
            raise ValueError("give either seconds (a countdown) or at (a clock time), not both or neither")
        if seconds is not None:
            return {"set": entry(book.add_timer(float(seconds), label))}
        return {"set": entry(book.add_reminder(str(at), label))}

    def list_timers() -> dict[str, Any]:
        return {"timers": [entry(timer) for timer in book.timers()]}

    def cancel_timer(id: str = "", label: str = "", all: bool = False) -> dict[str, Any]:
        if all:
            gone = book.cancel_all()
        else:
            wanted = str(id or label)
            if not wanted:
                raise ValueError("give the id or label of the timer to cancel, or all=true")
            by_id = book.get(str(id))
            found = [by_id] if by_id is not None else book.find(wanted)
            if not found:
                names = ", ".join(f"{t.id}: {t.label}" for t in book.timers()) or "none"
                raise ValueError(f"no timer matches {wanted!r}; running: {names}")
            if len(found) > 1:
                names = ", ".join(f"{t.id}: {t.label}" for t in found)
                raise ValueError(f"{wanted!r} matches several timers ({names}): give the id")
            gone = [timer for timer in found if book.cancel(timer.id) is not None]
        return {"cancelled": [{"id": t.id, "kind": t.kind, "label": t.label} for t in gone],
                "still_running": len(book.timers())}

    text = {"type": "string"}
    return [
        Tool(SET_TIMER,
             "Start a timer (a countdown) or set a reminder at a clock time; it alerts the user with a sound and a "
             "desktop notification even when Parley's window is hidden, and survives a restart. For a countdown "
             "('in 5 minutes', 'a 10 minute tea timer') send seconds. For a reminder at a time send at: '17:00' "
             "(24-hour, two digits) or '5pm' when morning or evening is known; just '5' or '5:30' (no am/pm, no "
             "leading zero) when the user did not say, and Parley takes the next of 5:00 and 17:00; or an ISO "
             "local date-time like '2026-12-24T09:00' for another day. label: what it is for ('tea', 'call the "
             "dentist'). The answer says when it is due: tell the user.",
             {"type": "object", "properties": {
                 "seconds": {"type": "number", "description": "countdown length in seconds"},
                 "at": {**text, "description": "clock time or ISO local date-time for a reminder"},
                 "label": {**text, "description": "what the timer or reminder is for"}},
              "additionalProperties": False},
             set_timer, tags=("timers",)),
        Tool(LIST_TIMERS, "List the running timers and reminders: ids, labels and how long until each is due.",
             {"type": "object", "properties": {}, "additionalProperties": False},
             list_timers, tags=("timers",), read_only=True),
        Tool(CANCEL_TIMER,
             "Cancel a timer or reminder by its id or label (as list_timers gives them), or all of them with "
             "all=true.",
             {"type": "object", "properties": {
                 "id": {**text, "description": "the timer's id"},
                 "label": {**text, "description": "the timer's label, e.g. 'tea'"},
                 "all": {"type": "boolean", "description": "cancel every timer and reminder"}},
              "additionalProperties": False},
             cancel_timer, tags=("timers",)),
    ]

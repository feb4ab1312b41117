"""Timer arithmetic shared by the app's timers (desktop/tools/timers.py) and the offline engine's brain: how long
"five minutes" is, when "at five" falls due, and how a timer is spoken of ("a 5-minute timer", "2 minutes left").

Pure and Qt-free: the caller supplies the clock (`now`, an aware datetime) and, where it matters, the time zone,
so every rule can be tested at any instant.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "clock_text",
    "describe_duration",
    "due_at",
    "duration_seconds",
    "reminder_status_text",
    "replace_duration_idioms",
    "timer_done_text",
    "timer_status_text",
    "timers_spoken",
]

# Said before spoken numbers become digits ("half" alone would turn into 0.5 and lose its hour).
_DURATION_IDIOMS = ((r"\b(?:an|one) hour and a half\b", "90 minutes"), (r"\bhalf an hour\b", "30 minutes"),
                    (r"\ba quarter of an hour\b", "15 minutes"), (r"\ba minute and a half\b", "90 seconds"))
_UNITS = r"days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s"
# "5 minutes", "1h30m", "90s", "2.5 hours", "an hour" (a/an only before a unit word, so "5 am" is no duration).
_DURATION = re.compile(rf"(?:(\d+(?:\.\d+)?)\s*({_UNITS})|\b(an?)\s+(day|hour|minute|second))(?![a-z])")
_NUMBER = r"(\d+(?:\.\d+)?)"
_ISO_DURATION = re.compile(rf"p(?:{_NUMBER}d)?(?:t(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?)?")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def replace_duration_idioms(text: str) -> str:
    """"half an hour" -> "30 minutes" and the like (lower-case text)."""
    for spoken, plain in _DURATION_IDIOMS:
        text = re.sub(spoken, plain, text)
    return text


def duration_seconds(text: str) -> float | None:
    """Seconds in a duration written with digits: "5 minutes", "1 hour 30 minutes", "1h30m", "90s", "an hour",
    "half an hour", an ISO 8601 duration ("PT5M") or a bare number of seconds. None when there is none."""
    said = replace_duration_idioms(text.strip().lower())
    if re.fullmatch(r"\d+(?:\.\d+)?", said):
        return float(said)
    iso = _ISO_DURATION.fullmatch(said)
    if iso and any(iso.groups()):
        days, hours, minutes, seconds = (float(part or 0) for part in iso.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    total, found = 0.0, False
    for amount, unit, article, word in _DURATION.findall(said):
        value = 1.0 if article else float(amount)
        total += value * _UNIT_SECONDS[(unit or word)[0]]
        found = True
    return total if found else None


def describe_duration(seconds: float, hyphen: bool = True) -> str:
    """ "5-minute", "90-second", "1-hour 30-minute" (hyphen=True, for "a 5-minute timer"), or plain "5 minutes"
    (hyphen=False, for "5 minutes left")."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days == 0 and hours == 0 and minutes < 2 and whole >= 60 and secs:
        minutes, secs = 0, whole  # "90-second" reads better than "1-minute 30-second"
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (secs, "second")]
    chosen = [(value, unit) for value, unit in parts if value] or [(0, "second")]
    if hyphen:
        return " ".join(f"{value}-{unit}" for value, unit in chosen)
    return " ".join(f"{value} {unit}{'' if value == 1 else 's'}" for value, unit in chosen)


def timer_done_text(label: str) -> str:
    """What is said when a timer labelled by its duration ("5-minute") ends."""
    return f"Your {label} timer is done."


def timer_status_text(label: str, remaining_s: float) -> str:
    """ "your 5-minute timer has 2 minutes 5 seconds left" (lower case: it is joined into sentences)."""
    return f"your {label} timer has {describe_duration(remaining_s, hyphen=False)} left"


def reminder_status_text(text: str, due: str) -> str:
    """ "your reminder to call the dentist is due at 17:00"."""
    return f"your reminder to {text} is due at {due}"


def timers_spoken(key: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """A sentence about timers as the app's tools give them: `key` "cancelled" (cancel_timer's answer) or
    "timers" (list_timers'), each entry with label, kind, and remaining_s or due."""
    if not entries:
        return "There is no timer running."
    if key == "cancelled":
        if len(entries) > 1:
            return f"Okay, I cancelled the {len(entries)} timers."
        entry = entries[0]
        what = f"reminder to {entry.get('label')}" if entry.get("kind") == "reminder" else f"{entry.get('label')} timer"
        return f"Okay, I cancelled the {what}."
    parts = [reminder_status_text(str(e.get("label")), str(e.get("due"))) if e.get("kind") == "reminder"
             else timer_status_text(str(e.get("label")), float(e.get("remaining_s") or 0)) for e in entries]
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def clock_text(when: dt.datetime, now: dt.datetime) -> str:
    """When a due time falls, said relative to today: "17:00", "tomorrow 05:00", "Friday 24 December 09:00"."""
    local = when.astimezone(now.tzinfo)
    days = (local.date() - now.date()).days
    if days == 0:
        return f"{local:%H:%M}"
    if days == 1:
        return f"tomorrow {local:%H:%M}"
    return f"{local:%A} {local.day} {local:%B} {local:%H:%M}"


# ------------------------------------------------------------------------------------------------ clock times

_CLOCK = re.compile(r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?::(?P<second>\d{2}))?\s*"
                    r"(?:(?P<half>[ap])\.?\s*m\.?|(?P<oclock>o'?clock))?")


def due_at(text: str, now: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The instant a reminder "at `text`" falls due, after `now` (aware). Raises ValueError with a message the
    model can act on when the text is no time.

    - An ISO date-time ("2026-12-24T09:00", "2026-12-24 09:00+01:00") is taken as written; without an offset it
      is local time.
    - "17:00", "05:30", "0:15", "5pm", "5:30 am", "noon", "midnight": the next such time (today if still ahead,
      else tomorrow). "tomorrow 9:00" is the next one after today.
    - An hour from 1 to 12 without am/pm and without a leading zero ("5", "5:30", "at five" sent as "5") could be
      either half of the day: it is the next of the two (at 14:00 "5" is 17:00 today; at 18:00 it is 05:00
      tomorrow).

    `tz` is the zone for local times; None uses the system's (with its daylight-saving rules)."""
    said = text.strip().lower()
    said = re.sub(r"^(?:at|by|on)\s+", "", said)
    if re.match(r"\d{4}-\d{2}-\d{2}", said):
        try:
            stamp = dt.datetime.fromisoformat(said.upper().replace(" ", "T", 1))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an ISO date-time like 2026-12-24T09:00") from exc
        stamp = stamp if stamp.tzinfo is not None else _localise(stamp, tz)
        if stamp.astimezone(dt.UTC) <= now.astimezone(dt.UTC):  # real time, not the wall clock's
            raise ValueError(f"{text!r} is in the past (it is now {now:%Y-%m-%d %H:%M})")
        return stamp
    tomorrow = False
    for word in ("tomorrow", "today"):
        if said.startswith(word) or said.endswith(word):
            tomorrow = word == "tomorrow"
            said = said.removeprefix(word).removesuffix(word).strip()
            said = re.sub(r"^(?:at)\s+|\s+at$", "", said).strip()
    said = {"noon": "12:00 pm", "midday": "12:00 pm", "midnight": "0:00"}.get(said, said)
    match = _CLOCK.fullmatch(said)
    if match is None:
        raise ValueError(f"{text!r} is not a time: send 'HH:MM' (24-hour), '5pm', '5' when the user did not say "
                         "morning or evening, or an ISO date-time like 2026-12-24T09:00")
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if minute > 59 or second > 59:
        raise ValueError(f"{text!r} has no such minute")
    if match["half"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"{text!r}: with am/pm the hour must be 1 to 12")
        hours = [hour % 12 + (12 if match["half"] == "p" else 0)]
    elif hour > 23:
        raise ValueError(f"{text!r} has no such hour")
    elif 1 <= hour <= 12 and not match["hour"].startswith("0"):
        hours = [hour % 12, hour % 12 + 12]  # either half of the day: the next one wins
    else:
        hours = [hour]
    local_now = now.astimezone(tz) if tz is not None else now.astimezone()
    start = local_now.date() + dt.timedelta(days=1 if tomorrow else 0)
    candidates = []
    for day in (start, start + dt.timedelta(days=1)):
        for h in hours:
            stamp = _localise(dt.datetime.combine(day, dt.time(h, minute, second)), tz)
            if stamp.astimezone(dt.UTC) > now.astimezone(dt.UTC):
                candidates.append(stamp)
    return min(candidates, key=lambda stamp: stamp.astimezone(dt.UTC))


def _localise(naive: dt.datetime, tz: dt.tzinfo | None) -> dt.datetime:
    if tz is not None:
        return naive.replace(tzinfo=tz)
    return naive.astimezone()  # the system's local time at that date (daylight saving included)

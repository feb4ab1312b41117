"""Timer arithmetic shared by the app's timers and the offline engine: durations, due times, spoken status."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from desktop.core.timekeeping import (
    clock_text,
    describe_duration,
    due_at,
    duration_seconds,
    timer_status_text,
)

ZONE = dt.timezone(dt.timedelta(hours=1), "CET")  # a fixed offset: these cases are free of daylight saving


def at(hour: int, minute: int = 0, day: int = 3) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=ZONE)


@pytest.mark.parametrize(("text", "seconds"), [
    ("5 minutes", 300), ("1 hour 30 minutes", 5400), ("1h30m", 5400), ("90s", 90), ("2.5 hours", 9000),
    ("an hour", 3600), ("half an hour", 1800), ("a quarter of an hour", 900), ("an hour and a half", 5400),
    ("PT5M", 300), ("pt1h2m3s", 3723), ("P1D", 86400), ("45", 45), ("set a timer for 10 minutes", 600),
    ("a minute and a half", 90),
])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "at 5 am", "five minutes", "tomorrow", "P", "5 months"])
def test_no_duration(text: str) -> None:
    assert duration_seconds(text) is None


def test_descriptions_and_status() -> None:
    assert describe_duration(300) == "5-minute"
    assert describe_duration(90) == "90-second"
    assert describe_duration(5400) == "1-hour 30-minute"
    assert describe_duration(90000, hyphen=False) == "1 day 1 hour"
    assert timer_status_text("tea", 125.4) == "your tea timer has 2 minutes 5 seconds left"


@pytest.mark.parametrize(("text", "now", "due"), [
    ("17:00", at(14), at(17)),
    ("17:00", at(18), at(17, day=4)),  # passed today: tomorrow
    ("05:00", at(14), at(5, day=4)),  # a leading zero means the morning
    ("5pm", at(14), at(17)),
    ("5:30 a.m.", at(14), at(5, 30, day=4)),
    ("at 5 PM", at(14), at(17)),
    ("5", at(14), at(17)),  # "at five" at 14:00: this afternoon
    ("5", at(3), at(5)),  # at 03:00: this morning
    ("5", at(18), at(5, day=4)),  # at 18:00: the next one is tomorrow morning
    ("5:30", at(17, 45), at(5, 30, day=4)),
    ("12", at(11), at(12)),
    ("12", at(13), at(0, day=4)),  # twelve after noon: midnight
    ("noon", at(13), at(12, day=4)),
    ("midnight", at(23, 59), at(0, day=4)),
    ("0:15", at(23), at(0, 15, day=4)),  # across midnight
    ("23:59", at(23, 58), at(23, 59)),
    ("tomorrow 9:00", at(8), at(9, day=4)),
    ("9:00 tomorrow", at(8), at(9, day=4)),
    ("2026-12-24T09:00", at(8), dt.datetime(2026, 12, 24, 9, tzinfo=ZONE)),
    ("2026-12-24 09:00+00:00", at(8), dt.datetime(2026, 12, 24, 10, tzinfo=ZONE)),
])
def test_due_times(text: str, now: dt.datetime, due: dt.datetime) -> None:
    assert due_at(text, now, ZONE) == due


@pytest.mark.parametrize(("text", "needle"), [
    ("soon", "not a time"), ("25:00", "no such hour"), ("13pm", "1 to 12"), ("7:75", "no such minute"),
    ("2026-12-01T09:00", "in the past"), ("2026-13-45T09:00", "ISO date-time"),
])
def test_bad_times_say_why(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        due_at(text, at(14), ZONE)


def test_a_reminder_across_the_spring_change_keeps_its_wall_time() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")  # clocks go forward on 29 March 2026 at 02:00
    now = dt.datetime(2026, 3, 28, 20, 0, tzinfo=berlin)
    due = due_at("tomorrow 9:00", now, berlin)
    assert (due.hour, due.utcoffset()) == (9, dt.timedelta(hours=2))
    assert due.astimezone(dt.UTC) - now.astimezone(dt.UTC) == dt.timedelta(hours=12)  # 13 on the wall clock


def test_system_zone_is_used_without_one() -> None:
    now = dt.datetime.now().astimezone()
    due = due_at("2099-01-01T00:00", now)
    assert due.utcoffset() == dt.datetime(2099, 1, 1).astimezone().utcoffset()


def test_clock_text_is_relative_to_today() -> None:
    assert clock_text(at(17), at(14)) == "17:00"
    assert clock_text(at(5, day=4), at(14)) == "tomorrow 05:00"
    assert clock_text(at(9, day=24), at(14)) == "Thursday 24 December 09:00"

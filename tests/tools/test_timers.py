"""Timers and reminders: due times from an injected clock, firing on the loop, the saved file across a restart
(a reminder missed while closed fires at start, late; a bad file set aside, nothing lost)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from desktop.tools.timers import Timer, TimerBook
from tests.tools.helpers import ZONE, book_at, run, started


def test_due_times_labels_and_order(tmp_path: Path) -> None:
    book, _ = started(tmp_path, dt.datetime(2026, 12, 3, 23, 50, tzinfo=ZONE))
    tea = book.add_timer(300, "tea")
    plain = book.add_timer(90)
    dentist = book.add_reminder("0:05", "call the dentist")  # across midnight
    assert tea.due == dt.datetime(2026, 12, 3, 23, 55, tzinfo=ZONE) and tea.kind == "timer"
    assert plain.label == "90-second" and plain.title == "90-second timer"
    assert dentist.due == dt.datetime(2026, 12, 4, 0, 5, tzinfo=ZONE) and dentist.title == "Reminder: call the dentist"
    assert [t.id for t in book.timers()] == [plain.id, tea.id, dentist.id]
    assert book.due_text(dentist) == "tomorrow 00:05"
    with pytest.raises(ValueError, match="1 second to 7 days"):
        book.add_timer(0)
    with pytest.raises(ValueError, match="what the reminder is for"):
        book.add_reminder("17:00", "  ")


def test_fires_on_the_loop_and_forgets_the_timer(tmp_path: Path) -> None:
    fired: list[Timer] = []
    book = TimerBook(tmp_path / "timers.json", fired.append)

    async def scenario() -> None:
        await book.start()
        done = asyncio.Event()
        book.add_listener(lambda: done.set() if fired else None)
        book.add_timer(0.2, "egg")
        book.add_timer(3600, "bread")
        await asyncio.wait_for(done.wait(), 30)
        await book.aclose()

    run(scenario)
    assert [(t.label, t.late) for t in fired] == [("egg", False)]
    saved = json.loads((tmp_path / "timers.json").read_text())
    assert [t["label"] for t in saved["timers"]] == ["bread"]


def test_injected_clock_fires_exactly_what_is_due(tmp_path: Path) -> None:
    fired: list[Timer] = []
    book, clock = book_at(tmp_path, dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE), fired)

    async def scenario() -> None:
        await book.start()
        book.add_timer(60, "one")
        book.add_reminder("5", "five o'clock")  # at 14:00: 17:00 today
        clock.advance(59)
        book.check()
        assert fired == []
        clock.advance(1)
        book.check()
        assert [t.label for t in fired] == ["one"] and not fired[0].late
        clock.advance(3 * 3600)
        book.check()
        await book.aclose()

    run(scenario)
    assert [t.label for t in fired] == ["one", "five o'clock"]
    assert fired[1].late  # 2 h 59 min after its due time


def test_saved_timers_come_back_and_a_missed_reminder_fires_late(tmp_path: Path) -> None:
    start = dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE)
    first, _ = book_at(tmp_path, start)

    async def before() -> list[Timer]:
        await first.start()
        first.add_timer(600, "pasta")
        first.add_reminder("16:00", "water the plants")
        first.add_reminder("2026-12-24T09:00", "presents")
        await first.aclose()
        return first.timers()

    kept = run(before)
    fired: list[Timer] = []
    second, _ = book_at(tmp_path, start + dt.timedelta(hours=3), fired)  # Parley was closed for three hours

    async def after() -> list[Timer]:
        await second.start()
        await second.aclose()
        return second.timers()

    left = run(after)
    assert [(t.label, t.late) for t in fired] == [("pasta", True), ("water the plants", True)]
    assert left == [kept[2]] and left[0].due == dt.datetime(2026, 12, 24, 9, tzinfo=ZONE)
    third, _ = book_at(tmp_path, start + dt.timedelta(hours=4))
    run(third.start)
    assert [t.label for t in third.timers()] == ["presents"]  # the fired ones left the file too
    run(third.aclose)


def test_an_unreadable_file_is_kept_aside_and_reported(tmp_path: Path) -> None:
    (tmp_path / "timers.json").write_text('{"timers": [{"id": "1", "due": "not a date"}]}')
    book, _ = book_at(tmp_path, dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE))
    run(book.start)
    assert book.problem and "timers.json.bad" in book.problem
    assert (tmp_path / "timers.json.bad").read_text().startswith('{"timers"')
    assert book.timers() == []
    book.add_timer(60, "still works")
    run(book.aclose)
    assert "still works" in (tmp_path / "timers.json").read_text()


def test_one_bad_entry_costs_only_itself(tmp_path: Path) -> None:
    good = Timer("4", "reminder", "call the dentist", dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC),
                 dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC))
    original = json.dumps({"version": 1, "timers": [{"id": "1", "due": "never"}, good.to_json()]})
    (tmp_path / "timers.json").write_text(original)
    book, _ = book_at(tmp_path, dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE))
    run(book.start)
    assert book.timers() == [good]
    assert book.problem and book.problem.startswith("1 of the saved timers")
    assert (tmp_path / "timers.json.bad").read_text() == original
    run(book.aclose)

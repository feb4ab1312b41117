"""Timers and reminders: due times from an injected clock, firing on the loop, the saved file across a restart
(a reminder missed while closed fires at start, late), and setting, listing and cancelling through the tools."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from desktop.tools.registry import ToolRegistry
from desktop.tools.timers import Timer, TimerBook, timer_tools

ZONE = dt.timezone(dt.timedelta(hours=1), "CET")  # fixed offset: no daylight saving in these cases
T = TypeVar("T")


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()
    return asyncio.run(main())


def book_at(path: Path, start: dt.datetime, fired: list[Timer] | None = None) -> tuple[TimerBook, Clock]:
    clock = Clock(start)
    book = TimerBook(path / "timers.json", fired.append if fired is not None else None, clock=clock, tz=ZONE)
    return book, clock


def started(path: Path, start: dt.datetime) -> tuple[TimerBook, Clock]:
    """A book whose saved timers are read (the loop that read them is gone: these tests fire by check())."""
    book, clock = book_at(path, start)
    run(book.start)
    return book, clock


def call(registry: ToolRegistry, name: str, **arguments: Any) -> Any:
    return json.loads(run(lambda: registry.call(name, json.dumps(arguments))))


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


def test_nothing_is_set_before_the_saved_timers_are_read(tmp_path: Path) -> None:
    book, _ = book_at(tmp_path, dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE))
    registry = ToolRegistry(timer_tools(book))
    assert "still loading" in call(registry, "set_timer", seconds=60)["error"]
    assert not (tmp_path / "timers.json").exists()


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


def test_set_list_and_cancel_by_voice_through_the_tools(tmp_path: Path) -> None:
    book, clock = started(tmp_path, dt.datetime(2026, 12, 3, 16, 30, tzinfo=ZONE))
    registry = ToolRegistry(timer_tools(book))
    tea = call(registry, "set_timer", seconds=300, label="tea")["set"]
    assert (tea["label"], tea["due"], tea["remaining"]) == ("tea", "16:35", "5 minutes")
    dentist = call(registry, "set_timer", at="5", label="call the dentist")["set"]
    assert (dentist["kind"], dentist["due"]) == ("reminder", "17:00")
    call(registry, "set_timer", seconds=60, label="green tea")
    clock.advance(60)
    listed = call(registry, "list_timers")["timers"]
    assert [(t["label"], t["remaining_s"]) for t in listed] == [("green tea", 0), ("tea", 240),
                                                                 ("call the dentist", 1740)]
    out = call(registry, "cancel_timer", label="the tea timer")  # exact label wins over "green tea"
    assert out == {"cancelled": [{"id": tea["id"], "kind": "timer", "label": "tea"}], "still_running": 2}
    assert "no timer matches 'coffee'" in call(registry, "cancel_timer", label="coffee")["error"]
    assert "either seconds" in call(registry, "set_timer", label="nothing")["error"]
    assert "not a time" in call(registry, "set_timer", at="whenever", label="x")["error"]
    assert call(registry, "cancel_timer", all=True)["still_running"] == 0
    assert book.timers() == []


def test_an_ambiguous_label_asks_for_the_id(tmp_path: Path) -> None:
    book, _ = started(tmp_path, dt.datetime(2026, 12, 3, 16, 30, tzinfo=ZONE))
    registry = ToolRegistry(timer_tools(book))
    call(registry, "set_timer", seconds=60, label="green tea")
    call(registry, "set_timer", seconds=90, label="black tea")
    assert "several timers" in call(registry, "cancel_timer", label="tea")["error"]
    assert call(registry, "cancel_timer", id="2")["cancelled"][0]["label"] == "black tea"


def test_the_offline_brain_sets_timers_through_the_same_tool(tmp_path: Path) -> None:
    from desktop.engine.brain import BrainContext, CallTool, ToolSpec, decide

    book, _ = book_at(tmp_path, dt.datetime(2026, 12, 3, 16, 30, tzinfo=ZONE))
    specs = tuple(ToolSpec(s["name"], s["description"], s["parameters"])
                  for s in ToolRegistry(timer_tools(book)).schemas())
    decision = decide("set a timer for five minutes", BrainContext(now=book.clock(), tools=specs))
    assert decision == CallTool("set_timer", {"seconds": 300}, "timer", "5-minute")


def test_cancel_and_ask_by_voice_through_the_tools(tmp_path: Path) -> None:
    """Offline, the engine's brain hears the user and calls the app's tools; their answers are spoken."""
    from desktop.engine.brain import BrainContext, CallTool, ToolSpec, decide, speak_tool_result

    book, clock = started(tmp_path, dt.datetime(2026, 12, 3, 16, 30, tzinfo=ZONE))
    registry = ToolRegistry(timer_tools(book))
    specs = tuple(ToolSpec(s["name"], s["description"], s["parameters"]) for s in registry.schemas())

    def hear(text: str) -> str:
        decision = decide(text, BrainContext(now=clock(), tools=specs))
        assert isinstance(decision, CallTool), decision
        return speak_tool_result(decision, run(lambda: registry.call(decision.name, json.dumps(decision.arguments))))

    assert hear("set a timer for ten minutes") == "Okay, a 10-minute timer starts now."
    assert hear("remind me at five to call the dentist") == "Okay, I'll remind you to call the dentist at 5:00 PM."
    assert hear("cancel the dentist reminder") == "Okay, I cancelled the reminder to call the dentist."
    book.add_timer(120, "tea")
    book.add_reminder("17:00", "call the dentist")
    clock.advance(5)
    assert hear("how much time is left on my timers") == ("Your tea timer has 115 seconds left; your "
                                                          "10-minute timer has 9 minutes 55 seconds left; your "
                                                          "reminder to call the dentist is due at 17:00.")
    assert hear("cancel the tea timer") == "Okay, I cancelled the tea timer."
    assert [t.label for t in book.timers()] == ["10-minute", "call the dentist"]
    assert hear("cancel all the timers") == "Okay, I cancelled the 2 timers."
    assert hear("cancel the timer") == "There is no timer running."
    assert hear("any timers running") == "There is no timer running."

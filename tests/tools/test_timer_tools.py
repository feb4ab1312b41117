"""The timer tools as the model and the offline engine use them: set, list and cancel (by label, id or all, by
voice through the engine's brain), with answers and errors the model can act on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from desktop.tools.registry import ToolRegistry
from desktop.tools.timer_tools import timer_tools
from tests.tools.helpers import ZONE, book_at, call, run, started


def test_nothing_is_set_before_the_saved_timers_are_read(tmp_path: Path) -> None:
    book, _ = book_at(tmp_path, dt.datetime(2026, 12, 3, 14, 0, tzinfo=ZONE))
    registry = ToolRegistry(timer_tools(book))
    assert "still loading" in call(registry, "set_timer", seconds=60)["error"]
    assert not (tmp_path / "timers.json").exists()


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

"""The offline brain: intents with their slots, tool routing, spoken tool results, and an honest fallback."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from desktop.engine.arithmetic import find_sum
from desktop.engine.brain import (
    BrainContext,
    CallTool,
    Say,
    TimerStatus,
    ToolSpec,
    decide,
    describe_duration,
    speak_tool_result,
    timer_done_text,
)
from desktop.engine.spoken_numbers import clock_for_words, digits_for_words, parse_number

NOW = dt.datetime(2026, 3, 5, 14, 7, tzinfo=dt.UTC)
PLAIN = BrainContext(now=NOW)
TIME_TOOL = ToolSpec("get_current_time", "Get the user's local date, time and time zone.",
                     {"type": "object", "properties": {}, "additionalProperties": False})
CALC_TOOL = ToolSpec("calculate", "Evaluate an arithmetic expression exactly, e.g. '12*7'.",
                     {"type": "object", "properties": {"expression": {"type": "string"}},
                      "required": ["expression"]})
WITH_TOOLS = BrainContext(now=NOW, tools=(TIME_TOOL, CALC_TOOL))


def say(text: str, context: BrainContext = PLAIN) -> Say:
    decision = decide(text, context)
    assert isinstance(decision, Say), decision
    return decision


@pytest.mark.parametrize(("text", "answer"), [
    ("What is twelve times seven?", "12 times 7 is 84."),
    ("What's 12 x 7?", "12 times 7 is 84."),
    ("how much is one hundred and five plus 2,500", "105 plus 2500 is 2605."),
    ("Add 3 and 4.", "3 plus 4 is 7."),
    ("Subtract three from ten", "10 minus 3 is 7."),
    ("What is 100 divided by 8?", "100 divided by 8 is 12.5."),
    ("What's the square root of 81?", "the square root of 81 is 9."),
    ("what is 15 percent of 200", "15 percent of 200 is 30."),
    ("two to the power of ten", "2 to the power of 10 is 1024."),
    ("what is five squared plus one", "5 to the power of 2 plus 1 is 26."),
    ("seven minus ten", "7 minus 10 is -3."),
    ("What is ten divided by zero?", "10 divided by 0 has no answer: it is not defined."),
])
def test_arithmetic_in_words_and_digits(text: str, answer: str) -> None:
    reply = say(text)
    assert (reply.intent, reply.text) == ("arithmetic", answer)


def test_operator_precedence_and_no_false_sums() -> None:
    found = find_sum("what is 2 plus 3 times 4")
    assert found is not None and found.value == 14
    assert find_sum("what time is it") is None
    assert find_sum("call me at four") is None
    assert find_sum("plus four") is None


def test_time_and_date_use_the_given_clock() -> None:
    assert say("What time is it?").text == "It's 2:07 PM."
    assert say("um, what's the time").text == "It's 2:07 PM."
    assert say("What's the date today?").text == "Today is Thursday, March 5, 2026."
    assert say("what day is it").intent == "date"


@pytest.mark.parametrize(("text", "seconds", "label"), [
    ("Set a timer for 5 minutes.", 300, "5-minute"),
    ("set a ten second timer", 10, "10-second"),
    ("Set a timer for two and a half minutes", 150, "2-minute 30-second"),
    ("start a timer for one hour and thirty minutes", 5400, "1-hour 30-minute"),
    ("timer for a minute", 60, "1-minute"),
    ("remind me in half an hour", 1800, "30-minute"),
    ("set a timer for one and a half minutes", 90, "90-second"),
])
def test_timer_slots(text: str, seconds: int, label: str) -> None:
    reply = say(text)
    assert reply.start_timer is not None and reply.start_timer.seconds == seconds
    assert reply.text == f"Okay, a {label} timer starts now."


def test_timer_without_duration_asks_and_status_and_cancel_know_the_timers() -> None:
    assert say("set a timer").start_timer is None
    running = BrainContext(now=NOW, timers=(TimerStatus("5-minute", 125.4),))
    assert say("how much time is left on my timer", running).text == "Your 5-minute timer has 2 minutes 5 seconds left."
    assert say("how much time is left", PLAIN).text == "There is no timer running."
    cancel = say("cancel the timer", running)
    assert cancel.cancel_timers and cancel.text == "Okay, I cancelled the timer."
    assert timer_done_text(describe_duration(300)) == "Your 5-minute timer is done."


@pytest.mark.parametrize(("text", "intent"), [
    ("What can you do?", "help"), ("Help", "help"), ("Hello there.", "greeting"), ("Good morning!", "greeting"),
    ("Thank you!", "thanks"), ("How are you?", "small_talk"), ("Who are you?", "small_talk"),
    ("Goodbye", "goodbye"), ("", "empty"), ("   ", "empty"),
])
def test_small_intents(text: str, intent: str) -> None:
    assert say(text).intent == intent


def test_fallback_is_honest_and_quotes_what_was_heard() -> None:
    reply = say("Write me a poem about the sea.")
    assert reply.intent == "fallback"
    assert reply.text.startswith("I heard: 'Write me a poem about the sea.'.")
    assert "OpenAI key in Settings" in reply.text
    assert "time and date" in reply.text


def test_repeat_uses_the_last_heard_reply() -> None:
    assert say("what did you say", BrainContext(now=NOW, last_reply="12 times")).text == "I said: 12 times"
    assert say("say that again").text == "I haven't said anything yet."


def test_registered_tools_are_called_instead_of_answering() -> None:
    assert decide("what is twelve times seven", WITH_TOOLS) == CallTool(
        "calculate", {"expression": "12*7"}, "arithmetic", "12 times 7")
    assert decide("what time is it", WITH_TOOLS) == CallTool("get_current_time", {}, "time")
    assert decide("what's the date", WITH_TOOLS) == CallTool("get_current_time", {}, "date")
    # A timer tool is not a clock; a tool with required arguments the brain cannot fill is not called.
    timer_only = BrainContext(now=NOW, tools=(ToolSpec("set_timer", "Start a countdown timer.", {
        "type": "object", "properties": {"seconds": {"type": "integer"}}, "required": ["seconds"]}),))
    assert isinstance(decide("what time is it", timer_only), Say)
    assert decide("set a timer for 2 minutes", timer_only) == CallTool("set_timer", {"seconds": 120}, "timer",
                                                                       "2-minute")
    needs_more = BrainContext(now=NOW, tools=(ToolSpec("calc", "calculator", {
        "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"]}),))
    assert isinstance(decide("what is 2 plus 2", needs_more), Say)
    # Division by zero has no result to ask a tool for.
    assert isinstance(decide("ten divided by zero", WITH_TOOLS), Say)


def test_tool_results_are_spoken() -> None:
    calc = CallTool("calculate", {"expression": "12*7"}, "arithmetic", "12 times 7")
    assert speak_tool_result(calc, '{"expression": "12*7", "result": 84}') == "12 times 7 is 84."
    clock = CallTool("get_current_time", {}, "time")
    assert speak_tool_result(clock, '{"time": "20:47", "date": "Thursday 05 March 2026"}') == "It's 8:47 PM."
    date = CallTool("get_current_time", {}, "date")
    assert speak_tool_result(date, '{"time": "20:47", "date": "Thursday 05 March 2026"}') == (
        "Today is Thursday 05 March 2026.")
    assert speak_tool_result(calc, '{"error": "only numbers are allowed"}') == (
        "The calculate tool reported a problem: only numbers are allowed.")
    assert speak_tool_result(CallTool("lookup", {}, "unknown"), "plain words") == "The lookup tool says: plain words."


def test_numbers() -> None:
    assert parse_number("forty-two") == 42
    assert parse_number("a hundred") == 100
    assert parse_number("three point five") == 3.5
    assert parse_number("2,500") == 2500
    assert parse_number("banana") is None
    assert digits_for_words("set a timer for twenty one minutes") == "set a timer for 21 minutes"
    assert digits_for_words("which one and a half") == "which 1.5"


def test_routing_is_fast() -> None:
    started = time.perf_counter()
    for _ in range(200):
        decide("what is twelve times seven", WITH_TOOLS)
        decide("Write me a poem about the sea.", PLAIN)
    assert (time.perf_counter() - started) / 400 < 0.002


@pytest.mark.parametrize(("said", "clock"), [
    ("five", "5:00"), ("five thirty", "5:30"), ("seven forty-five pm", "7:45 pm"), ("half past five", "5:30"),
    ("quarter to six", "5:45"), ("a quarter past eleven", "11:15"), ("ten minutes to seven", "6:50"),
    ("twenty past 4", "4:20"), ("quarter to one", "12:45"), ("five oh five", "5:05"), ("17:00", "17:00"),
    ("nine o'clock in the morning", "9:00 am"), ("seven in the evening", "7:00 pm"), ("five p.m.", "5:00 pm"),
    ("call the dentist", None), ("", None), ("twenty five hundred", None),
])
def test_clock_times_as_said(said: str, clock: str | None) -> None:
    assert clock_for_words(said) == clock


def test_reminders_go_to_a_timer_tool_that_takes_a_clock_time() -> None:
    reminder_tool = ToolSpec("set_timer", "Start a timer or set a reminder.", {"type": "object", "properties": {
        "seconds": {"type": "number"}, "at": {"type": "string"}, "label": {"type": "string"}}})
    context = BrainContext(now=NOW, tools=(reminder_tool,))
    assert decide("Remind me at five to call the dentist.", context) == CallTool(
        "set_timer", {"at": "5:00", "label": "call the dentist"}, "reminder", "to call the dentist")
    assert decide("remind me at quarter to six to take the bread out", context) == CallTool(
        "set_timer", {"at": "5:45", "label": "take the bread out"}, "reminder", "to take the bread out")
    assert decide("remind me tomorrow at nine about the meeting", context) == CallTool(
        "set_timer", {"at": "tomorrow 9:00", "label": "the meeting"}, "reminder", "about the meeting")
    assert decide("remind me at nine tomorrow to water the plants", context).arguments == {  # type: ignore[union-attr]
        "at": "tomorrow 9:00", "label": "water the plants"}
    assert "Say the time" in say("remind me at five", context).text
    assert "not reminders" in say("remind me at five to call the dentist").text  # no tool: the engine says so
    call = CallTool("set_timer", {}, "reminder", "to call the dentist")
    spoken = speak_tool_result(call, '{"set": {"due": "17:00"}}')
    assert spoken == "Okay, I'll remind you to call the dentist at 5:00 PM."
    assert speak_tool_result(call, '{"set": {"due": "tomorrow 09:00"}}').endswith("dentist tomorrow at 9:00 AM.")
    assert speak_tool_result(call, '{"set": 3}').startswith("The set timer tool says")

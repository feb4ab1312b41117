"""What the offline engine says: a deterministic intent router over the user's transcript.

No language model fits on this machine that answers well (see /work/shared/offline-speech.md), so the engine is
honest instead: it handles a few intents exactly (time, date, timers, arithmetic, help, small talk) and says
plainly what it heard and what it cannot do for everything else. It never invents an answer.

When the client registered a tool that serves an intent (its name or description mentions the time, a
calculator, a timer), the brain asks for that tool instead of answering itself, so the app's own tools run
exactly as they would with the cloud model. Everything here is pure and fast (tens of microseconds per call):
the caller supplies the clock, the registered tools and the running timers.

Why one module of this size: one intent router, whose patterns and answers read best side by side.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop.core.timekeeping import (
    describe_duration,
    duration_seconds,
    replace_duration_idioms,
    timer_done_text,
    timer_status_text,
    timers_spoken,
)
from desktop.engine.arithmetic import Sum, find_sum
from desktop.engine.spoken_numbers import (
    digits_for_words,
    format_number,
    split_clock,
    spoken_clock_text,
    spoken_date,
    spoken_time,
)

__all__ = [
    "BrainContext",
    "CallTool",
    "Say",
    "TimerRequest",
    "TimerStatus",
    "ToolSpec",
    "decide",
    "describe_duration",
    "speak_tool_result",
    "timer_done_text",
]

CAPABILITIES = "Offline I can tell the time and date, set timers, and do arithmetic."
CLOUD_HINT = "Add an OpenAI key in Settings for open conversation."
MAX_TIMER_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ToolSpec:
    """A function tool as the client declared it in session.tools."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimerStatus:
    label: str
    remaining_s: float


@dataclass(frozen=True)
class TimerRequest:
    seconds: float

    @property
    def label(self) -> str:
        return describe_duration(self.seconds)


@dataclass(frozen=True)
class BrainContext:
    now: dt.datetime
    tools: Sequence[ToolSpec] = ()
    timers: Sequence[TimerStatus] = ()
    last_reply: str = ""


@dataclass(frozen=True)
class Say:
    """Speak `text`; optionally start a timer or cancel the running ones (the session owns timers)."""

    text: str
    intent: str
    start_timer: TimerRequest | None = None
    cancel_timers: bool = False


@dataclass(frozen=True)
class CallTool:
    """Ask the client to run one of its tools; `intent` and `detail` let the result be spoken naturally."""

    name: str
    arguments: dict[str, Any]
    intent: str
    detail: str = ""


Decision = Say | CallTool


# ------------------------------------------------------------------------------------------------ patterns

def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives))


_TIMER_SET = _rx(r"\b(?:set|start|create|make|put on)\b.*\btimer\b", r"\btimer for\b", r"\b\d+(?:\.\d+)? ?"
                 r"(?:hours?|minutes?|mins?|seconds?|secs?) timer\b", r"\bremind me in\b", r"\bcount ?down\b",
                 r"\bwake me in\b")
_TIMER_CANCEL = _rx(r"\b(?:cancel|stop|delete|clear|remove|kill)\b.*\b(?:timers?|reminders?)\b")
_TIMER_LABEL = re.compile(r"\b(?:cancel|stop|delete|clear|remove|kill)\s+(?:the |my )?(.+?)\s+(?:timer|reminder)\b")
_REMINDER = re.compile(r"\bremind me (?:(tomorrow|today) )?(?:at|by) (.+)$")
_NOT_A_LABEL = {"the", "my", "this", "that", "a", "all", "all the", "all my", "every", "current", "running"}
_TIMER_QUERY = _rx(r"\bhow (?:much|long)\b.*\b(?:left|remaining|to go)\b", r"\btimers?\b.*\b(?:left|remaining|"
                   r"status|running)\b", r"\bany timers?\b")
_TIME = _rx(r"\bwhat(?:'s| is)? the time\b", r"\bwhat time\b", r"\btime is it\b", r"\bcurrent time\b",
            r"\btell me the time\b", r"\bhow late is it\b", r"\bgot the time\b", r"\bthe time (?:now|please)\b",
            r"^time\b")
_DATE = _rx(r"\bwhat(?:'s| is)? (?:the |today's |todays )?date\b", r"\bwhat day\b", r"\btoday's date\b",
            r"\bwhich day\b", r"\bwhat(?:'s| is) today\b", r"\bwhat (?:month|year) is it\b", r"\bthe date\b",
            r"\bday of the week\b")
_HELP = _rx(r"\bwhat can you do\b", r"\bhelp\b", r"\bwhat do you do\b", r"\byour (?:skills|abilities)\b",
            r"\bwhat are you able\b", r"\bwhat can i (?:ask|say)\b", r"\bwhat do you know\b")
_GREETING = _rx(r"^(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))\b")
_THANKS = _rx(r"\b(?:thanks|thank you|thank u|cheers|much appreciated)\b")
_HOW_ARE_YOU = _rx(r"\bhow are you\b", r"\bhow's it going\b", r"\bhow are things\b", r"\bhow do you do\b")
_WHO = _rx(r"\bwho are you\b", r"\byour name\b", r"\bwhat are you\b", r"\bare you (?:a robot|real|human)\b")
_BYE = _rx(r"\b(?:goodbye|bye|see you|good night|that's all)\b")
_REPEAT = _rx(r"\brepeat (?:that|it|yourself)\b", r"\bsay (?:that|it) again\b", r"\bwhat did you (?:just )?say\b",
              r"\bcome again\b", r"^pardon\b", r"^sorry\??$")
_FILLER = re.compile(r"^(?:(?:um+|uh+|oh|okay|ok|so|well|please|hey parley|parley)[,.!]?\s+)+")

_TIMER_ACTIONS = {"timer_cancel": re.compile(r"cancel|stop|delete|clear|remove"),
                  "timer_list": re.compile(r"list|status|running|show")}
_TOOL_HINTS = {
    "time": re.compile(r"\btime\b|\bclock\b|\bdate\b|\bcurrent_time\b|\bget_time\b|\bnow\b"),
    "arithmetic": re.compile(r"calculat|arithmetic|\bmath|expression|evaluat|comput"),
    "timer": re.compile(r"\btimer\b|\bcountdown\b"),
}


# ------------------------------------------------------------------------------------------------ routing

def decide(text: str, context: BrainContext) -> Decision:
    """The reply to one user turn. `text` is the transcript as recognised (any case, any punctuation)."""
    said = _normalise(text)
    if not said:
        return Say("I didn't catch anything. Please try again, a little closer to the microphone.", "empty")
    if _TIMER_CANCEL.search(said):
        return _cancel_timers(said, context)
    if _TIMER_QUERY.search(said):
        return _timer_status(context)
    reminder = _REMINDER.search(said)
    if reminder:
        return _set_reminder(reminder.group(1), reminder.group(2), context)
    if _TIMER_SET.search(said):
        return _set_timer(said, context)
    calculation = find_sum(said)
    if calculation is not None:
        return _arithmetic(calculation, context)
    if _DATE.search(said):
        return _clock("date", context)
    if _TIME.search(said):
        return _clock("time", context)
    if _HELP.search(said):
        return Say(f"{CAPABILITIES} For example, ask: what is twelve times seven, or set a timer for five "
                   f"minutes. {CLOUD_HINT}", "help")
    if _REPEAT.search(said):
        if context.last_reply:
            return Say(f"I said: {context.last_reply}", "repeat")
        return Say("I haven't said anything yet.", "repeat")
    if _HOW_ARE_YOU.search(said):
        return Say("I'm running fine, thank you. All of me fits on this computer.", "small_talk")
    if _WHO.search(said):
        return Say("I'm Parley's offline voice engine. I run entirely on this computer.", "small_talk")
    if _THANKS.search(said):
        return Say("You're welcome.", "thanks")
    if _BYE.search(said):
        return Say("Goodbye!", "goodbye")
    if _GREETING.search(said):
        return Say("Hello! Ask me the time, the date, a sum, or to set a timer.", "greeting")
    return Say(f"I heard: '{text.strip()}'. {CAPABILITIES} {CLOUD_HINT}", "fallback")


def _normalise(text: str) -> str:
    said = text.strip().lower().replace("’", "'")
    said = re.sub(r"[.!?,;:]+(?=\s|$)", "", said).strip()
    return _FILLER.sub("", said).strip()


def _clock(intent: str, context: BrainContext) -> Decision:
    tool = _tool_for("time", context.tools)
    if tool is not None and _fillable(tool, {}):
        return CallTool(tool.name, {}, intent)
    if intent == "date":
        return Say(f"Today is {spoken_date(context.now)}.", "date")
    return Say(f"It's {spoken_time(context.now)}.", "time")


def _arithmetic(calculation: Sum, context: BrainContext) -> Decision:
    tool = _tool_for("arithmetic", context.tools)
    if tool is not None and calculation.value is not None:
        arguments = _expression_arguments(tool, calculation.python)
        if arguments is not None:
            return CallTool(tool.name, arguments, "arithmetic", calculation.spoken)
    if calculation.value is None:
        return Say(f"{calculation.spoken} has no answer: it is not defined.", "arithmetic")
    return Say(f"{calculation.spoken} is {calculation.answer}.", "arithmetic")


def _set_timer(said: str, context: BrainContext) -> Decision:
    seconds = duration_seconds(digits_for_words(replace_duration_idioms(said)))
    if seconds is None or seconds <= 0:
        return Say("How long should the timer run? Say, for example: set a timer for five minutes.", "timer")
    if seconds > MAX_TIMER_SECONDS:
        return Say("I can only set timers up to 24 hours.", "timer")
    request = TimerRequest(seconds)
    tool = _tool_for("timer", context.tools)
    if tool is not None:
        arguments = _duration_arguments(tool, seconds)
        if arguments is not None:
            return CallTool(tool.name, arguments, "timer", request.label)
    return Say(f"Okay, a {request.label} timer starts now.", "timer", start_timer=request)


def _set_reminder(day: str | None, rest: str, context: BrainContext) -> Decision:
    """"remind me at five to call the dentist": the client's timer tool sets it (the engine keeps no clock times)."""
    tool = _tool_for("timer", context.tools)
    properties = _properties(tool)[0] if tool is not None else {}
    found = split_clock(rest)
    if tool is None or "at" not in properties:
        return Say("Offline I can set timers, not reminders at a time. Say, for example: set a timer for ten "
                   "minutes.", "reminder")
    if found is None or not re.sub(r"^(?:to|that|about|of)\b", "", found[1]).strip():
        return Say("Say the time and what it is for, for example: remind me at five to call the dentist.", "reminder")
    clock, text = found
    connector, _, what = text.partition(" ") if text.split()[0] in ("to", "that", "about", "of") else ("to", "", text)
    arguments = {"at": f"{day} {clock}" if day else clock, **({"label": what} if "label" in properties else {})}
    return CallTool(tool.name, arguments, "reminder", f"{connector} {what}")


def _cancel_timers(said: str, context: BrainContext) -> Decision:
    tool = _timer_tool("timer_cancel", context.tools)
    if tool is not None:  # the client keeps the timers (the app's timer book): it cancels them
        properties, _ = _properties(tool)
        named = _TIMER_LABEL.search(said)
        label = named.group(1) if named and named.group(1) not in _NOT_A_LABEL else ""
        arguments: dict[str, Any] = {}
        if label and "label" in properties:
            arguments["label"] = label
        elif "all" in properties:
            arguments["all"] = True
        if _fillable(tool, arguments):
            return CallTool(tool.name, arguments, "timer_cancel", label)
    if not context.timers:
        return Say("There is no timer running.", "timer", cancel_timers=True)
    count = len(context.timers)
    noun = "timer" if count == 1 else f"{count} timers"
    return Say(f"Okay, I cancelled the {noun}.", "timer", cancel_timers=True)


def _timer_status(context: BrainContext) -> Decision:
    tool = _timer_tool("timer_list", context.tools)
    if tool is not None and _fillable(tool, {}):
        return CallTool(tool.name, {}, "timer_list")
    if not context.timers:
        return Say("There is no timer running.", "timer")
    parts = [timer_status_text(timer.label, timer.remaining_s)
             for timer in sorted(context.timers, key=lambda timer: timer.remaining_s)]
    sentence = "; ".join(parts)
    return Say(sentence[0].upper() + sentence[1:] + ".", "timer")


# ------------------------------------------------------------------------------------------------ tools

def _timer_tool(action: str, tools: Sequence[ToolSpec]) -> ToolSpec | None:
    """A tool named for timers and for `action` ("timer_cancel": cancel_timer, "timer_list": list_timers)."""
    for tool in tools:
        name = tool.name.lower()
        if "timer" in name and _TIMER_ACTIONS[action].search(name):
            return tool
    return None


def _tool_for(intent: str, tools: Sequence[ToolSpec]) -> ToolSpec | None:
    """The first registered tool whose name or description serves `intent`. A timer tool is never taken
    for the time, nor the other way round; a tool that lists or cancels timers does not start one."""
    hint = _TOOL_HINTS[intent]
    for tool in tools:
        if intent == "timer" and any(rx.search(tool.name.lower()) for rx in _TIMER_ACTIONS.values()):
            continue
        words = f"{tool.name.replace('_', ' ')} {tool.name} {tool.description}".lower()
        if intent == "time" and _TOOL_HINTS["timer"].search(words):
            continue
        if hint.search(words):
            return tool
    return None


def _properties(tool: ToolSpec) -> tuple[dict[str, Any], list[str]]:
    properties = tool.parameters.get("properties") or {}
    required = tool.parameters.get("required") or []
    return (dict(properties) if isinstance(properties, Mapping) else {},
            [str(name) for name in required] if isinstance(required, list) else [])


def _fillable(tool: ToolSpec, arguments: Mapping[str, Any]) -> bool:
    _, required = _properties(tool)
    return all(name in arguments for name in required)


def _expression_arguments(tool: ToolSpec, expression: str) -> dict[str, Any] | None:
    properties, _ = _properties(tool)
    preferred = [name for name in ("expression", "expr", "formula", "input", "query", "question")
                 if name in properties]
    strings = [name for name, schema in properties.items()
               if isinstance(schema, Mapping) and schema.get("type") == "string"]
    name = (preferred or (strings if len(strings) == 1 else []) or [None])[0]
    if name is None:
        return None
    arguments = {name: expression}
    return arguments if _fillable(tool, arguments) else None


def _duration_arguments(tool: ToolSpec, seconds: float) -> dict[str, Any] | None:
    properties, _ = _properties(tool)
    arguments: dict[str, Any] = {}
    for name in properties:
        lowered = name.lower()
        if "second" in lowered or lowered in ("duration", "duration_s", "seconds"):
            arguments[name] = int(seconds) if float(seconds).is_integer() else seconds
            break
        if "minute" in lowered:
            arguments[name] = seconds / 60
            break
    return arguments if arguments and _fillable(tool, arguments) else None


def speak_tool_result(call: CallTool, output: str) -> str:
    """A sentence about a tool's result. The output is the client's string (usually JSON); anything
    unexpected is read out plainly rather than guessed at."""
    try:
        data: Any = json.loads(output)
    except ValueError:
        data = output
    if isinstance(data, Mapping) and data.get("error"):
        return f"The {call.name.replace('_', ' ')} tool reported a problem: {_short(str(data['error']))}."
    if call.intent == "time":
        value = _field(data, ("time", "current_time", "now", "datetime", "result"))
        return f"It's {spoken_clock_text(value)}." if value else _plain(call, output)
    if call.intent == "date":
        value = _field(data, ("date", "today", "datetime", "result"))
        return f"Today is {value}." if value else _plain(call, output)
    if call.intent == "arithmetic":
        value = _field(data, ("result", "value", "answer"))
        if value is None and isinstance(data, int | float):
            value = format_number(float(data))
        return f"{call.detail} is {value}." if value is not None else _plain(call, output)
    if call.intent == "timer":
        return f"Okay, a {call.detail} timer starts now."
    if call.intent == "reminder":
        entry = data.get("set") if isinstance(data, Mapping) else None
        due = entry.get("due") if isinstance(entry, Mapping) else None
        when = re.sub(r"(?:^| )(\d{1,2}:\d{2})$", lambda m: " at " + spoken_clock_text(m.group(1)), str(due or ""))
        return f"Okay, I'll remind you {call.detail} {when.strip()}." if due else _plain(call, output)
    key = {"timer_cancel": "cancelled", "timer_list": "timers"}.get(call.intent)
    entries = data.get(key) if key is not None and isinstance(data, Mapping) else None
    if isinstance(entries, list) and all(isinstance(entry, Mapping) for entry in entries):
        return timers_spoken(str(key), entries)
    return _plain(call, output)


def _field(data: Any, names: Sequence[str]) -> str | None:
    if isinstance(data, Mapping):
        for name in names:
            value = data.get(name)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                return format_number(float(value))
            return str(value)
        return None
    if isinstance(data, str) and data.strip():
        return data.strip()
    return None


def _plain(call: CallTool, output: str) -> str:
    return f"The {call.name.replace('_', ' ')} tool says: {_short(output)}."


def _short(text: str, limit: int = 200) -> str:
    text = text.strip().rstrip(".")
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"

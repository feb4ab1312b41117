"""Numbers as people say them and as the recogniser writes them: "twelve", "one hundred and five", "2,500",
"three point five", "a half". Whisper writes most numbers as digits but not all ("twelve times seven" and
"12 times 7" both happen), so the brain turns every spelled number into digits before matching patterns.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "clock_for_words",
    "digits_for_words",
    "format_number",
    "parse_number",
    "split_clock",
    "spoken_clock_text",
    "spoken_date",
    "spoken_time",
]

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_WORDS = set(_UNITS) | set(_TENS) | set(_SCALES) | {"a", "and", "point", "half", "quarter"}

_WORD = re.compile(r"[a-z]+|\d[\d,]*(?:\.\d+)?|\S")


def parse_number(text: str) -> float | None:
    """The value of a number written in digits or words ("forty-two", "a hundred", "3.5"); None otherwise."""
    cleaned = text.strip().lower().replace("-", " ")
    if re.fullmatch(r"-?\d[\d,]*(?:\.\d+)?", cleaned):
        return float(cleaned.replace(",", ""))
    words = cleaned.split()
    return _words_value(words) if words else None


def _words_value(words: list[str]) -> float | None:
    """Value of a run of number words, or None when the run is not a well-formed number."""
    if words in (["a", "half"], ["half"]):
        return 0.5
    if words in (["a", "quarter"], ["quarter"]):
        return 0.25
    if "point" in words:
        split = words.index("point")
        whole = _words_value(words[:split]) if split else 0.0
        decimals = [_UNITS.get(word) for word in words[split + 1 :]]
        if whole is None or not decimals or any(d is None or d > 9 for d in decimals):
            return None
        return whole + float("0." + "".join(str(d) for d in decimals))
    total, current, seen = 0, 0, False
    for index, word in enumerate(words):
        if word == "and":
            continue
        if word == "a":
            if index + 1 < len(words) and words[index + 1] in _SCALES:
                current, seen = 1, True
                continue
            return None
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _SCALES:
            total += (current or 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def _is_number_token(token: str) -> bool:
    return token in _NUMBER_WORDS or bool(re.fullmatch(r"\d[\d,]*(?:\.\d+)?", token))


def digits_for_words(text: str) -> str:
    """Lower-cases `text` and replaces every run of number words with its digits ("twelve times seven" →
    "12 times 7"); commas inside digit groups go too. "a" and "and" only count inside a number."""
    tokens = _WORD.findall(text.lower().replace("-", " "))
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", token):
            out.append(token.replace(",", ""))
            index += 1
            continue
        if token not in _NUMBER_WORDS or token in ("and", "point"):
            out.append(token)
            index += 1
            continue
        best: tuple[int, float] | None = None
        end = index
        while end < len(tokens) and tokens[end] in _NUMBER_WORDS:
            end += 1
            value = _words_value(tokens[index:end])
            if value is not None and tokens[end - 1] not in ("and", "point", "a"):
                best = (end, value)
        if best is None:
            out.append(token)
            index += 1
        else:
            out.append(format_number(best[1]))
            index = best[0]
    joined = " ".join(out)
    # "two and a half" became "2 and 0.5": one number, as it was said.
    return re.sub(r"\b(\d+(?:\.\d+)?) and 0\.(5|25)\b",
                  lambda m: format_number(float(m.group(1)) + float("0." + m.group(2))), joined)


def format_number(value: float) -> str:
    """Digits a person would say: no trailing ".0", at most four decimals, no exponent notation."""
    if value != value or value in (float("inf"), float("-inf")):
        return "an undefined number"
    rounded = round(value, 4)
    if rounded == int(rounded) and abs(rounded) < 1e15:
        return str(int(rounded))
    return f"{rounded:.4f}".rstrip("0").rstrip(".")


_HALF_DAY = ((r"\b([ap])\.?\s?m\b\.?", None), (r"\bin the morning\b", "a"),
             (r"\b(?:in the (?:afternoon|evening)|at night|tonight)\b", "p"))


def clock_for_words(text: str) -> str | None:
    """A clock time as said ("five", "five thirty", "seven forty-five pm", "half past five", "quarter to six",
    "nine o'clock in the morning", "17:00") as "H:MM" with " am"/" pm" when said; None when it is no time.
    Without am/pm the hour keeps no leading zero: which half of the day is for desktop.core.timekeeping."""
    said = text.lower().replace("-", " ").strip()
    half = ""
    for pattern, value in _HALF_DAY:
        found = re.search(pattern, said)
        if found:
            half = " " + (value or found.group(1)) + "m"
            said = (said[: found.start()] + said[found.end() :]).strip()
    said = re.sub(r"\s*\bo'?\s?clock\b", "", said).strip()
    if re.fullmatch(r"\d{1,2}(?::\d{2})?", said):
        return said + half
    relative = re.fullmatch(r"(half|(?:a )?quarter|.+?)(?: minutes?)? (past|after|to|before) (.+)", said)
    if relative:
        amount, direction, hour_words = relative.groups()
        minutes = {"half": 30.0, "quarter": 15.0, "a quarter": 15.0}.get(amount, parse_number(amount))
        hour = parse_number(hour_words)
        if minutes is not None and hour is not None and 0 < minutes < 60 and 0 <= hour <= 23 and not hour % 1:
            total = int(hour) * 60 + (int(minutes) if direction in ("past", "after") else -int(minutes))
            hours, mins = divmod(total % (24 * 60), 60)
            return f"{hours if hours > 12 else hours or 12}:{mins:02d}{half}"
    words = said.split()
    if not words or len(words) > 4:
        return None
    hour = parse_number(words[0])
    rest = " ".join(words[1:]).removeprefix("oh ").removeprefix("o ")
    minutes = parse_number(rest) if rest else 0.0
    if hour is None or minutes is None or hour % 1 or minutes % 1 or not 0 <= hour <= 23 or not 0 <= minutes < 60:
        return None
    return f"{int(hour)}:{int(minutes):02d}{half}"


def split_clock(text: str) -> tuple[str, str] | None:
    """The clock time at the start of `text` and the words after it ("quarter to six to call" -> "5:45",
    "to call"; "nine tomorrow" -> "tomorrow 9:00", ""), taking the longest start that is a time."""
    words = text.split()
    for end in range(min(len(words), 8), 0, -1):
        clock = clock_for_words(" ".join(words[:end]))
        if clock is not None:
            rest = words[end:]
            if rest and rest[0] in ("tomorrow", "today"):
                return f"{rest[0]} {clock}", " ".join(rest[1:])
            return clock, " ".join(rest)
    return None


def spoken_time(now: dt.datetime) -> str:
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def spoken_clock_text(value: str) -> str:
    """ "20:47" from a tool reads better as "8:47 PM"; anything else is spoken as given."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", value.strip())
    if not match:
        return value
    return spoken_time(dt.datetime(2000, 1, 1, int(match.group(1)) % 24, int(match.group(2)) % 60))


def spoken_date(now: dt.datetime) -> str:
    return f"{now:%A}, {now:%B} {now.day}, {now.year}"

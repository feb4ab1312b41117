"""Numbers as people say them and as the recogniser writes them: "twelve", "one hundred and five", "2,500",
"three point five", "a half". Whisper writes most numbers as digits but not all ("twelve times seven" and
"12 times 7" both happen), so the brain turns every spelled number into digits before matching patterns.
"""

from __future__ import annotations

import re

__all__ = ["digits_for_words", "format_number", "parse_number"]

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

"""Arithmetic said aloud: "what is twelve times seven", "add 3 and 4", "the square root of 81", "15 percent of
200". The question is rewritten into symbols, the longest well-formed expression is cut out of the sentence and
evaluated by a small precedence parser — never Python's eval on what a microphone heard.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from desktop.engine.spoken_numbers import digits_for_words, format_number

__all__ = ["Sum", "find_sum"]

_NUM = r"\d+(?:\.\d+)?"

# Longest phrases first: "multiplied by" must win over a bare "by".
_OPERATOR_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bto the power of\b|\braised to(?: the power of)?\b|\*\*|\^", " ^ "),
    (r"\bmultiplied by\b|\btimes\b|×|\*|(?<=\d) ?x ?(?=\d)|\bx\b", " * "),
    (r"\bdivided by\b|\bover\b|÷|/", " / "),
    (r"\bplus\b|\+", " + "),
    (r"\bminus\b|\btake away\b|(?<=\d) ?- ?(?=\d)|−", " - "),
    (r"\bpercent of\b|% of\b", " pct "),
    (r"\bsquare root of\b|\broot of\b|√", " sqrt "),
    (r"\bsquared\b", " ^ 2 "),
    (r"\bcubed\b", " ^ 3 "),
)
_VERB_FORMS: tuple[tuple[str, str], ...] = (
    (rf"\b(?:add|sum of)\s+({_NUM})\s+(?:and|to|plus)\s+({_NUM})", r"\1 + \2"),
    (rf"\bsubtract\s+({_NUM})\s+from\s+({_NUM})", r"\2 - \1"),
    (rf"\bdifference between\s+({_NUM})\s+and\s+({_NUM})", r"\1 - \2"),
    (rf"\bmultiply\s+({_NUM})\s+(?:by|and|with)\s+({_NUM})", r"\1 * \2"),
    (rf"\bproduct of\s+({_NUM})\s+and\s+({_NUM})", r"\1 * \2"),
    (rf"\bdivide\s+({_NUM})\s+by\s+({_NUM})", r"\1 / \2"),
    (rf"\bdivide\s+({_NUM})\s+into\s+({_NUM})", r"\2 / \1"),
)
_TOKEN = re.compile(rf"{_NUM}|sqrt|pct|[-+*/^()]")
_BINARY = {"+": 1, "-": 1, "*": 2, "/": 2, "pct": 2, "^": 3}
_SPOKEN = {"+": "plus", "-": "minus", "*": "times", "/": "divided by", "^": "to the power of",
           "pct": "percent of", "sqrt": "the square root of"}
_PYTHON = {"^": "**", "pct": "/100*", "sqrt": "sqrt"}


@dataclass(frozen=True)
class Sum:
    """An expression found in a sentence: `spoken` for the answer, `python` for a `calculate` tool,
    `value` None when it has no answer (division by zero, a root of a negative)."""

    tokens: tuple[str, ...]
    value: float | None

    @property
    def spoken(self) -> str:
        return " ".join(_SPOKEN.get(token, token) for token in self.tokens if token not in "()")

    @property
    def python(self) -> str:
        text = ""
        for token in self.tokens:
            if token == "sqrt":
                text += "sqrt("
                continue
            text += _PYTHON.get(token, token)
        # A root applies to the number right after it: close its bracket there.
        return re.sub(r"sqrt\((\d+(?:\.\d+)?)", r"(\1)**0.5", text)

    @property
    def answer(self) -> str:
        return format_number(self.value) if self.value is not None else "not defined"


def _symbols(text: str) -> str:
    text = digits_for_words(text)
    for pattern, replacement in _VERB_FORMS:
        text = re.sub(pattern, replacement, text)
    for pattern, replacement in _OPERATOR_PHRASES:
        text = re.sub(pattern, replacement, text)
    return text


class _Parser:
    """Recursive descent over the tokens; raises ValueError on anything that is not a full expression."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def parse(self) -> float:
        value = self.expression(1)
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end")
        self.pos += 1
        return token

    def expression(self, min_level: int) -> float:
        left = self.unary()
        while (op := self.peek()) in _BINARY and _BINARY[op] >= min_level:
            self.take()
            # "^" binds to the right: 2^3^2 is 2^(3^2).
            right = self.expression(_BINARY[op] if op == "^" else _BINARY[op] + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> float:
        token = self.take()
        if token == "-":
            return -self.unary()
        if token == "sqrt":
            operand = self.unary()
            if operand < 0:
                raise ArithmeticError("root of a negative number")
            return math.sqrt(operand)
        if token == "(":
            value = self.expression(1)
            if self.take() != ")":
                raise ValueError("unbalanced bracket")
            return value
        return float(token)


def _apply(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if right == 0:
            raise ArithmeticError("division by zero")
        return left / right
    if op == "pct":
        return left / 100 * right
    if abs(right) > 64 or abs(left) > 1e6:
        raise ArithmeticError("power too large")
    return float(left**right)


def _candidate_runs(tokens: list[str]) -> list[list[str]]:
    """Maximal stretches of symbol tokens the sentence words split apart, longest first."""
    runs: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        if _TOKEN.fullmatch(token):
            current.append(token)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return sorted(runs, key=len, reverse=True)


def find_sum(text: str) -> Sum | None:
    """The arithmetic in `text`, or None when it holds no operator applied to numbers."""
    spaced: list[str] = []
    for word in _symbols(text).split():
        pieces = _TOKEN.findall(word)
        spaced.extend(pieces if "".join(pieces) == word else [word])
    for run in _candidate_runs(spaced):
        # Trim dangling operators the sentence left around the expression ("... times 7 minus?").
        while run and run[-1] in (*_BINARY, "sqrt", "("):
            run = run[:-1]
        while run and run[0] in ("+", "*", "/", "^", "pct", ")"):
            run = run[1:]
        if not any(token in _BINARY or token == "sqrt" for token in run):
            continue
        if not any(re.fullmatch(_NUM, token) for token in run):
            continue
        try:
            value: float | None = _Parser(run).parse()
        except ArithmeticError:
            value = None
        except ValueError:
            continue
        return Sum(tuple(run), value)
    return None

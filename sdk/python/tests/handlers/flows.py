"""Workflow steps for test_workflow.py (real Python workers behind a real gateway)."""

from __future__ import annotations

import fractions
import time
from typing import Any, List


def split(text: str) -> List[str]:
    return text.split()


def length(word: str) -> int:
    if word.startswith("fail"):
        raise ValueError(f"cannot measure {word}")
    if word.startswith("slow"):
        time.sleep(30)
    if word.startswith("pause"):
        time.sleep(0.4)
    return len(word)


def add(acc: int, item: int) -> int:
    return acc + item


def pick(text: str) -> str:
    return "loud" if len(text) < 10 else "count"


def loud(text: str) -> str:
    return text.upper()


# Pickle steps: values that JSON cannot carry (Fractions) on every kind of edge.


def halves(n: int) -> List[fractions.Fraction]:
    """A map step: n fractions 1/2, 1/3, … (pickled list items travel on one by one)."""
    return [fractions.Fraction(1, k + 2) for k in range(n)]


def double(x: fractions.Fraction) -> fractions.Fraction:
    return x * 2


def total(acc: Any, x: fractions.Fraction) -> fractions.Fraction:
    """A reducer: the initial accumulator (JSON 0) arrives as an int, then Fractions."""
    return acc + x


def route_fraction(x: fractions.Fraction) -> List[str]:
    return ["big"] if x > 1 else ["small", "also"]


def tag_big(x: fractions.Fraction) -> Any:
    return ("big", x)


def tag_small(x: fractions.Fraction) -> Any:
    return ("small", x)

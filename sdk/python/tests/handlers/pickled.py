"""Python objects in and out (encoding: pickle)."""

import dataclasses
import fractions


@dataclasses.dataclass(frozen=True)
class Point:
    x: fractions.Fraction
    y: fractions.Fraction


def midpoint(a, b):
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)


def shape(value):
    return {"type": type(value).__name__, "items": sorted(value) if isinstance(value, (set, frozenset)) else value}

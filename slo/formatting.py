"""Numbers in plain words for reasons and tables ("0.412 s", "99.84 %")."""

from __future__ import annotations

import math


def number(value: float | None, digits: int = 4) -> str:
    """A compact, exact-enough rendering: integers as integers, others to ``digits`` significant."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def quantity(value: float | None, unit: str | None, digits: int = 4) -> str:
    """A number with its unit: ``0.412 s``, ``12 %``, ``3 count`` → ``3``."""
    text = number(value, digits)
    if not unit or unit in {"count", "ratio"} or value is None:
        return text
    return f"{text} %" if unit in {"percent", "%"} else f"{text} {unit}"


def percent(fraction: float | None, digits: int = 4) -> str:
    return "n/a" if fraction is None else f"{number(fraction * 100, digits)} %"

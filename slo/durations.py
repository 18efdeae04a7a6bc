"""Prometheus-style durations ("5m", "1h30m", "28d") as seconds, and back.

Windows are written in spec files and templated into PromQL, so they must round-trip exactly in the
syntax Prometheus accepts.
"""

from __future__ import annotations

import re
from functools import lru_cache

from slo.errors import InputError

_UNITS: dict[str, int] = {
    "ms": 0,  # handled separately: sub-second windows are not meaningful for gates
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")


class DurationError(InputError):
    """A duration string that Prometheus would not accept."""


def parse_duration(text: str) -> int:
    """Seconds in a Prometheus duration such as ``"1h30m"``; raises :class:`DurationError`."""
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}: use e.g. 5m, 1h, 28d")
    return _parse_duration(text)


@lru_cache(maxsize=4096)  # pure, and a large gate asks for the same few durations tens of thousands of times
def _parse_duration(text: str) -> int:
    if not _WHOLE.match(text):
        raise DurationError(f"invalid duration {text!r}: use e.g. 5m, 1h, 28d")
    total = 0
    for number, unit in _PART.findall(text):
        if unit == "ms":
            raise DurationError(f"invalid duration {text!r}: sub-second windows are not supported")
        total += int(number) * _UNITS[unit]
    if total <= 0:
        raise DurationError(f"invalid duration {text!r}: must be positive")
    return total


@lru_cache(maxsize=4096)
def format_duration(seconds: int) -> str:
    """The shortest Prometheus duration for a whole number of seconds (``3600`` → ``"1h"``)."""
    if seconds <= 0:
        raise DurationError("duration must be positive")
    parts: list[str] = []
    remaining = int(seconds)
    for unit in ("d", "h", "m", "s"):  # "28d" reads better than "4w"
        size = _UNITS[unit]
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

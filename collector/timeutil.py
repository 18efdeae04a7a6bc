"""Evaluation times: parse ``--at`` and render RFC 3339 the same way everywhere."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

from slo.durations import DurationError, parse_duration
from slo.errors import InputError


class TimeError(InputError):
    pass


_RELATIVE = re.compile(r"^now\s*-\s*(\S+)$", re.IGNORECASE)


def relative_time(text: str, now: float | None = None) -> float | None:
    """``now-1h``, ``now - 30m``, ``now-1d12h`` (Grafana's and promtool's spelling) as Unix seconds; else None."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    try:
        offset = parse_duration(match.group(1))
    except DurationError:
        raise TimeError(f"invalid time {text!r}: use now-<duration> such as now-1h or now-30m") from None
    base = float(int(time.time())) if now is None else now
    return base - offset


MAX_FUTURE_SECONDS = 86400.0
"""How far ahead of the clock ``--at`` may be: a little skew between machines is fine, a gate evaluated
at a time that has not happened yet is evidence about nothing (every query answers "no data")."""
EARLIEST = 0.0
"""The Unix epoch: no telemetry backend holds samples from before it."""


def parse_time(text: str | None, *, now: float | None = None, option: str = "--at") -> float:
    """Unix seconds from RFC 3339 (``2026-01-01T00:00:00Z``), Unix seconds, ``now``, ``now-1h`` or None (now).

    Every time is checked against the range a backend can answer (the epoch up to a day past ``now``):
    ``1e20``, ``nan`` and ``inf`` parse as floats but are no moment a query can be pinned to.
    """
    clock = time.time() if now is None else now
    if text is None or text.strip().lower() == "now":
        return float(int(clock))
    text = text.strip()
    relative = relative_time(text, float(int(clock)))
    if relative is not None:
        return relative
    try:
        seconds = float(text)
    except ValueError:
        seconds = _parse_rfc3339(text, option)
    if not math.isfinite(seconds):
        raise TimeError(f"invalid {option} {text!r}: not a finite time")
    if seconds < EARLIEST:
        raise TimeError(f"invalid {option} {text!r}: before 1970-01-01T00:00:00Z")
    if seconds > clock + MAX_FUTURE_SECONDS:
        raise TimeError(
            f"invalid {option} {text!r}: more than a day in the future (now is {rfc3339(float(int(clock)))})"
        )
    return seconds


def _parse_rfc3339(text: str, option: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeError(
            f"invalid {option} {text[:80]!r}: use RFC 3339 (2026-01-01T00:00:00Z) Unix seconds, now or now-1h"
        ) from None
    if parsed.tzinfo is None:
        raise TimeError(f"invalid {option} {text!r}: no timezone, add Z or an offset")
    return parsed.timestamp()


def rfc3339(seconds: float) -> str:
    """UTC RFC 3339 with a ``Z`` suffix and millisecond precision only when needed."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def compact(seconds: float) -> str:
    """``20260101T000000Z``: for file names."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y%m%dT%H%M%SZ")

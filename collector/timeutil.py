"""Evaluation times: parse ``--at`` and render RFC 3339 the same way everywhere."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from slo.errors import InputError


class TimeError(InputError):
    pass


def parse_time(text: str | None) -> float:
    """Unix seconds from RFC 3339 (``2026-01-01T00:00:00Z``), Unix seconds, or ``now``/None."""
    if text is None or text.strip().lower() == "now":
        return float(int(time.time()))
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeError(f"invalid time {text!r}: use RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds") from None
    if parsed.tzinfo is None:
        raise TimeError(f"time {text!r} has no timezone: add Z or an offset")
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

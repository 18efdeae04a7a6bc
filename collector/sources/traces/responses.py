"""A trace backend's JSON answer decoded, or the query outcome turned into an error saying why.

Jaeger and Tempo answer spans, search results and metrics as JSON; every answer is decoded the same
way: not JSON is a ``garbage`` fault, JSON that is not what the decoder reads is ``bad_data``, and
the reason names the backend. One place, so both sources report a broken answer alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from collector.sources.traces.otlp import TraceDecodeError
from slo.results import Fault, QueryOutcome, Status

T = TypeVar("T")


def decode_answer(
    outcome: QueryOutcome, body: bytes | None, decode: Callable[[Any], T], backend: str, what: str
) -> T | None:
    """``decode(JSON of body)``; None after marking ``outcome`` an error (``{backend} answered non-JSON``, ``{what}: …``)."""
    try:
        return decode(orjson.loads(body or b""))
    except orjson.JSONDecodeError as exc:
        outcome.status, outcome.fault, outcome.reason = (
            Status.ERROR,
            Fault.GARBAGE,
            f"{backend} answered non-JSON: {exc}",
        )
    except TraceDecodeError as exc:
        outcome.status, outcome.fault, outcome.reason = Status.ERROR, Fault.BAD_DATA, f"{what}: {exc}"
    return None

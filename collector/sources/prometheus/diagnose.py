"""Second looks at query outcomes, so a wrong selector can never read as a clean number.

Two faults look harmless in PromQL and are not: a bucket matcher such as ``le="0.30"`` on a histogram
whose boundary is written ``0.3`` selects nothing (and an ``or vector(0)`` turns that into a perfect
zero), and a typo in a label value makes the whole query empty. For the first, every ``le="X"``
matcher on a ``_bucket`` series is checked against the boundaries the histogram really has; for the
second, the selectors of an empty query are counted one by one and the ones matching nothing are named.
"""

from __future__ import annotations

import asyncio
import math

from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from slo.promql.parse import PromqlSyntaxError
from slo.promql.selectors import Selector, find_selectors
from slo.results import Fault, QueryOutcome, Status


def _lookup_range(selector: Selector) -> str:
    return selector.lookup_range or "5m"


def _selectors(query: str) -> list[Selector]:
    """The query's selectors; none when our parser rejects a query the server accepted (nothing to name)."""
    try:
        return find_selectors(query)
    except PromqlSyntaxError:
        return []


def _labels(response: QueryResponse, label: str) -> list[str] | None:
    if response.status != "ok" or response.result_type != "vector" or not isinstance(response.result, list):
        return None
    return [str(s.get("metric", {}).get(label)) for s in response.result if s.get("metric", {}).get(label)]


def _boundary_order(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.inf


async def bucket_problem(client: PrometheusClient, query: str, at: float) -> str | None:
    """Why an ``le="X"`` matcher in ``query`` is not a real bucket boundary, or None when all are."""
    if "_bucket" not in query:  # no bucket selector possible; skips lexing every outcome of a large gate
        return None
    for selector in _selectors(query):
        if not selector.metric or not selector.metric.endswith("_bucket"):
            continue
        for matcher in selector.matchers:
            if matcher.label != "le" or matcher.op != "=":
                continue
            lookup = f"count by (le) (last_over_time({selector.without('le')}[{_lookup_range(selector)}]))"
            boundaries = _labels(await client.instant(lookup, at), "le")
            if not boundaries or matcher.value in boundaries:
                continue  # an empty histogram is reported as no data by the query itself
            ordered = sorted(set(boundaries), key=_boundary_order)
            same = [b for b in ordered if _boundary_order(b) == _boundary_order(matcher.value)]
            hint = f' (the histogram writes this boundary as le="{same[0]}")' if same else ""
            return (
                f'le="{matcher.value}" is not a bucket boundary of {selector.without("le")}{hint}; '
                f"its boundaries are {', '.join(ordered)}"
            )
    return None


async def empty_selectors(client: PrometheusClient, query: str, at: float) -> list[str]:
    """The selectors of ``query`` that match no series in their own range (or the lookback)."""
    selectors = _selectors(query)

    async def is_empty(selector: Selector) -> bool:
        window = selector.lookup_range
        inner = f"last_over_time({selector.over(window)})" if window else selector.instant
        response = await client.instant(f"count({inner})", at)
        return response.status == "ok" and response.result_type == "vector" and not response.result

    flags = await asyncio.gather(*(is_empty(s) for s in selectors))
    return list(dict.fromkeys(s.text for s, empty in zip(selectors, flags, strict=True) if empty))


async def diagnose(client: PrometheusClient, outcome: QueryOutcome, at: float) -> QueryOutcome:
    """``outcome`` with a bucket-boundary error or a reason that names the empty selectors."""
    if outcome.status == "error":
        return outcome
    problem = await bucket_problem(client, outcome.query, at)
    if problem is not None:
        return outcome.model_copy(
            update={"status": Status.ERROR, "value": None, "reason": problem, "fault": Fault.BAD_DATA}
        )
    if outcome.status == "no_data" and outcome.series == 0 and (outcome.reason or "").startswith("no series matched"):
        empty = await empty_selectors(client, outcome.query, at)
        if empty:
            named = ", ".join(empty)
            reason = f"no series matched selector {named}" if len(empty) == 1 else f"no series matched: {named}"
            return outcome.model_copy(update={"reason": f"{reason} (check metric and label names)"})
        reason = "no series matched: every selector has series, but label filters or joins in the query left none"
        return outcome.model_copy(update={"reason": reason})
    return outcome

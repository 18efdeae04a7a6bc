"""Re-derive a packet's values and verdicts offline from the kept raw responses and the recorded spec.

``gatepack verify --deep`` answers "do these bytes really say what the packet claims?". For every check
that read a Prometheus backend it plans the check's queries again from the spec and the recorded
variables, matches them to the recorded outcomes (a grouped query must be the grouped form of the planned
one), decodes each kept body, picks the series a grouped answer was read from, reduces it to a number and
evaluates the check again with the same pure code ``collect`` used. Any disagreement in a query's value,
the check's value, verdict or SLO figures, or the gate's verdict is reported. Checks of other kinds
(load tests, attestations) are named as not rechecked: their inputs are files, not kept responses.

``gatepack recheck`` (:func:`requery_packet`) asks the live backend the recorded questions again at the
recorded time, to show whether the data under the evidence has changed since.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig, QueryResponse, reduce_to_number
from slo.evaluate import evaluate_check, summarize
from slo.promql.grouping import grouped_text, shapes
from slo.promql.plan import PlanError, PlannedQuery, plan_check
from slo.results import CheckResult, QueryOutcome
from slo.spec import Check, Gate, SloCheck, ThresholdCheck
from slo.wire import checks_of

BodyLookup = Callable[[str], "bytes | str"]
"""sha256 -> the kept body, or a sentence saying why it is not available."""


@dataclass
class CheckRecheck:
    id: str
    status: str  # same, different, incomplete, skipped
    notes: list[str] = field(default_factory=list)
    recomputed: CheckResult | None = None


@dataclass
class DeepResult:
    checks: list[CheckRecheck]
    gate_notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.gate_notes and all(c.status in {"same", "skipped"} for c in self.checks)


@functools.cache
def _decoder() -> PrometheusClient:
    """A client that never sends anything: its decoder is the one every live response went through."""
    return PrometheusClient(PrometheusConfig(url="http://127.0.0.1:9"))


def decode_body(body: bytes, query: str, at: float = 0.0) -> QueryResponse:
    """A kept body read exactly the way the client read the live one (status, fault, result type, result)."""
    return _decoder()._decode(body, query, at, 0)


MARKER = "GATEPACKMARKER"  # no RE2 or string escape touches it, so it survives grouped_text unchanged


def _text_matches(planned: str, sent: str, selected: dict[str, str] | None) -> bool:
    """The sent text is the planned one, or the grouped form of it whose series ``selected`` names.

    A grouped form is ``grouped_text(shape, values)`` for the planned query's shape: everything but the
    alternation of values is fixed, so it is compared around a marker value.
    """
    if sent == planned:
        return True
    if selected is None:
        return False
    for shape in shapes(planned):
        if selected.get(shape.label) != shape.value:
            continue
        template = grouped_text(shape, [MARKER])
        head, _, tail = template.partition(MARKER)
        if len(sent) > len(head) + len(tail) and sent.startswith(head) and sent.endswith(tail):
            return True
    return False


def _select(response: QueryResponse, selected: dict[str, str]) -> QueryResponse:
    if response.status != "ok" or not isinstance(response.result, list):
        return response
    series = [s for s in response.result if isinstance(s, dict) and s.get("metric") == selected]
    return replace(response, result=series)  # a copy: grouped members share one cached response


def _outcome(
    planned: PlannedQuery, recorded: QueryOutcome, bodies: BodyLookup, notes: list[str]
) -> tuple[QueryOutcome, bool]:
    """The outcome rebuilt from its kept body; the flag is False when it could not be rebuilt."""
    label = f"query {planned.role}" + (f" [{planned.window}]" if planned.window else "")
    if recorded.role != planned.role or recorded.window != planned.window:
        notes.append(f"{label}: recorded as {recorded.role} [{recorded.window}], the spec plans otherwise")
        return recorded, False
    if not _text_matches(planned.query, recorded.query, recorded.selected):
        notes.append(f"{label}: recorded text {recorded.query!r} is not the spec's {planned.query!r}")
        return recorded, False
    if recorded.response_sha256 is None:
        if recorded.status == "error":
            return recorded, True  # no body came back (connect, timeout): nothing to re-derive
        notes.append(f"{label}: a value is recorded but no response digest")
        return recorded, False
    body = bodies(recorded.response_sha256)
    if isinstance(body, str):
        notes.append(f"{label}: {body}")
        return recorded, False
    response = decode_body(body, recorded.query)
    if recorded.selected is not None:
        response = _select(response, recorded.selected)
    reduced = reduce_to_number(response)
    if recorded.status == "error" and recorded.fault == "bad_data" and reduced.status != "error":
        return recorded, True  # a follow-up diagnosis (e.g. histogram buckets) turned it into an error
    if (reduced.status, reduced.value) != (recorded.status, recorded.value):
        notes.append(
            f"{label}: recorded {recorded.status} {recorded.value!r}, response says {reduced.status} {reduced.value!r}"
        )
    return recorded.model_copy(
        update={"status": reduced.status, "value": reduced.value, "series": reduced.series}
    ), True


def recheck_check(check: Check, recorded: CheckResult, variables: dict[str, str], bodies: BodyLookup) -> CheckRecheck:
    if not isinstance(check, (ThresholdCheck, SloCheck)):
        return CheckRecheck(check.id, "skipped", [f"not rechecked: {check.kind} checks read files, not responses"])
    notes: list[str] = []
    try:
        planned = plan_check(check, variables)
    except PlanError as exc:
        if recorded.queries:
            return CheckRecheck(check.id, "different", [f"the spec cannot plan it ({exc}) but queries are recorded"])
        return CheckRecheck(check.id, "same")
    if len(planned) != len(recorded.queries):
        message = f"the spec plans {len(planned)} queries, the packet records {len(recorded.queries)}"
        return CheckRecheck(check.id, "different", [message])
    outcomes: list[QueryOutcome] = []
    complete = True
    for p, q in zip(planned, recorded.queries, strict=True):
        outcome, rebuilt = _outcome(p, q, bodies, notes)
        complete = complete and rebuilt
        outcomes.append(outcome)
    if not complete:
        missing = all("not kept" in n for n in notes)  # absent is incomplete; altered is different
        return CheckRecheck(check.id, "incomplete" if missing else "different", notes)
    again = evaluate_check(check, outcomes, recorded.evaluated_at or "")
    for name in ("verdict", "value", "effect"):
        was, now = _plain(getattr(recorded, name)), _plain(getattr(again, name))
        if was != now:
            notes.append(f"{name}: recorded {was!r}, recomputed {now!r}")
    if (again.slo and again.slo.model_dump(mode="json")) != (recorded.slo and recorded.slo.model_dump(mode="json")):
        notes.append("SLO figures (SLI, budget, burn rates) differ from the recomputed ones")
    return CheckRecheck(check.id, "different" if notes else "same", notes, again)


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value


def recheck_packet(packet: dict[str, Any], gate: Gate, bodies: BodyLookup) -> DeepResult:
    """Every check of ``packet`` rechecked against ``gate`` (from the recorded spec) and the kept bodies.

    A 2.0.0 packet's outcomes are read through its query table (:func:`slo.wire.checks_of`): each is
    re-derived from the body its table entry names, so an entry whose digest or text was changed shows.
    """
    recorded = [CheckResult.model_validate(c) for c in checks_of(packet)]
    variables = dict(packet.get("evaluation", {}).get("variables", {}))
    by_id = {c.id: c for c in gate.checks}
    results: list[CheckRecheck] = []
    gate_notes: list[str] = []
    final: list[CheckResult] = []
    for item in recorded:
        check = by_id.get(item.id)
        if check is None:
            results.append(CheckRecheck(item.id, "different", ["the recorded spec has no such check"]))
            final.append(item)
            continue
        outcome = recheck_check(check, item, variables, bodies)
        results.append(outcome)
        final.append(outcome.recomputed or item)
    missing = [c.id for c in gate.checks if c.id not in {r.id for r in recorded}]
    if missing:
        gate_notes.append(f"checks in the spec but not in the packet: {', '.join(missing)}")
    summary = summarize(final)
    if summary.verdict.value != packet.get("verdict"):
        gate_notes.append(f"gate verdict: recorded {packet.get('verdict')!r}, recomputed {summary.verdict.value!r}")
    if summary.counts != packet.get("counts"):
        gate_notes.append(f"verdict counts: recorded {packet.get('counts')}, recomputed {summary.counts}")
    return DeepResult(results, gate_notes)


@dataclass
class QueryRecheck:
    check: str
    label: str
    recorded: tuple[str, float | None]
    now: tuple[str, float | None]

    @property
    def same(self) -> bool:
        (s0, v0), (s1, v1) = self.recorded, self.now
        if s0 != s1:
            return False
        if v0 is None or v1 is None:
            return v0 is v1
        return math.isclose(v0, v1, rel_tol=1e-9, abs_tol=1e-12)


async def requery_packet(packet: dict[str, Any], client: PrometheusClient) -> list[QueryRecheck]:
    """Every recorded query sent again at its recorded time; what the backend says now next to what it said.

    A difference means the data under the evidence changed since it was collected: retention deleted
    samples, a backfill or a late remote-write added some, or a recording rule was rebuilt.
    """
    from collector.timeutil import parse_time

    default_time = packet.get("evaluation", {}).get("time")
    jobs: list[tuple[str, str, QueryOutcome, asyncio.Task[QueryResponse]]] = []
    for check in checks_of(packet):
        for raw in check.get("queries") or []:
            query = QueryOutcome.model_validate(raw)
            if query.status == "error" and query.response_sha256 is None:
                continue  # nothing came back then (connect, timeout): nothing to compare
            at = parse_time(query.time or default_time)
            label = f"{query.role}" + (f" [{query.window}]" if query.window else "")
            jobs.append((check["id"], label, query, client.instant(query.query, at)))
    results: list[QueryRecheck] = []
    for check_id, label, query, task in jobs:
        response = await task
        if query.selected is not None:
            response = _select(response, query.selected)
        reduced = reduce_to_number(response)
        results.append(QueryRecheck(check_id, label, (query.status, query.value), (reduced.status, reduced.value)))
    return results

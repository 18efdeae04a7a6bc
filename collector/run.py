"""Evaluate one gate: plan its queries, send each distinct one once, decide every check.

Checks that read a Prometheus backend go through :class:`~collector.sources.prometheus.client.PrometheusClient`;
other kinds (attestations, load-test results) are answered by evaluators the caller registers by kind.
A fault in one check never stops the others: it becomes that check's ``error`` or ``no_data``.
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from collector.sources.prometheus.client import PrometheusClient, QueryResponse, reduce_to_number
from collector.sources.prometheus.diagnose import diagnose
from collector.sources.prometheus.grouping import GroupingClient
from collector.timeutil import rfc3339
from slo import __version__
from slo.durations import parse_duration
from slo.evaluate import GateSummary, error_result, evaluate_check, summarize
from slo.evidence import (
    Backend,
    Collector,
    Evaluation,
    EvidencePacket,
    GateRef,
    InputFile,
    SpecRef,
    Subject,
    seal,
)
from slo.promql.plan import PlanError, PlannedQuery, plan_check
from slo.results import CheckResult, QueryOutcome
from slo.spec import Check, Gate, SloCheck, ThresholdCheck

CheckEvaluator = Callable[[Check, str], CheckResult]
"""Answers a check of a non-Prometheus kind: ``(check, evaluated_at) -> result``."""

PROMETHEUS_KINDS = (ThresholdCheck, SloCheck)
UNREACHABLE_FAULTS = {"connect"}


@dataclass(repr=False)  # asyncio formats the run's result into a discarded message; a full repr costs seconds
class GateRun:
    gate: Gate
    at: float
    variables: dict[str, str]
    results: list[CheckResult]
    summary: GateSummary
    windows: list[str] = field(default_factory=list)
    backend_unreachable: bool = False
    requests_sent: int = 0

    def __repr__(self) -> str:
        return f"GateRun(gate={self.gate.id!r}, checks={len(self.results)}, verdict={self.summary.verdict.value!r})"


def gate_variables(gate: Gate, overrides: Mapping[str, str]) -> dict[str, str]:
    """Spec defaults overridden by ``--var k=v``."""
    return {**gate.vars, **overrides}


def _outcome(planned: PlannedQuery, response: QueryResponse, backend: str, at: str) -> QueryOutcome:
    reduced = reduce_to_number(response)
    return QueryOutcome(
        role=planned.role,
        window=planned.window,
        query=response.query,  # the text really sent: a grouped query when several checks shared one
        backend=backend,
        time=at,
        status=reduced.status,
        value=reduced.value,
        series=reduced.series,
        reason=reduced.reason,
        fault=response.fault,
        response_sha256=response.response_sha256,
        attempts=response.attempts,
        warnings=response.warnings,
        selected=response.selected,
    )


def _bind(evaluator: CheckEvaluator, gate: Gate) -> CheckEvaluator:
    """Evaluators whose answer depends on the gate (attestations are per gate) offer ``bind_gate``."""
    bind = getattr(evaluator, "bind_gate", None)
    return bind(gate) if callable(bind) else evaluator


async def evaluate_gate(
    gate: Gate,
    *,
    at: float,
    variables: Mapping[str, str] | None = None,
    client: PrometheusClient | None = None,
    evaluators: Mapping[str, CheckEvaluator] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> GateRun:
    """Every check of ``gate`` evaluated at ``at``; results keep the spec's check order."""
    values = gate_variables(gate, variables or {})
    evaluated_at = rfc3339(at)
    evaluators = {kind: _bind(fn, gate) for kind, fn in (evaluators or {}).items()}
    results: dict[str, CheckResult] = {}
    windows: set[str] = set()

    def done(result: CheckResult) -> None:
        results[result.id] = result
        if on_result is not None:
            on_result(result)

    async def run_prometheus_check(check: Check, planned: list[PlannedQuery]) -> None:
        assert client is not None
        assert grouper is not None
        responses = await asyncio.gather(*(grouper.instant(p.query) for p in planned))
        outcomes = [_outcome(p, r, client.public_url, evaluated_at) for p, r in zip(planned, responses, strict=True)]
        outcomes = list(await asyncio.gather(*(diagnose(client, o, at) for o in outcomes)))
        done(evaluate_check(check, outcomes, evaluated_at))

    # checks that differ only in one label value share a query; planned before any task runs
    grouper = GroupingClient(client, at) if client is not None else None
    pending: list[asyncio.Future[None]] = []
    for check in gate.checks:
        if isinstance(check, PROMETHEUS_KINDS):
            try:
                planned = plan_check(check, values)
            except PlanError as exc:
                done(error_result(check, str(exc), evaluated_at))
                continue
            windows.update(p.window for p in planned if p.window)
            if client is None or grouper is None:
                done(error_result(check, "no Prometheus backend given (--prometheus URL)", evaluated_at))
                continue
            grouper.add(p.query for p in planned)
            pending.append(asyncio.ensure_future(run_prometheus_check(check, planned)))
        elif check.kind in evaluators:
            try:
                done(evaluators[check.kind](check, evaluated_at))
            except Exception as exc:  # an evaluator bug must not lose the rest of the gate
                done(error_result(check, f"{check.kind} evaluation failed: {exc}", evaluated_at))
        else:
            done(error_result(check, f"no input for {check.kind} checks was given", evaluated_at))
    if pending:
        await asyncio.gather(*pending)

    ordered = [results[c.id] for c in gate.checks]
    queried = [q for r in ordered for q in r.queries]
    unreachable = bool(queried) and all(q.status == "error" and q.fault in UNREACHABLE_FAULTS for q in queried)
    return GateRun(
        gate=gate,
        at=at,
        variables=values,
        results=ordered,
        summary=summarize(ordered),
        windows=sorted(windows, key=parse_duration),
        backend_unreachable=unreachable,
        requests_sent=client.requests_sent if client else 0,
    )


def build_packet(
    run: GateRun,
    *,
    spec_path: str,
    spec_sha256: str,
    subject: Subject,
    started_at: float,
    finished_at: float,
    backends: list[Backend],
    inputs: list[InputFile] | None = None,
) -> EvidencePacket:
    """A sealed evidence packet for one gate run."""
    gate = run.gate
    packet = EvidencePacket(
        gate=GateRef(id=gate.id, title=gate.title, sprint=gate.sprint, owner=gate.owner, labels=dict(gate.labels)),
        subject=subject,
        evaluation=Evaluation(
            time=rfc3339(run.at),
            started_at=rfc3339(started_at),
            finished_at=rfc3339(finished_at),
            windows=run.windows,
            variables=run.variables,
        ),
        collector=Collector(version=__version__, python=platform.python_version()),
        spec=SpecRef(path=spec_path, sha256=spec_sha256),
        backends=backends,
        inputs=inputs or [],
        checks=run.results,
        verdict=run.summary.verdict,
        counts=run.summary.counts,
    )
    return seal(packet)

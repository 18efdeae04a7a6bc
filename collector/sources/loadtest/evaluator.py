"""The ``loadtest`` check evaluator that ``collect`` and ``ingest`` register with the engine."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from collector.run import CheckEvaluator
from collector.sinks.files import sha256_file
from collector.sources.loadtest.detect import read_file, reconcile
from collector.sources.loadtest.measure import LoadtestData, Window, aggregates, measure, prepare, select
from slo.evaluate import error_result
from slo.evidence import InputFile
from slo.loadtest import evaluate_loadtest
from slo.results import CheckResult
from slo.spec import Check, LoadtestCheck

STANDARD = frozenset({"latency", "error_rate", "requests", "throughput"})
"""Check metrics answered from the requests table; any other metric reads a tool metric's raw points."""


def sample_metrics(checks: Iterable[Check]) -> frozenset[str]:
    """The raw-point metrics (k6 names) some loadtest check reads, so readers can skip the others."""
    return frozenset(c.metric for c in checks if isinstance(c, LoadtestCheck) and c.metric not in STANDARD)


def load(
    paths: list[Path], forced: str | None = None, window: Window | None = None, metrics: Iterable[str] | None = None
) -> LoadtestData:
    """Read, reconcile and trim every input file; raises LoadtestFormatError naming the bad file.

    ``metrics`` (see :func:`sample_metrics`): raw-point metrics to keep; None keeps every one.
    """
    results = [read_file(path, forced, metrics) for path in paths]
    kept, notes = reconcile(results)
    data = prepare(kept, window)
    data.notes[:0] = notes
    data.given = results
    return data


def input_files(data: LoadtestData) -> list[InputFile]:
    """Provenance: every given input's sha256, size and detected format (ignored ones too)."""
    found = []
    for item in data.given or data.results:
        digest, size = sha256_file(item.source)
        found.append(InputFile(path=str(item.source), sha256=digest, size=size, role="loadtest", format=item.format))
    return found


def _tool_thresholds(data: LoadtestData, check: LoadtestCheck) -> list[dict[str, Any]]:
    base = {"latency": "http_req_duration", "error_rate": "http_req_failed", "requests": "http_reqs"}.get(
        check.metric, "http_reqs" if check.metric == "throughput" else check.metric
    )
    return [
        {"metric": t.metric, "threshold": t.expression, "ok": t.ok, "source": str(r.source)}
        for r in data.results
        for t in r.thresholds
        if t.metric.split("{", 1)[0] == base
    ]


def details_for(data: LoadtestData, check: LoadtestCheck) -> dict[str, Any]:
    details: dict[str, Any] = {"inputs": data.sources}
    if data.precision:
        details["precision"] = data.precision
    thresholds = _tool_thresholds(data, check)
    if thresholds:
        details["tool_thresholds"] = thresholds
    if data.notes:
        details["notes"] = data.notes
    if data.requests is not None and check.metric in {"latency", "error_rate", "requests", "throughput"}:
        rows, problem = select(data.requests, check.label, dict(check.tags))
        if not problem:
            details["aggregates"] = aggregates(rows, data.duration_seconds)
    return details


def evaluate(data: LoadtestData, check: LoadtestCheck, evaluated_at: str) -> CheckResult:
    measurement, reason = measure(data, check)
    return evaluate_loadtest(check, measurement, evaluated_at, missing_reason=reason, details=details_for(data, check))


def make_evaluator(data: LoadtestData) -> CheckEvaluator:
    def evaluator(check: Check, evaluated_at: str) -> CheckResult:
        if not isinstance(check, LoadtestCheck):
            return error_result(check, f"not a loadtest check: {check.kind}", evaluated_at)
        return evaluate(data, check, evaluated_at)

    return evaluator

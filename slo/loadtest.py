"""Decide load-test checks: k6 threshold syntax, exact aggregations, verdicts. Pure: arrays in, results out.

Readers (in ``collector.sources.loadtest``) turn tool output into a :class:`Measurement` per check; this module
parses the check's threshold, computes the one number it compares and decides the verdict. Percentiles
use k6's own method (linear interpolation between the closest ranks, ``rank = p·(n-1)``), so ``p(95)``
over the same samples equals the number k6 prints; with weights (histogram buckets) the result is the
same as over the expanded samples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slo.errors import InputError
from slo.evaluate import result
from slo.formatting import number, quantity
from slo.results import CheckResult, Verdict
from slo.spec import LoadtestCheck, Op

K6_METRIC: dict[str, str] = {
    "latency": "http_req_duration",
    "error_rate": "http_req_failed",
    "requests": "http_reqs",
    "throughput": "http_reqs",
}
"""The load-test vocabulary, in one place: each standard check metric and the k6 metric it reads.

Every reader maps its tool's figures onto these k6 names (a JMeter ``elapsed`` becomes an
``http_req_duration`` point); any other check metric names a tool metric directly."""
STANDARD_METRICS = frozenset(K6_METRIC)


def k6_metric(metric: str) -> str:
    """The k6 metric a check metric reads: the standard ones mapped, any other as written."""
    return K6_METRIC.get(metric, metric)


TREND_AGGREGATIONS = ("avg", "min", "med", "max")
_THRESHOLD = re.compile(
    r"^\s*(?P<agg>[A-Za-z]+(?:\(\s*[0-9.]+\s*\))?)\s*(?P<op>===|<=|>=|==|!=|<|>)\s*(?P<target>\S+)\s*$"
)
_PERCENTILE = re.compile(r"^p\(\s*(?P<p>[0-9]+(?:\.[0-9]+)?)\s*\)$")


class ThresholdError(InputError):
    """A threshold or aggregation that cannot be understood; the check becomes ``error``, never a pass."""


@dataclass(frozen=True)
class Threshold:
    aggregation: str  # avg, min, med, max, p(N), rate, count, value
    op: Op
    target: float

    @property
    def text(self) -> str:
        return f"{self.aggregation}{self.op.value}{number(self.target, 12)}"


def parse_threshold(text: str) -> Threshold:
    """``"p(95)<100"`` → Threshold(p(95), <, 100). k6's ``===`` is read as ``==``."""
    match = _THRESHOLD.match(text)
    if not match:
        raise ThresholdError(f"cannot parse threshold {text!r}: expected e.g. 'p(95)<100', 'rate<0.01', 'count>=100'")
    try:
        target = float(match["target"])
    except ValueError:
        raise ThresholdError(f"threshold {text!r}: {match['target']!r} is not a number") from None
    if not math.isfinite(target):
        raise ThresholdError(f"threshold {text!r}: target must be finite")
    aggregation = normalise_aggregation(match["agg"])
    op = "==" if match["op"] == "===" else match["op"]
    return Threshold(aggregation, Op(op), target)


def normalise_aggregation(text: str) -> str:
    """Canonical aggregation name (``p( 95 )`` → ``p(95)``); unknown names raise."""
    text = text.strip()
    found = _PERCENTILE.match(text)
    if found:
        p = float(found["p"])
        if not 0 <= p <= 100:
            raise ThresholdError(f"percentile {text!r} must be between 0 and 100")
        return f"p({number(p, 12)})"
    if text in {*TREND_AGGREGATIONS, "rate", "count", "value"}:
        return text
    raise ThresholdError(f"unknown aggregation {text!r}: use avg, min, med, max, p(N), rate, count or value")


def percentile(values: np.ndarray, p: float, weights: np.ndarray | None = None) -> float:
    """k6's percentile: sort, rank ``i = p/100·(n-1)``, interpolate linearly between ranks ⌊i⌋ and ⌈i⌉.

    With ``weights`` (integer repeat counts) the answer equals the one over the expanded array, without
    expanding it.
    """
    if weights is None:
        if values.size == 0:
            raise ValueError("no values")
        return float(np.percentile(values, p, method="linear"))
    if values.size and weights.size == values.size and bool(np.all(weights == 1)):
        # one sample per value (k6 requests): the two ranks straight from a partial sort, O(n) instead of
        # a full sort, and the same two order statistics the cumulative search below finds
        rank = p / 100.0 * (values.size - 1)
        low, high = math.floor(rank), math.ceil(rank)
        ranked = np.partition(values, (low, high))
        low_value, high_value = float(ranked[low]), float(ranked[high])
        return low_value + (high_value - low_value) * (rank - low)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    cumulative = np.cumsum(weights[order])
    total = int(cumulative[-1]) if cumulative.size else 0
    if total <= 0:
        raise ValueError("no values")
    rank = p / 100.0 * (total - 1)
    low, high = math.floor(rank), math.ceil(rank)
    # the value at 0-based rank r is the first bucket whose cumulative count exceeds r
    low_value = float(sorted_values[np.searchsorted(cumulative, low, side="right")])
    high_value = float(sorted_values[np.searchsorted(cumulative, high, side="right")])
    return low_value + (high_value - low_value) * (rank - low)


@dataclass(frozen=True)
class Measurement:
    """The data one check is decided on, in the metric's native unit (ms for k6 time trends).

    Either raw ``values`` (optionally ``weights``: how many samples each value stands for) or
    ``aggregates`` a tool computed itself (a k6 summary), keyed by k6 names (avg, p(95), rate, count …).
    """

    type: str  # trend, rate, counter, gauge
    unit: str | None
    samples: int
    values: np.ndarray | None = None
    weights: np.ndarray | None = None
    aggregates: Mapping[str, float] = field(default_factory=dict)
    duration_seconds: float | None = None
    source: str = ""


def aggregate(measurement: Measurement, aggregation: str) -> float:
    """The number ``aggregation`` names, from raw values when there are any, else from the tool's aggregates."""
    if measurement.values is None:
        if aggregation in measurement.aggregates:
            return float(measurement.aggregates[aggregation])
        if aggregation == "p(50)" and "med" in measurement.aggregates:
            return float(measurement.aggregates["med"])
        have = ", ".join(sorted(measurement.aggregates)) or "nothing"
        raise ThresholdError(f"{measurement.source or 'the input'} has no {aggregation} (it has {have})")
    values, weights = measurement.values, measurement.weights
    w = np.ones(values.size) if weights is None else weights.astype(float)
    if measurement.type == "counter":
        total = float(np.sum(values * w))
        if aggregation == "count":
            return total
        if aggregation == "rate":
            return _per_second(total, measurement)
    elif measurement.type == "rate":
        if aggregation == "rate":
            return float(np.sum((values != 0) * w) / np.sum(w))
    elif measurement.type in {"trend", "gauge"}:
        if aggregation == "avg":
            return float(np.sum(values * w) / np.sum(w))
        if aggregation == "min":
            return float(np.min(values))
        if aggregation == "max":
            return float(np.max(values))
        if aggregation in {"med", "p(50)"}:
            return percentile(values, 50.0, weights)
        found = _PERCENTILE.match(aggregation)
        if found:
            return percentile(values, float(found["p"]), weights)
        if aggregation == "value" and measurement.type == "gauge":
            return float(values[-1])
    raise ThresholdError(f"aggregation {aggregation!r} does not apply to a {measurement.type} metric")


def _per_second(total: float, measurement: Measurement) -> float:
    if not measurement.duration_seconds or measurement.duration_seconds <= 0:
        raise ThresholdError(f"{measurement.source or 'the input'} gives no test duration to compute a rate from")
    return total / measurement.duration_seconds


# Each standard metric: the aggregations it accepts, the aggregation used when none is given, the unit
# its numbers are in, and the units a check may state instead (with the factor from the native unit).
_STANDARD: dict[str, tuple[tuple[str, ...], str, str, dict[str, float]]] = {
    "latency": (("avg", "min", "med", "max", "p"), "p(95)", "ms", {"ms": 1.0, "s": 0.001, "us": 1000.0}),
    "error_rate": (("rate",), "rate", "ratio", {"ratio": 1.0, "%": 100.0, "percent": 100.0}),
    "requests": (("count",), "count", "count", {"count": 1.0, "requests": 1.0}),
    "throughput": (("rate",), "rate", "req/s", {"req/s": 1.0, "rps": 1.0, "req/min": 60.0}),
}


@dataclass(frozen=True)
class Plan:
    """What a check compares: aggregation, operator, target, warning bound, unit and unit factor."""

    aggregation: str
    op: Op
    target: float
    warn: float | None
    unit: str | None
    factor: float

    @property
    def objective(self) -> str:
        return f"{self.aggregation} {self.op.value} {quantity(self.target, self.unit)}"


def plan(check: LoadtestCheck) -> Plan:
    """Validate the check's threshold against its metric; raises :class:`ThresholdError`."""
    if check.threshold is not None:
        threshold = parse_threshold(check.threshold)
        aggregation, op, target = threshold.aggregation, threshold.op, threshold.target
    else:
        assert check.op is not None and check.target is not None
        op, target = check.op, check.target
        default = _STANDARD[check.metric][1] if check.metric in _STANDARD else None
        if check.aggregation is None and default is None:
            raise ThresholdError(f"metric {check.metric!r} needs an 'aggregation' with op/target")
        aggregation = normalise_aggregation(check.aggregation or default or "")
    if check.metric not in _STANDARD:
        return Plan(aggregation, op, target, check.warn, check.unit, 1.0)
    allowed, _default, native, units = _STANDARD[check.metric]
    kind = "p" if aggregation.startswith("p(") else aggregation
    if kind not in allowed:
        raise ThresholdError(
            f"metric {check.metric!r} takes {', '.join(a if a != 'p' else 'p(N)' for a in allowed)}, not {aggregation!r}"
        )
    unit = check.unit or native
    if unit not in units:
        raise ThresholdError(
            f"unit {unit!r} does not fit metric {check.metric!r} (its numbers are in {native}; "
            f"allowed: {', '.join(units)})"
        )
    if check.threshold is not None and check.unit not in (None, native):
        raise ThresholdError(f"k6 threshold syntax compares in {native}; drop 'unit' or use op/target")
    return Plan(aggregation, op, target, check.warn, unit, units[unit])


def native_unit(metric: str) -> str | None:
    return _STANDARD[metric][2] if metric in _STANDARD else None


def evaluate_loadtest(
    check: LoadtestCheck,
    measurement: Measurement | None,
    evaluated_at: str | None,
    *,
    missing_reason: str = "no load-test data for this check",
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """Verdict for one loadtest check; a measurement with too few samples is ``no_data``, never a pass."""
    details = dict(details or {})
    try:
        how = plan(check)
    except ThresholdError as exc:
        return result(check, Verdict.ERROR, str(exc), evaluated_at, details=details or None)
    common: dict[str, Any] = {"unit": how.unit, "objective": how.objective}
    if measurement is None:
        return result(check, Verdict.NO_DATA, missing_reason, evaluated_at, details=details or None, **common)
    details.update(samples=measurement.samples, source=measurement.source)
    needed = max(check.min_samples, 1)
    if measurement.samples < needed:
        reason = (
            f"only {measurement.samples} sample(s) in {measurement.source or 'the input'}, "
            f"fewer than min_samples {needed}: the load test did not run (enough)"
        )
        return result(check, Verdict.NO_DATA, reason, evaluated_at, details=details, **common)
    try:
        raw = aggregate(measurement, how.aggregation)
    except ThresholdError as exc:
        return result(check, Verdict.ERROR, str(exc), evaluated_at, details=details, **common)
    if not math.isfinite(raw):
        return result(check, Verdict.NO_DATA, f"{how.aggregation} is not a number", evaluated_at, details=details)
    value = raw * how.factor
    common.update(value=value, details=details)
    shown = quantity(value, how.unit)
    target = quantity(how.target, how.unit)
    if not how.op.holds(value, how.target):
        reason = f"{how.aggregation} {shown} {how.op.negated} {target} (target {how.objective})"
        return result(check, Verdict.FAIL, reason, evaluated_at, **common)
    if how.warn is not None and not how.op.holds(value, how.warn):
        reason = f"{how.aggregation} {shown} passes but crosses the warning bound {how.op.value} " + quantity(
            how.warn, how.unit
        )
        return result(check, Verdict.WARN, reason, evaluated_at, **common)
    return result(check, Verdict.PASS, f"{how.aggregation} {shown} {how.op.value} {target}", evaluated_at, **common)

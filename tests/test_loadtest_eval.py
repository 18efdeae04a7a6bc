"""Pure load-test evaluation: k6 threshold syntax, k6's percentile method, units, the sample guard."""

from __future__ import annotations

import numpy as np
import pytest

from slo.loader import load_gates
from slo.loadtest import Measurement, ThresholdError, evaluate_loadtest, parse_threshold, percentile
from slo.results import Verdict
from slo.spec import LoadtestCheck, Op

ISSUE_SPEC = """
apiVersion: gatepack/v1
kind: Gate
id: perf
title: Perf
checks:
  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<100"}        # latency in ms
  - {id: p99-fast, kind: loadtest, metric: latency, label: fast, threshold: "p(99)<20"}
  - {id: errors, kind: loadtest, metric: error_rate, threshold: "rate<0.05"}
  - {id: volume, kind: loadtest, metric: requests, threshold: "count>=100"}
  - {id: rps, kind: loadtest, metric: throughput, op: ">=", target: 20, unit: "req/s"}
"""


def check(**fields: object) -> LoadtestCheck:
    return LoadtestCheck(kind="loadtest", id="c", **fields)


def trend(values: list[float], weights: list[int] | None = None) -> Measurement:
    w = None if weights is None else np.array(weights)
    n = len(values) if weights is None else int(sum(weights))
    return Measurement("trend", "ms", n, np.array(values, dtype=float), w, source="test")


def test_the_issue_spec_loads_as_written() -> None:
    gate = load_gates(ISSUE_SPEC, "perf.yaml")[0]
    assert [c.kind for c in gate.checks] == ["loadtest"] * 5
    assert gate.checks[1].label == "fast"


@pytest.mark.parametrize(
    ("text", "aggregation", "op", "target"),
    [
        ("p(95)<100", "p(95)", Op.LT, 100.0),
        ("p(99.9) <= 250.5", "p(99.9)", Op.LE, 250.5),
        ("rate<0.05", "rate", Op.LT, 0.05),
        ("count>=100", "count", Op.GE, 100.0),
        ("avg===3", "avg", Op.EQ, 3.0),
        ("med != 0", "med", Op.NE, 0.0),
    ],
)
def test_k6_threshold_syntax(text: str, aggregation: str, op: Op, target: float) -> None:
    parsed = parse_threshold(text)
    assert (parsed.aggregation, parsed.op, parsed.target) == (aggregation, op, target)


@pytest.mark.parametrize("text", ["p95<100", "p(101)<1", "rate", "rate<abc", "foo<1", "count>=inf"])
def test_bad_thresholds_are_errors(text: str) -> None:
    with pytest.raises(ThresholdError):
        parse_threshold(text)


def test_percentile_is_k6s_linear_interpolation_between_closest_ranks() -> None:
    values = np.array([10.0, 20.0, 30.0, 40.0])
    # rank = 0.95 * 3 = 2.85 → 30 + 0.85 * (40 - 30), worked out by hand
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0


def test_weighted_percentile_equals_the_expanded_array() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(1, 300, size=40).astype(float)
    weights = rng.integers(1, 9, size=40)
    expanded = np.repeat(values, weights)
    for p in (0, 1, 33.3, 50, 90, 95, 99, 99.9, 100):
        assert percentile(values, p, weights) == pytest.approx(np.percentile(expanded, p), rel=1e-12)


def test_verdicts_and_value_in_threshold_units() -> None:
    data = trend([10, 20, 30, 40])
    assert evaluate_loadtest(check(metric="latency", threshold="p(95)<100"), data, "t").verdict is Verdict.PASS
    failed = evaluate_loadtest(check(metric="latency", threshold="p(95)<30"), data, "t")
    assert failed.verdict is Verdict.FAIL and failed.value == pytest.approx(38.5) and failed.unit == "ms"
    seconds = evaluate_loadtest(check(metric="latency", aggregation="max", op="<", target=1, unit="s"), data, "t")
    assert seconds.value == pytest.approx(0.04) and seconds.unit == "s"
    warned = evaluate_loadtest(check(metric="latency", aggregation="avg", op="<", target=100, warn=20), data, "t")
    assert warned.verdict is Verdict.WARN


def test_too_few_samples_is_no_data_never_a_pass() -> None:
    empty = Measurement("trend", "ms", 0, np.array([]), source="test")
    result = evaluate_loadtest(check(metric="latency", threshold="p(95)<100"), empty, "t")
    assert result.verdict is Verdict.NO_DATA
    few = trend([1, 2, 3])
    guarded = evaluate_loadtest(check(metric="latency", threshold="p(95)<100", min_samples=10), few, "t")
    assert guarded.verdict is Verdict.NO_DATA and "min_samples" in guarded.reason
    assert evaluate_loadtest(check(metric="latency", threshold="p(95)<100"), None, "t").verdict is Verdict.NO_DATA


@pytest.mark.parametrize(
    "fields",
    [
        {"metric": "latency", "aggregation": "p(95)", "op": "<", "target": 5, "unit": "req/s"},  # wrong dimension
        {"metric": "latency", "threshold": "p(95)<0.1", "unit": "s"},  # k6 syntax is in ms
        {"metric": "error_rate", "threshold": "p(95)<1"},  # not an aggregation of a rate
        {"metric": "throughput", "op": ">", "target": 5, "unit": "ms"},
        {"metric": "http_req_waiting", "op": "<", "target": 5},  # custom metric needs an aggregation
    ],
)
def test_mixed_units_and_wrong_aggregations_are_errors(fields: dict) -> None:
    result = evaluate_loadtest(check(**fields), trend([1, 2, 3]), "t")
    assert result.verdict is Verdict.ERROR


def test_tool_summary_without_the_requested_percentile_is_an_error() -> None:
    summary = Measurement("trend", "ms", 50, aggregates={"avg": 5.0, "p(95)": 9.0}, source="summary")
    assert evaluate_loadtest(check(metric="latency", threshold="p(95)<10"), summary, "t").value == 9.0
    missing = evaluate_loadtest(check(metric="latency", threshold="p(99)<10"), summary, "t")
    assert missing.verdict is Verdict.ERROR and "p(99)" in missing.reason


def test_error_rate_and_throughput() -> None:
    rate = Measurement("rate", "ratio", 10, np.array([1.0, 0.0]), np.array([1, 9]), source="t")
    result = evaluate_loadtest(check(metric="error_rate", threshold="rate<0.05"), rate, "t")
    assert result.verdict is Verdict.FAIL and result.value == pytest.approx(0.1)
    percent = evaluate_loadtest(check(metric="error_rate", op="<", target=20, unit="%"), rate, "t")
    assert percent.value == pytest.approx(10.0) and percent.verdict is Verdict.PASS
    counter = Measurement("counter", "count", 120, np.ones(1), np.array([120]), duration_seconds=4.0, source="t")
    rps = evaluate_loadtest(check(metric="throughput", op=">=", target=20, unit="req/s"), counter, "t")
    assert rps.value == pytest.approx(30.0) and rps.verdict is Verdict.PASS

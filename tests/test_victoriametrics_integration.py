"""The ground-truth integration tests again, against a real VictoriaMetrics (Debian's ``victoria-metrics``).

The same generated history as the Prometheus tests (tests/groundtruth.py) is loaded through
``/api/v1/import/prometheus``, and the same closed-form truth is asserted: for this history the two
engines agree, because every counter starts at 0 on a 1-minute grid aligned with every window.

Where VictoriaMetrics' semantics differ from Prometheus, the difference is computed for each engine
from its own documented rule, independently of gatepack, and asserted on both real servers:
- ``increase()``: Prometheus (2.x) takes the samples in the closed range ``[t-w, t]`` and extrapolates
  towards the window's edges (by half an interval when the data stops short of an edge, to the zero
  point at most for a counter); VictoriaMetrics does not extrapolate: it subtracts the last sample
  *before* the window ``(t-w, t]``; for a series born inside the window it counts from 0 when the first
  value is small next to the increments, else from the first sample. A counter born 10 minutes ago at
  1000, +10 a minute, gives ``increase([30m])`` = 105 on Prometheus and 100 on VictoriaMetrics (born at
  10 instead, both answer 110). A 7.5-minute window over a +10/minute counter: Prometheus 75 (70 seen,
  scaled to the window), VictoriaMetrics 80 (from the sample 8 minutes back).
- lookbehind of an instant selector: Prometheus' 5-minute lookback includes a sample exactly 5 minutes
  old (closed range); VictoriaMetrics' window is open on the left, so at ``t = last + 5m`` it has nothing.
- ``/api/v1/parse_query`` does not exist there (400, plain text; Prometheus answers 404 on old versions):
  ``validate`` falls back to an instant query at the epoch. (Its own query errors are ``errorType: 422``
  where Prometheus says ``bad_data``; gatepack's parser refuses invalid PromQL before either sees it.)
"""

from __future__ import annotations

import asyncio
import math

import httpx
import numpy as np
import pytest

from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.testing.openmetrics import Family, Series
from collector.testing.vmserver import VictoriaMetricsUnavailable, find_victoriametrics, running_victoriametrics
from slo.results import Verdict
from tests import groundtruth as truth
from tests import test_prometheus_integration as prom
from tests.conftest import unavailable

pytestmark = pytest.mark.integration

NEWBORN_START = truth.END - 600
NEWBORN_TIMES = np.arange(NEWBORN_START, truth.END + 1, 60)
STEPS = 10.0 * np.arange(len(NEWBORN_TIMES))  # +10 a minute
NEWBORN = {"small": 10.0 + STEPS, "large": 1000.0 + STEPS}
"""Two counters born 10 minutes before END: at 10 (as if from 0 a minute ago) and at 1000 (a restart-less
counter first scraped late)."""


def newborn() -> list[Family]:
    """The two newborn counters, and a gauge sampled every minute for an hour up to END."""
    jobs = Family(
        "jobs",
        "counter",
        "jobs done",
        [Series("jobs_total", {"start": k}, NEWBORN_TIMES, v) for k, v in NEWBORN.items()],
    )
    times = np.arange(truth.END - 3600, truth.END + 1, 60)
    temperature = Family("room_temperature", "gauge", "", [Series("room_temperature", {}, times, np.full(61, 21.5))])
    return [jobs, temperature]


@pytest.fixture(scope="module")
def vm():
    try:
        find_victoriametrics()
    except VictoriaMetricsUnavailable as exc:
        unavailable(str(exc))
    with running_victoriametrics([*truth.families(), *newborn()]) as server:
        yield server


@pytest.mark.parametrize(
    ("service", "verdict"),
    [("checkout", Verdict.FAIL), ("search", Verdict.PASS), ("billing", Verdict.WARN)],
)
def test_ratio_slo_matches_closed_form(vm, service, verdict):
    prom.test_ratio_slo_matches_closed_form(vm, service, verdict)


def test_good_total_form_gives_the_same_sli(vm):
    prom.test_good_total_form_gives_the_same_sli(vm)


def test_warn_budget_remaining(vm):
    prom.test_warn_budget_remaining(vm)


def test_thresholds_faults_and_dedup(vm):
    """As on Prometheus, except the parse error's type: ``422`` here, ``bad_data`` there."""
    run, requests = prom.run_gate(vm.url, prom.THRESHOLDS)
    by_id = {r.id: r for r in run.results}
    for check, q in (("p95", 0.95), ("p50", 0.50), ("p99", 0.99)):
        assert by_id[check].value == pytest.approx(truth.histogram_quantile(q)), check
    assert [by_id[c].verdict for c in ("p95", "p50", "p99")] == [Verdict.FAIL, Verdict.WARN, Verdict.PASS]
    assert by_id["typo"].verdict is Verdict.NO_DATA and 'service="chekout"' in by_id["typo"].reason
    assert by_id["typo-advisory"].effect.value == "warn"
    assert by_id["many-series"].verdict is Verdict.ERROR and "6 series" in by_id["many-series"].reason
    invalid = by_id["invalid"]  # refused by gatepack's own parser before sending, as on Prometheus
    assert invalid.verdict is Verdict.ERROR and "not valid PromQL (unclosed left parenthesis)" in invalid.reason
    assert run.summary.verdict is Verdict.FAIL
    assert requests == 7  # as on Prometheus: one presence lookup for the histogram, one for the typo


def test_hostile_variable_cannot_change_the_query(vm):
    prom.test_hostile_variable_cannot_change_the_query(vm)


def test_collect_writes_a_verifiable_packet(vm, tmp_path):
    prom.test_collect_writes_a_verifiable_packet(vm, tmp_path)


@pytest.mark.parametrize(
    ("service", "extra", "code"),
    [("checkout", [], 1), ("search", [], 0), ("billing", ["--fail-on", "warn"], 1)],
)
def test_cli_exit_codes(vm, tmp_path, service, extra, code):
    prom.test_cli_exit_codes(vm, tmp_path, service, extra, code)


def test_validate_falls_back_when_parse_query_is_missing(vm, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(prom.THRESHOLDS)
    result = prom.cli("validate", str(spec), "-p", vm.url)
    assert result.returncode == 2
    assert "invalid" in result.stderr and "not valid PromQL" in result.stderr
    assert "non-JSON" not in result.stderr  # the 400 for /api/v1/parse_query is not blamed on the queries
    good = tmp_path / "good.yaml"
    good.write_text(prom.GATE.format(service="x"))
    result = prom.cli("validate", str(good), "-p", vm.url)
    assert result.returncode == 0, result.stderr
    assert "16 queries parsed" in result.stderr


# --- where the engines differ: each one's rule, computed here -------------------------------------


def prometheus_increase(times: np.ndarray, values: np.ndarray, at: float, window: float) -> float:
    """Prometheus 2.x ``increase``: closed range, extrapolated to the edges (≤ half an interval), zero-clamped."""
    inside = (times >= at - window) & (times <= at)
    ts, vs = times[inside], values[inside]
    if len(ts) < 2:
        return math.nan
    delta = vs[-1] - vs[0]
    sampled = ts[-1] - ts[0]
    average = sampled / (len(ts) - 1)
    to_start, to_end = ts[0] - (at - window), at - ts[-1]
    threshold = average * 1.1
    if delta > 0 and vs[0] >= 0:
        to_start = min(to_start, sampled * vs[0] / delta)  # a counter is never extrapolated below zero
    extend_start = to_start if to_start < threshold else average / 2
    extend_end = to_end if to_end < threshold else average / 2
    return delta * (sampled + extend_start + extend_end) / sampled


def victoriametrics_increase(times: np.ndarray, values: np.ndarray, at: float, window: float) -> float:
    """VictoriaMetrics ``increase``: window ``(t-w, t]``, base = last sample before it, 0 for a new counter."""
    inside = (times > at - window) & (times <= at)
    before = times <= at - window
    if not inside.any():
        return math.nan
    if before.any():
        return values[inside][-1] - values[before][-1]
    first = values[inside]
    step = first[1] - first[0] if len(first) > 1 else 10.0
    base = 0.0 if abs(first[0]) < 10 * (abs(step) + 1) else first[0]  # born at 0 only if the start is small
    return first[-1] - base


def instant(url: str, query: str, at: float) -> list[dict]:
    reply = httpx.post(f"{url}/api/v1/query", data={"query": query, "time": str(at)}, timeout=30)
    reply.raise_for_status()
    return reply.json()["data"]["result"]


@pytest.fixture(scope="module")
def prometheus_newborn(prometheus_pool):
    return prometheus_pool.get("newborn", newborn)


@pytest.mark.parametrize(
    ("start", "window", "at", "stated"),
    [
        ("large", 1800, 0, (105.0, 100.0)),  # the difference: Prometheus extrapolates, VictoriaMetrics does not
        ("small", 1800, 0, (110.0, 110.0)),  # both count from zero: Prometheus by zero-point extrapolation
        ("large", 600, 0, (100.0, 100.0)),  # a window that starts on a sample: both exact
        ("large", 300, -30, (50.0, 50.0)),  # misaligned, linear counter: extrapolation and base agree
        ("large", 450, 0, (75.0, 80.0)),  # 7.5 minutes: Prometheus scales 70 by 450/420; VM counts 8 whole steps
    ],
)
def test_increase_semantics_per_engine(vm, prometheus_newborn, start, window, at, stated):
    values = NEWBORN[start]
    when = truth.END + at
    expected = (
        prometheus_increase(NEWBORN_TIMES, values, when, window),
        victoriametrics_increase(NEWBORN_TIMES, values, when, window),
    )
    assert expected == (pytest.approx(stated[0]), pytest.approx(stated[1]))  # the rules give the stated numbers
    query = f'sum(increase(jobs_total{{start="{start}"}}[{window}s]))'
    got = (
        float(instant(prometheus_newborn.url, query, when)[0]["value"][1]),
        float(instant(vm.url, query, when)[0]["value"][1]),
    )
    assert got == (pytest.approx(expected[0]), pytest.approx(expected[1]))


def test_gatepack_reports_each_engines_own_increase(vm, prometheus_newborn):
    """The same gate on both engines: each value is that engine's semantics, recorded as measured."""
    text = """apiVersion: gatepack/v1
kind: Gate
id: newborn
title: Newborn counter
checks:
  - {id: jobs, kind: threshold, query: 'sum(increase(jobs_total{start="large"}[30m]))', op: '>=', target: 103}
"""
    results = {}
    for name, url in (("prometheus", prometheus_newborn.url), ("victoriametrics", vm.url)):
        from slo.loader import load_gates

        gate = load_gates(text)[0]

        async def go(url: str = url):
            async with PrometheusClient(PrometheusConfig(url=url)) as client:
                from collector.run import evaluate_gate

                return await evaluate_gate(gate, at=truth.END, sources=[PrometheusSource(client)])

        results[name] = asyncio.run(go()).results[0]
    assert results["prometheus"].value == pytest.approx(105.0)
    assert results["prometheus"].verdict is Verdict.PASS
    assert results["victoriametrics"].value == pytest.approx(100.0)
    assert results["victoriametrics"].verdict is Verdict.FAIL
    assert results["prometheus"].queries[0].query == results["victoriametrics"].queries[0].query


@pytest.mark.parametrize(
    ("offset", "prometheus_has", "vm_has"), [(299, True, True), (300, True, False), (301, False, False)]
)
def test_lookbehind_edge(vm, prometheus_newborn, offset, prometheus_has, vm_has):
    """A gauge's last sample at END, queried ``offset`` seconds later."""
    at = truth.END + offset
    assert bool(instant(prometheus_newborn.url, "room_temperature", at)) is prometheus_has
    assert bool(instant(vm.url, "room_temperature", at)) is vm_has

"""Context series: range history per check against a real Prometheus, checked against the closed form.

The history is :mod:`tests.groundtruth`'s (1000 requests a minute per service; checkout degrades to 5 %
errors for the last 2 hours, billing to 0.35 % for the last day). Every expected point is computed here
from those per-minute rates alone: the error ratio over the window ending at each grid point.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.run import GateRun, evaluate_gate
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.context import MAX_POINTS, ContextSettings, Grid, grid_for, on_grid
from collector.sources.prometheus.source import PrometheusSource
from slo.loader import load_gates
from slo.results import Status
from tests import groundtruth as truth
from tests.faulty_backend import FaultyBackend

SLO = """
  - id: {service}-availability
    kind: slo
    bad: sum(increase(http_requests_total{{service="{service}",code="500"}}[{{{{ window }}}}]))
    total: sum(increase(http_requests_total{{service="{service}"}}[{{{{ window }}}}]))
    objective: 99.9
    period: 30d
"""
GATE = (
    "apiVersion: gatepack/v1\nkind: Gate\nid: context\ntitle: Context truth\nchecks:\n"
    + "".join(SLO.format(service=s) for s in ("checkout", "search", "billing", "ghost"))
    + """
  - id: checkout-errors
    kind: threshold
    query: sum(rate(http_requests_total{service="checkout",code="500"}[5m]))
    op: "<"
    target: 0.5
    warn: 0.1
"""
)
SIX_HOURS = 6 * 3600


def run(url: str, context: ContextSettings | None, text: str = GATE, at: float = truth.END) -> tuple[GateRun, int]:
    gate = load_gates(text, "context.yaml")[0]

    async def go() -> tuple[GateRun, int]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            source = PrometheusSource(client, owns_client=False, context=context)
            result = await evaluate_gate(gate, at=at, sources=[source])
            return result, client.requests_sent

    return asyncio.run(go())


def errors_per_minute(service: str, sample: int) -> float:
    """The errors the sample at ``sample`` adds (groundtruth's rates, restated)."""
    baseline, degraded, minutes = truth.SERVICES[service]
    return degraded if minutes and sample > truth.END - minutes * 60 else baseline


def expected_ratio(service: str, t: int, window: int) -> float:
    """Errors / requests over (t - window, t], one sample a minute."""
    samples = range(t - window + 60, t + 1, 60)
    return sum(errors_per_minute(service, s) for s in samples) / (len(samples) * truth.PER_MINUTE)


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


@pytest.mark.integration
def test_context_series_match_the_closed_form_and_cost_three_requests(prometheus):
    with_context, sent = run(prometheus.url, ContextSettings(lookback=SIX_HOURS))
    without, sent_without = run(prometheus.url, None)
    # 4 SLOs share one grouped range for bad and one for total; the threshold check's query is its own
    assert sent - sent_without == 3
    for a, b in zip(with_context.results, without.results, strict=True):
        assert (a.verdict, a.value, a.reason) == (b.verdict, b.value, b.reason)
        assert b.context is None

    step = 120  # ceil(21600 / 199) = 109 s, rounded up to whole minutes
    points = SIX_HOURS // step + 1
    start = truth.END - (points - 1) * step
    for service in ("checkout", "search", "billing"):
        context = with_context.results[[r.id for r in with_context.results].index(f"{service}-availability")].context
        assert context is not None and context.status == Status.OK
        assert (context.step, len(context.values), context.window) == (step, points, "5m")
        assert context.start == "2025-12-31T18:00:00Z" and context.end == "2026-01-01T00:00:00Z"
        assert context.thresholds == {"objective": 99.9, "burn_rate": 14.4}
        expected = [expected_ratio(service, start + i * step, 300) for i in range(points)]
        assert context.values == pytest.approx(expected, rel=1e-5)
        assert [q.role for q in context.queries] == ["bad", "total"]
        assert all(q.selected == {"service": service} and q.response_sha256 for q in context.queries)
        assert 'service=~"' in context.queries[0].query  # the grouped text really sent
    ghost = with_context.results[3].context
    assert ghost is not None and ghost.status == Status.NO_DATA and ghost.values == [None] * points

    errors = with_context.results[4].context
    assert errors is not None and errors.series == "value"
    assert errors.thresholds == {"target": 0.5, "warn": 0.1}
    expected = [expected_ratio("checkout", start + i * step, 300) * truth.PER_MINUTE / 60 for i in range(points)]
    assert errors.values == pytest.approx(expected, rel=1e-5)


@pytest.mark.integration
def test_default_lookback_is_the_period_with_gaps_before_the_history(prometheus):
    result, _ = run(prometheus.url, ContextSettings(), text=GATE.split("  - id: search")[0])
    context = result.results[0].context
    assert context is not None
    step = math.ceil(math.ceil(30 * 86400 / 199) / 60) * 60  # 13080 s: 199 points cover 30 days
    assert context.step == step and len(context.values) == 30 * 86400 // step + 1 <= MAX_POINTS
    assert context.window == "3h38m"  # the ratio window widens to the step: no event falls between points
    start = truth.END - (len(context.values) - 1) * step
    first_full = truth.END - truth.DAYS * 86400 + step  # the first window wholly inside the 7 days of history
    for i, value in enumerate(context.values):
        t = start + i * step
        if t < truth.END - truth.DAYS * 86400:
            assert value is None, t  # before the history began: a gap, not a zero
        elif t >= first_full:
            assert value == pytest.approx(expected_ratio("checkout", t, step), rel=1e-5)


def test_a_context_fault_never_changes_the_verdict():
    gate = GATE.split("  - id: checkout-availability")[0] + (
        '  - id: ok\n    kind: threshold\n    query: sum(rate(ok_total[5m]))\n    op: "<"\n    target: 2\n'
    )
    with FaultyBackend() as backend:  # answers every query with a vector, so the range answer is the wrong shape
        with_context, _ = run(backend.url, ContextSettings(lookback=3600), text=gate)
        without, _ = run(backend.url, None, text=gate)
    a, b = with_context.results[0], without.results[0]
    assert (a.verdict, a.value, a.reason, a.queries) == (b.verdict, b.value, b.reason, b.queries)
    assert a.context is not None and a.context.status == Status.ERROR and a.context.values == []
    assert "expected a matrix" in (a.context.reason or "")


@given(lookback=st.integers(1, 400 * 86400), at=st.integers(0, 2_000_000_000), points=st.integers(2, 500))
def test_grid_fits_the_budget_and_ends_at_the_evaluation_time(lookback: int, at: int, points: int) -> None:
    grid = grid_for(at, lookback, points)
    assert 1 <= grid.points <= points
    assert grid.end == at and at - grid.start <= lookback
    assert grid.step == 1 or grid.step < 60 or grid.step % 60 == 0


samples = st.lists(
    st.tuples(
        st.one_of(st.floats(allow_nan=True), st.integers(-10, 10_000), st.text(max_size=5)),
        st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(str)),
    ).map(list),
    max_size=600,
)


@given(samples=samples, garbage=st.lists(st.one_of(st.none(), st.integers(), st.text()), max_size=5))
def test_on_grid_never_exceeds_the_grid_and_keeps_only_finite_numbers(samples, garbage) -> None:
    grid = Grid(start=0, step=10, points=200)
    values = on_grid([*samples, *garbage], grid)
    assert len(values) == 200
    assert all(v is None or math.isfinite(v) for v in values)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(result=json_values, label_values=st.lists(st.sampled_from(["a", "b", "c"]), max_size=3))
def test_any_range_answer_is_read_without_raising(result, label_values) -> None:
    """A backend's matrix (or something pretending to be one) never raises: it is values or a reason."""
    from collector.sources.prometheus.client import QueryResponse
    from collector.sources.prometheus.context import _members, _single
    from slo.promql.grouping import Group

    grid = Grid(start=0, step=60, points=10)
    response = QueryResponse("q", 0.0, "ok", result_type="matrix", result=result)
    answer = _single(response, grid)
    assert len(answer.values) == 10 and (answer.reason is None or isinstance(answer.reason, str))
    group = Group("service", "g", members={v: f"q{v}" for v in label_values})
    members = _members(response, group, grid)
    assert members is None or all(len(a.values) == 10 and set(members) <= set(label_values) for a in members.values())

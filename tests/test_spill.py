"""Exact aggregates past their memory budget (``slo.spill``, spilled ``PackedRuns``) against numpy and plain dicts.

The radix selection must give ``np.percentile``'s number bit for bit whatever the values (many equal
ones force every pass down to the last 16 bits), however they are cut into chunks and whatever the
budgets; spilled per-run sums must equal a dict of Python ints computed here.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo import packedruns, spill
from slo.loader import load_gates
from slo.packedruns import PackedRuns
from slo.spill import MemorySpill, order_statistic, percentile
from slo.traces import PERCENTILES, Span, TraceAggregator
from tests.test_packedruns import assert_packing_keeps_exact_totals

POOL = [0.0, 1e-9, 0.25, 0.5, 0.5000000000000001, 1.0, 2.5, 3.0, 1e6, 5e-324]
VALUES = st.one_of(
    st.lists(st.sampled_from(POOL), min_size=1, max_size=200),
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=200),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=80),
).map(lambda xs: [x + 0.0 for x in xs])  # no -0.0: numpy ranks it equal to 0.0 in an order of its own
Q = st.one_of(st.sampled_from(list(PERCENTILES.values())), st.floats(0, 100))


def _store(values: list[float], cuts: list[int]) -> MemorySpill:
    store, at = MemorySpill(), 0
    for cut in sorted(c % (len(values) + 1) for c in cuts):
        store.append(np.array(values[at:cut], dtype=np.float64))
        at = max(at, cut)
    store.append(np.array(values[at:], dtype=np.float64))
    return store


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


@settings(max_examples=400, deadline=None)
@given(VALUES, Q, st.integers(0, 6), st.lists(st.integers(0, 300), max_size=4))
def test_percentile_is_numpys_bit_for_bit(values, q, budget, cuts):
    store = _store(values, cuts)
    assert _bits(percentile(store.chunks, len(values), q, budget)) == _bits(np.percentile(values, q))


@settings(max_examples=200, deadline=None)
@given(VALUES, st.integers(0, 4), st.data())
def test_order_statistic_is_the_sorted_value(values, budget, data):
    rank = data.draw(st.integers(0, len(values) - 1))
    store = _store(values, [])
    expected = np.sort(np.array(values))[rank]
    assert order_statistic(store.chunks, len(values), rank, budget) == expected


def test_chunks_smaller_than_the_data_and_many_passes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(spill, "CHUNK", 7)
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.exponential(0.2, 500), np.full(300, 0.125), rng.integers(0, 4, 200) / 1e9])
    store = MemorySpill()
    store.append(values)
    for q in (0.0, 50.0, 90.0, 95.0, 99.0, 100.0, 33.3):
        assert _bits(percentile(store.chunks, len(values), q, 3)) == _bits(np.percentile(values, q))


GATE = """
apiVersion: gatepack/v1
kind: Gate
id: g
title: G
checks:
  - {id: p, kind: trace, window: 1h, aggregate: AGG, op: "<=", target: 9}
  - {id: byp, kind: trace, window: 1h, by: [route], aggregate: AGG, op: "<=", target: 9}
"""
AT = 1_767_225_600


def _spans(durations: list[int]) -> list[Span]:
    start = (AT - 60) * 1_000_000_000
    return [
        Span(f"{i:032x}", f"{i:016x}", "", "s", 2, 2 * (i % 3 == 0), start, start + d, {"route": str(i % 3)}, {})
        for i, d in enumerate(durations)
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from([0, 1, 250_000_000, 10**9]), st.integers(0, 10**10)), max_size=120),
    st.sampled_from(sorted(PERCENTILES)),
    st.integers(1, 5),
    st.integers(1, 4),
)
def test_spilling_aggregators_give_the_in_memory_values(durations, aggregate, budget, parts):
    """Spilled (tiny budget, parts merged as the parallel scan does) == kept in memory == numpy of the record."""
    checks = load_gates(GATE.replace("AGG", aggregate), "g.yaml")[0].checks
    spans = _spans(durations)
    old = spill.DURATION_BUDGET
    spill.DURATION_BUDGET = budget
    try:
        for check in checks:
            plain = TraceAggregator(check, AT)
            pieces = [TraceAggregator(check, AT, MemorySpill) for _ in range(parts)]
            for i, span in enumerate(spans):
                plain.add(span)
                pieces[i * parts // max(len(spans), 1)].add(span)
            merged = TraceAggregator(check, AT, MemorySpill)
            for piece in pieces:
                merged.merge_state(piece.state())
            got, want = merged.measurement(), plain.measurement()
            assert {k: _bits(v) for k, v in got.values.items()} == {k: _bits(v) for k, v in want.values.items()}
            assert got.spans == want.spans == len(spans)
            if not check.by and spans:
                record = np.array(durations) / 1e9
                assert _bits(got.values[""]) == _bits(np.percentile(record, PERCENTILES[aggregate]))
            if not check.by and len(spans) >= budget:
                assert any(g.spilled for g in merged.groups.values())
    finally:
        spill.DURATION_BUDGET = old


IDS = st.sampled_from(
    [f"{n:032x}" for n in (0, 1, 2, 3, 2**64, 2**127 + 5, 2**128 - 1, 77, 1 << 100)] + ["ab" * 16, "AB" * 16, "12"]
)
AMOUNTS = st.one_of(st.integers(0, 2**20), st.integers(0, 2**130), st.fractions(min_value=0, max_value=10**6))
EVENTS = st.lists(st.tuples(IDS, AMOUNTS, st.booleans()), max_size=60)


@settings(max_examples=400, deadline=None)
@given(EVENTS, st.integers(1, 8), st.integers(1, 4))
def test_spilled_runs_keep_every_runs_exact_total(events, pieces, budget):
    """As tests/test_packedruns.py, with the packed runs spilled to partitions past a tiny budget."""
    old = packedruns.RUN_BUDGET
    packedruns.RUN_BUDGET = budget
    try:
        assert_packing_keeps_exact_totals(events, pieces, spill=MemorySpill)
    finally:
        packedruns.RUN_BUDGET = old


def test_many_runs_spill_into_partitions_and_sum_exactly(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packedruns, "RUN_BUDGET", 500)
    rng = np.random.default_rng(5)
    keys = [f"{int(a):016x}{int(b):016x}" for a, b in rng.integers(0, 2**63, (3000, 2))]
    expected: dict[str, int] = {}
    packed = PackedRuns(spill=MemorySpill)
    for round_ in range(3):
        groups: dict[str, int | Fraction] = {}
        for key in keys[round_ * 500 :]:
            amount = int(rng.integers(0, 2**62)) << 60
            groups[key] = amount
            expected[key] = expected.get(key, 0) + amount
        packed.pack(groups)
    assert packed.partitions, "the budget was passed: runs must be in partitions"
    groups = {}
    packed.settle(groups)
    assert len(packed) == len(expected)
    assert packed.total() == sum(expected.values())
    assert packed.maximum() == max(expected.values())
    assert sorted(packed.amounts()) == sorted(expected.values())


def _route_spans(routes: list[int]) -> list[Span]:
    start = (AT - 60) * 1_000_000_000
    return [
        Span(f"{i:032x}", f"{i:016x}", "", "s", 2, 0, start, start + 1000 + i, {"route": str(r)}, {})
        for i, r in enumerate(routes)
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=300), st.integers(1, 20), st.integers(1, 3))
def test_memory_held_over_all_groups_stays_under_one_budget(routes, budget, parts):
    """Many small ``by`` groups cannot each hold a budget: the aggregator's in-memory total stays below one."""
    check = load_gates(GATE.replace("AGG", "p95"), "g.yaml")[0].checks[1]
    old = spill.DURATION_BUDGET
    spill.DURATION_BUDGET = budget
    try:
        pieces = [TraceAggregator(check, AT, MemorySpill) for _ in range(parts)]
        spans = _route_spans(routes)
        for i, span in enumerate(spans):
            piece = pieces[i * parts // len(spans)]
            piece.add(span)
            assert sum(len(g.durations) for g in piece.groups.values()) < budget
        merged = TraceAggregator(check, AT, MemorySpill)
        for piece in pieces:
            merged.merge_state(piece.state())
            assert sum(len(g.durations) for g in merged.groups.values()) < budget
        got = merged.measurement().values
    finally:
        spill.DURATION_BUDGET = old
    record: dict[str, list[float]] = {}
    for span in spans:
        record.setdefault(span.attributes["route"], []).append(span.duration_s)
    assert {k: _bits(v) for k, v in got.items()} == {
        k: _bits(float(np.percentile(np.array(v), 95.0))) for k, v in record.items()
    }


@pytest.mark.parametrize("parts", [1, 2])
def test_groups_past_the_cap_make_the_measurement_partial(monkeypatch: pytest.MonkeyPatch, parts: int):
    """A ``by`` of more groups than ``MAX_GROUPS`` keeps the first ones and says how many spans it left out."""
    from slo import traces

    monkeypatch.setattr(traces, "MAX_GROUPS", 3)
    check = load_gates(GATE.replace("AGG", "p95"), "g.yaml")[0].checks[1]
    routes = [0, 1, 0, 2, 3, 4, 1, 3, 5, 2, 0]
    spans = _route_spans(routes)
    pieces = [TraceAggregator(check, AT, MemorySpill) for _ in range(parts)]
    for i, span in enumerate(spans):
        pieces[i * parts // len(spans)].add(span)
    merged = TraceAggregator(check, AT, MemorySpill)
    for piece in pieces:
        merged.merge_state(piece.state())
    got = merged.measurement()
    kept = {"0", "1", "2"}  # the first three routes seen, in file order
    assert set(got.values) == kept
    assert got.complete is False
    assert "more than 3 groups by route" in got.notes[-1]
    # every span is either counted or said to be left out (a worker caps its own part, so two parts may
    # leave out spans of groups the merge keeps: the values are then partial, which the packet says)
    assert got.spans + got.details["spans_in_dropped_groups"] == len(routes)
    if parts == 1:
        assert got.details["spans_in_dropped_groups"] == sum(1 for r in routes if str(r) not in kept)

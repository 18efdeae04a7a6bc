"""Packed per-run amounts (``slo.packedruns``) against a plain dict of Python ints, computed here."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from slo.packedruns import PackedRuns

IDS = st.sampled_from([f"{n:032x}" for n in (0, 1, 2**64, 2**127 + 5, 2**128 - 1)] + ["ab" * 16, "AB" * 16, "12", ""])
AMOUNTS = st.one_of(st.integers(0, 2**130), st.fractions(min_value=0, max_value=10**6))
EVENTS = st.lists(st.tuples(IDS, AMOUNTS, st.booleans()), max_size=60)


def assert_packing_keeps_exact_totals(events, pieces: int, spill=None) -> None:
    """Runs added to a dict, the dict packed now and then into one of two packs (a run may come back after it
    moved), the packs joined: every run's total, their count, sum and maximum equal a plain dict of ints."""
    expected: dict[str, int | Fraction] = {}
    groups: dict[str, int | Fraction] = {}
    packed, other = PackedRuns(spill=spill), PackedRuns(spill=spill)
    for i, (key, amount, pack) in enumerate(events):
        expected[key] = expected.get(key, 0) + amount
        groups[key] = groups.get(key, 0) + amount
        if pack:
            (packed if i % pieces else other).pack(groups)
    packed.extend(other)
    packed.settle(groups)
    amounts = sorted([*groups.values(), *packed.amounts()])
    assert amounts == sorted(expected.values())
    assert len(groups) + len(packed) == len(expected)
    assert sum(groups.values()) + packed.total() == sum(expected.values())
    if expected:
        top = packed.maximum()
        assert max([*groups.values(), *([top] if top is not None else [])]) == max(expected.values())


@settings(max_examples=600, deadline=None)
@given(EVENTS, st.integers(1, 8))
def test_packing_at_any_moment_keeps_every_runs_exact_total(events, pieces):
    """Runs added to a dict, the dict packed now and then (a run may come back after it moved)."""
    assert_packing_keeps_exact_totals(events, pieces)


def test_only_lowercase_32_hex_ids_with_small_integer_amounts_move():
    groups: dict[str, int | Fraction] = {"ab" * 16: 5, "AB" * 16: 6, "zz" * 16: 7, "cd" * 16: Fraction(1, 3), "12": 8}
    groups["ef" * 16] = 2**128
    packed = PackedRuns()
    packed.pack(groups)
    assert sorted(groups) == sorted(["AB" * 16, "zz" * 16, "cd" * 16, "12", "ef" * 16]) and len(packed) == 1

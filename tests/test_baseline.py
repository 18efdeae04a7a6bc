"""Relative criteria (slo.baseline), pure: the direction of a regression, the verdicts, the reasons."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from slo.baseline import apply_baseline, regression
from slo.evaluate import result
from slo.results import Effect, Verdict
from slo.spec import Baseline, Check, Op

CHECKS: TypeAdapter[Check] = TypeAdapter(Check)


def threshold(op: str = "<", target: float = 100, required: bool = True, max_regression: object = "10%") -> Check:
    return CHECKS.validate_python(
        {
            "id": "p95",
            "kind": "threshold",
            "query": "x",
            "op": op,
            "target": target,
            "required": required,
            "baseline": {"compare": "previous_pass", "max_regression": max_regression},
        }
    )


def packet(value: float | None) -> dict[str, object]:
    return {"checks": [{"id": "p95", "value": value}]}


def passing(check: Check, value: float):
    return result(check, Verdict.PASS, f"{value} meets the target", "t", value=value)


@pytest.mark.parametrize(
    ("text", "fraction"), [("10%", 0.10), ("12.5 %", 0.125), (0.2, 0.2), ("0.05", 0.05), ("0%", 0.0)]
)
def test_max_regression_reads_percentages_and_fractions(text: object, fraction: float) -> None:
    assert Baseline(compare="previous_pass", max_regression=text).max_regression == pytest.approx(fraction)


@pytest.mark.parametrize("bad", [{"compare": "previous", "max_regression": "10%"}, {"compare": "release:", "max_regression": 1},
                                 {"compare": "previous_pass", "max_regression": "ten%"},
                                 {"compare": "previous_pass", "max_regression": "-5%"}])  # fmt: skip
def test_bad_baseline_specs_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Baseline(**bad)


def test_release_is_read_from_compare() -> None:
    assert Baseline(compare="release:v1.2", max_regression="10%").release == "v1.2"
    assert Baseline(compare="previous_pass", max_regression="10%").release is None


@pytest.mark.parametrize(
    ("op", "value", "base", "expected"),
    [
        ("<", 120, 100, 0.2),  # lower is better: higher value is a regression
        ("<=", 80, 100, -0.2),
        (">", 80, 100, 0.2),  # higher is better: lower value is a regression
        (">=", 120, 100, -0.2),
        ("==", 90, 100, 0.1),  # any move is a regression
        ("!=", 110, 100, 0.1),
        ("<", -50, -100, 0.5),  # relative to |base|: -50 is higher, so worse
        ("<", 0, 0, 0.0),
        ("<", 1, 0, math.inf),
        (">", 1, 0, -math.inf),
    ],
)
def test_regression_direction_follows_the_op(op: str, value: float, base: float, expected: float) -> None:
    assert regression(Op(op), value, base) == pytest.approx(expected)


@given(
    st.sampled_from(list(Op)),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda b: abs(b) >= 1e-3),
)
def test_regression_is_positive_exactly_when_the_value_moved_the_bad_way(op: Op, value: float, base: float) -> None:
    worse = regression(op, value, base)
    moved_bad = {
        Op.LT: value > base, Op.LE: value > base, Op.GT: value < base, Op.GE: value < base,
        Op.EQ: value != base, Op.NE: value != base,
    }[op]  # fmt: skip
    assert (worse > 0) == moved_bad
    assert worse * abs(base) == pytest.approx(abs(value - base) * (1 if worse > 0 else -1), rel=1e-9, abs=1e-6)


def test_passing_check_that_regresses_too_much_fails_with_both_numbers_and_the_digest() -> None:
    check = threshold()
    judged = apply_baseline(check, passing(check, 60.0), packet(50.0), "ab" * 32)
    assert judged.verdict is Verdict.FAIL and judged.effect is Effect.FAIL
    assert "sha256:" + "ab" * 32 in judged.reason and "60 vs baseline 50" in judged.reason
    assert "regression 20 %" in judged.reason and "max 10 %" in judged.reason
    assert judged.baseline is not None
    assert judged.baseline.digest == "ab" * 32 and judged.baseline.value == 50.0
    assert judged.baseline.regression == pytest.approx(0.2) and judged.baseline.ok is False


def test_regression_within_the_allowance_passes_and_records_it() -> None:
    check = threshold(max_regression="25%")
    judged = apply_baseline(check, passing(check, 60.0), packet(50.0), "cd" * 32)
    assert judged.verdict is Verdict.PASS and judged.baseline is not None and judged.baseline.ok is True
    assert judged.baseline.regression == pytest.approx(0.2)


def test_improvement_passes() -> None:
    check = threshold(op=">=", target=10)
    judged = apply_baseline(check, passing(check, 60.0), packet(50.0), "ef" * 32)
    assert judged.verdict is Verdict.PASS and judged.baseline is not None
    assert judged.baseline.regression == pytest.approx(-0.2)


def test_advisory_check_that_regresses_only_warns_the_gate() -> None:
    check = threshold(required=False)
    judged = apply_baseline(check, passing(check, 60.0), packet(50.0), "ab" * 32)
    assert judged.verdict is Verdict.FAIL and judged.effect is Effect.WARN


def test_without_a_baseline_the_absolute_verdict_stays_and_says_so() -> None:
    check = threshold()
    judged = apply_baseline(check, passing(check, 60.0), None, None, "no --store given to look it up in")
    assert judged.verdict is Verdict.PASS
    assert "baseline (previous_pass): no --store given" in judged.reason and "absolute verdict only" in judged.reason
    assert judged.baseline is not None and judged.baseline.digest is None and judged.baseline.ok is None


def test_baseline_packet_without_this_check_keeps_the_absolute_verdict() -> None:
    check = threshold()
    judged = apply_baseline(check, passing(check, 60.0), packet(None), "ab" * 32)
    assert judged.verdict is Verdict.PASS and "has no value for p95" in judged.reason


def test_check_without_baseline_is_unchanged_and_serialises_as_before() -> None:
    check = CHECKS.validate_python({"id": "p95", "kind": "threshold", "query": "x", "op": "<", "target": 1})
    plain = passing(check, 0.5)
    assert apply_baseline(check, plain, packet(0.1), "ab" * 32) is plain
    assert "baseline" not in plain.model_dump(mode="json")  # packets sealed before keep their digests

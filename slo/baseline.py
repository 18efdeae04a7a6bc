"""Relative criteria: hold a check's value against the same check in a stored baseline packet.

Pure: the collector finds the baseline packet (:mod:`collector.baseline`) and passes its document in.
Regression is measured in the direction that is bad for the check's comparison: for ``<``/``<=`` a
higher value is worse, for ``>``/``>=`` (and SLOs, whose SLI must stay high) a lower one, for
``==``/``!=`` any move. It is relative to the baseline's magnitude: ``(worse - base) / |base|``.
A check that meets its absolute target but regresses more than ``max_regression`` fails; a check
without a baseline keeps its absolute verdict and says why in its reason — never a silent pass.
"""

from __future__ import annotations

import math
from typing import Any

from slo.evaluate import effect_of
from slo.formatting import number
from slo.results import BaselineRecord, CheckResult, Verdict
from slo.spec import Baseline, Check, LoadtestCheck, Op, SloCheck, ThresholdCheck

BaselinedCheck = ThresholdCheck | SloCheck | LoadtestCheck


def check_op(check: BaselinedCheck) -> Op:
    """The comparison that decides which direction is worse."""
    if isinstance(check, SloCheck):
        return Op.GE  # the SLI (good fraction) must stay high
    if isinstance(check, LoadtestCheck) and check.op is None and check.threshold is not None:
        from slo.loadtest import parse_threshold  # slo.loadtest brings numpy, which collect rarely needs

        return parse_threshold(check.threshold).op
    assert check.op is not None  # the spec requires op or threshold
    return check.op


def regression(op: Op, value: float, base: float) -> float:
    """How much worse ``value`` is than ``base``, as a fraction of ``|base|`` (negative: better).

    A zero baseline has no scale: no change is 0, any worsening is infinite, an improvement is -inf.
    """
    if op in (Op.LT, Op.LE):
        worse = value - base
    elif op in (Op.GT, Op.GE):
        worse = base - value
    else:
        worse = abs(value - base)
    if base == 0:
        return 0.0 if worse == 0 else math.copysign(math.inf, worse)
    return worse / abs(base)


def baseline_value(document: dict[str, Any], check_id: str) -> float | None:
    """The value the baseline packet recorded for ``check_id`` (None when absent or not a number)."""
    for entry in document.get("checks", []):
        if isinstance(entry, dict) and entry.get("id") == check_id:
            value = entry.get("value")
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return None


def _percent(fraction: float) -> str:
    if math.isinf(fraction):
        return "∞ %" if fraction > 0 else "-∞ %"
    return f"{number(fraction * 100, 4)} %"


def _noted(result: CheckResult, note: str, record: BaselineRecord) -> CheckResult:
    return result.model_copy(update={"reason": f"{result.reason}; {note}", "baseline": record})


def apply_baseline(
    check: Check,
    result: CheckResult,
    document: dict[str, Any] | None,
    digest: str | None,
    missing: str = "no baseline packet found",
) -> CheckResult:
    """``result`` also judged against the baseline packet ``document`` (sealed with ``digest``).

    ``missing`` says why there is no document (no store given, nothing matched). Checks without a
    ``baseline`` in their spec come back unchanged.
    """
    spec: Baseline | None = getattr(check, "baseline", None)
    if spec is None:
        return result
    record = {"compare": spec.compare, "max_regression": spec.max_regression, "digest": digest}
    if document is None:
        note = f"baseline ({spec.compare}): {missing}; absolute verdict only"
        return _noted(result, note, BaselineRecord(**record, reason=note))
    short = f"sha256:{digest}" if digest else "the baseline packet"
    base = baseline_value(document, check.id)
    if base is None:
        note = f"baseline {short} has no value for {check.id}; absolute verdict only"
        return _noted(result, note, BaselineRecord(**record, reason=note))
    if result.value is None:
        note = f"no value to compare with baseline {short} (value {number(base, 6)})"
        return _noted(result, note, BaselineRecord(**record, value=base, reason=note))
    assert isinstance(check, ThresholdCheck | SloCheck | LoadtestCheck)  # only these kinds take a baseline
    worse = regression(check_op(check), result.value, base)
    ok = worse <= spec.max_regression
    allowed = _percent(spec.max_regression)
    compared = (
        f"{number(result.value, 6)} vs baseline {number(base, 6)} of {short}: "
        f"regression {_percent(worse)} (max {allowed})"
    )
    full = BaselineRecord(**record, value=base, regression=worse, ok=ok, reason=compared)
    if ok or result.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.NO_DATA):
        return _noted(result, compared, full)
    reason = f"regressed beyond baseline: {compared}; absolute: {result.reason}"
    return result.model_copy(
        update={
            "verdict": Verdict.FAIL,
            "effect": effect_of(check, Verdict.FAIL),
            "reason": reason,
            "baseline": full.model_copy(update={"reason": reason}),
        }
    )

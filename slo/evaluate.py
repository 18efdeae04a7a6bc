"""Decide verdicts from measurements: pure functions, measurements in, results out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel

from slo.burnrate import burn_rate, error_budget, windows_to_query
from slo.formatting import number, percent, quantity
from slo.promql.plan import conditions_for
from slo.results import (
    AlertConditionResult,
    BurnRateRow,
    CheckResult,
    Effect,
    ErrorBudget,
    QueryOutcome,
    SloResult,
    Status,
    Verdict,
)
from slo.spec import Check, CheckBase, OnNoData, Severity, SloCheck, ThresholdCheck


def effect_of(check: CheckBase, verdict: Verdict) -> Effect:
    """How a verdict counts for the gate, given ``required`` and ``on_no_data``."""
    if verdict is Verdict.PASS:
        return Effect.PASS
    if verdict is Verdict.WARN:
        return Effect.WARN
    if verdict is Verdict.NO_DATA:
        mapped = {
            OnNoData.FAIL: Effect.FAIL,
            OnNoData.WARN: Effect.WARN,
            OnNoData.PASS: Effect.PASS,
            OnNoData.SKIP: Effect.SKIP,
        }[check.on_no_data]
    else:
        mapped = Effect.FAIL
    if mapped is Effect.FAIL and not check.required:
        return Effect.WARN  # advisory checks can never fail the gate
    return mapped


def result(
    check: Check,
    verdict: Verdict,
    reason: str,
    evaluated_at: str | None,
    **fields: object,
) -> CheckResult:
    """A :class:`CheckResult` with the fields every check kind shares filled in."""
    return CheckResult(
        id=check.id,
        title=check.display_title,
        kind=check.kind,
        required=check.required,
        on_no_data=check.on_no_data.value,
        verdict=verdict,
        effect=effect_of(check, verdict),
        reason=reason,
        evaluated_at=evaluated_at,
        **fields,
    )


def error_result(check: Check, reason: str, evaluated_at: str | None = None, **fields: object) -> CheckResult:
    return result(check, Verdict.ERROR, reason, evaluated_at, **fields)


def _first_problem(outcomes: Iterable[QueryOutcome]) -> QueryOutcome | None:
    for outcome in outcomes:
        if outcome.status == Status.ERROR:
            return outcome
    return None


def evaluate_threshold(check: ThresholdCheck, outcomes: list[QueryOutcome], evaluated_at: str) -> CheckResult:
    objective = f"{check.op.value} {quantity(check.target, check.unit)}"
    common = {"unit": check.unit, "objective": objective, "queries": outcomes}
    outcome = outcomes[0]
    if outcome.status == Status.ERROR:
        return result(check, Verdict.ERROR, outcome.reason or "query failed", evaluated_at, **common)
    if outcome.status != Status.OK or outcome.value is None:
        reason = outcome.reason or "query returned no data"
        return result(check, Verdict.NO_DATA, reason, evaluated_at, **common)
    value = outcome.value
    shown = quantity(value, check.unit)
    if not check.op.holds(value, check.target):
        reason = f"{shown} {check.op.negated} {quantity(check.target, check.unit)} (target {objective})"
        return result(check, Verdict.FAIL, reason, evaluated_at, value=value, **common)
    if check.warn is not None and not check.op.holds(value, check.warn):
        reason = f"{shown} passes {objective} but crosses the warning bound {check.op.value} " + quantity(
            check.warn, check.unit
        )
        return result(check, Verdict.WARN, reason, evaluated_at, value=value, **common)
    return result(
        check,
        Verdict.PASS,
        f"{shown} {check.op.value} {quantity(check.target, check.unit)}",
        evaluated_at,
        value=value,
        **common,
    )


def _window_row(
    check: SloCheck, window: str, by_key: dict[tuple[str, str | None], QueryOutcome], budget: float
) -> BurnRateRow:
    total = by_key[("total", window)]
    numerator_role = "good" if check.good is not None else "bad"
    numerator = by_key[(numerator_role, window)]
    if total.status != "ok" or total.value is None or total.value <= 0:
        return BurnRateRow(window=window, error_ratio=None, burn_rate=None)
    if numerator.status != "ok" or numerator.value is None:
        return BurnRateRow(window=window, error_ratio=None, burn_rate=None, total_events=total.value)
    bad = numerator.value if numerator_role == "bad" else total.value - numerator.value
    ratio = min(max(bad / total.value, 0.0), 1.0)
    return BurnRateRow(
        window=window, error_ratio=ratio, burn_rate=burn_rate(ratio, budget), bad_events=bad, total_events=total.value
    )


COUNT_TOLERANCE = 1e-9
"""Relative slack for float noise when comparing good (or bad) with total from separate queries."""


def impossible_counts(check: SloCheck, window: str, by_key: dict[tuple[str, str | None], QueryOutcome]) -> str | None:
    """Why the counts over ``window`` cannot be real, or None.

    Every count is a number of events: finite and not negative, and the good (or bad) events are a
    subset of the total. Clamping such counts into [0, 1] would turn a broken query into a perfect SLI,
    so they are an error instead, naming both numbers.
    """
    numerator_role = "good" if check.good is not None else "bad"
    values = {}
    for role in (numerator_role, "total"):
        outcome = by_key[(role, window)]
        if outcome.status == "ok" and outcome.value is not None:
            values[role] = outcome.value
    for role, value in values.items():
        if value != value or value in (float("inf"), float("-inf")):
            return f"{role} over {window} is {value}: not a count of events"
        scale = max(1.0, abs(values.get("total", 1.0)))
        if value < -COUNT_TOLERANCE * scale:
            other = f", total is {number(values['total'], 12)}" if role != "total" and "total" in values else ""
            return f"{role} over {window} is negative ({number(value, 12)}{other}): not a count of events"
    if len(values) == 2:
        part, total = values[numerator_role], values["total"]
        if part > total * (1 + COUNT_TOLERANCE) + COUNT_TOLERANCE:
            return (
                f"{numerator_role} over {window} ({number(part, 12)}) is greater than total ({number(total, 12)}): "
                f"the {numerator_role} events must be a subset of the total"
            )
    return None


def _no_data_reason(check: SloCheck, window: str, by_key: dict[tuple[str, str | None], QueryOutcome]) -> str:
    for role in ("total", "good" if check.good is not None else "bad"):
        outcome = by_key[(role, window)]
        if outcome.status != Status.OK or outcome.value is None:
            return f"{role} over {window}: {outcome.reason or 'no data'} ({outcome.query})"
    return f"total over {window} is 0: no events in the period"


def evaluate_slo(check: SloCheck, outcomes: list[QueryOutcome], evaluated_at: str) -> CheckResult:
    objective = f">= {number(check.objective)} %"
    common = {"unit": "%", "objective": objective, "queries": outcomes}
    problem = _first_problem(outcomes)
    if problem is not None:
        reason = f"{problem.role} over {problem.window}: {problem.reason or 'query failed'}"
        return result(check, Verdict.ERROR, reason, evaluated_at, **common)
    by_key = {(o.role, o.window): o for o in outcomes}
    budget = error_budget(check.objective)
    conditions = conditions_for(check)
    windows = windows_to_query(check.period, conditions)
    for window in windows:
        impossible = impossible_counts(check, window, by_key)
        if impossible is not None:
            return result(check, Verdict.ERROR, impossible, evaluated_at, **common)
    rows = {w: _window_row(check, w, by_key, budget) for w in windows}
    alerts = [
        AlertConditionResult(
            severity=c.severity.value,
            long=c.long,
            short=c.short,
            factor=c.factor,
            long_burn_rate=rows[c.long].burn_rate,
            short_burn_rate=rows[c.short].burn_rate,
            holds=(rows[c.long].burn_rate or 0.0) > c.factor and (rows[c.short].burn_rate or 0.0) > c.factor,
        )
        for c in conditions
    ]
    period_row = rows[check.period] if check.period in rows else rows[windows_to_query(check.period, [])[-1]]
    slo = SloResult(objective=check.objective, period=check.period, windows=list(rows.values()), alerts=alerts)
    if period_row.error_ratio is None:
        reason = _no_data_reason(check, period_row.window, by_key)
        return result(check, Verdict.NO_DATA, reason, evaluated_at, slo=slo, **common)

    consumed = period_row.error_ratio / budget
    total = period_row.total_events
    slo.sli = (1.0 - period_row.error_ratio) * 100.0
    slo.error_budget = ErrorBudget(
        allowed_ratio=budget,
        consumed=consumed,
        remaining=1.0 - consumed,
        total_events=total,
        allowed_bad_events=None if total is None else budget * total,
        bad_events=period_row.bad_events,
        remaining_events=None
        if total is None or period_row.bad_events is None
        else budget * total - period_row.bad_events,
    )
    sli_text = f"SLI {number(slo.sli, 6)} % over {check.period} (objective {number(check.objective)} %)"
    budget_text = f"{percent(consumed)} of error budget consumed"
    firing = [a for a in alerts if a.holds]
    firing_text = "; ".join(
        f"{a.severity} {a.long}/{a.short} burn {number(a.long_burn_rate)}/{number(a.short_burn_rate)} "
        f"> {number(a.factor)}"
        for a in firing
    )
    verdict = Verdict.PASS
    reasons = [sli_text, budget_text]
    if consumed >= 1.0:
        verdict = Verdict.FAIL
        reasons.append("error budget exhausted")
    if any(a.severity == Severity.PAGE.value for a in firing):
        verdict = Verdict.FAIL
    elif firing and verdict is Verdict.PASS:
        verdict = Verdict.WARN
    if firing:
        reasons.append(firing_text)
    if (
        verdict is Verdict.PASS
        and check.warn_budget_remaining is not None
        and 1.0 - consumed < check.warn_budget_remaining
    ):
        verdict = Verdict.WARN
        reasons.append(f"remaining budget {percent(1.0 - consumed)} < {percent(check.warn_budget_remaining)}")
    return result(check, verdict, "; ".join(reasons), evaluated_at, value=slo.sli, slo=slo, **common)


def evaluate_check(check: Check, outcomes: list[QueryOutcome], evaluated_at: str) -> CheckResult:
    """Verdict for a Prometheus-backed check from the outcomes of its planned queries."""
    if isinstance(check, ThresholdCheck):
        return evaluate_threshold(check, outcomes, evaluated_at)
    if isinstance(check, SloCheck):
        return evaluate_slo(check, outcomes, evaluated_at)
    return error_result(check, f"check kind {check.kind!r} is not evaluated from queries", evaluated_at)


class GateSummary(BaseModel):
    verdict: Verdict
    counts: dict[str, int]
    effects: dict[str, int]


def summarize(results: list[CheckResult]) -> GateSummary:
    """Gate verdict: fail if any check's effect is fail, warn if any warns, else pass."""
    effects = Counter(r.effect.value for r in results)
    counts = Counter(r.verdict.value for r in results)
    if effects.get(Effect.FAIL.value):
        verdict = Verdict.FAIL
    elif effects.get(Effect.WARN.value):
        verdict = Verdict.WARN
    else:
        verdict = Verdict.PASS
    return GateSummary(
        verdict=verdict,
        counts={v.value: counts.get(v.value, 0) for v in Verdict},
        effects={e.value: effects.get(e.value, 0) for e in Effect},
    )

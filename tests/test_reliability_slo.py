"""SLO decisions that must never come out green: impossible counts, and short periods judged fairly.

The outcomes are built by hand from closed-form numbers (a steady error ratio gives the same ratio in
every window), so the expected verdicts and factors do not come from the code under test.
"""

from __future__ import annotations

import pytest

from slo.burnrate import WORKBOOK_CONDITIONS, default_conditions, windows_to_query
from slo.durations import parse_duration
from slo.evaluate import evaluate_slo
from slo.promql.plan import conditions_for
from slo.results import QueryOutcome, Verdict
from slo.spec import SloCheck

AT = "2026-01-01T00:00:00Z"


def slo_check(period: str = "30d", objective: float = 99.9, numerator: str = "good", **extra: object) -> SloCheck:
    queries = {numerator: 'sum(increase(x{code!~"5.."}[{{ window }}]))'}
    return SloCheck(
        id="s",
        kind="slo",
        total="sum(increase(x[{{ window }}]))",
        objective=objective,
        period=period,
        **queries,
        **extra,
    )


def outcomes(check: SloCheck, counts: dict[str, tuple[float, float]]) -> list[QueryOutcome]:
    """One ok outcome per role and window; ``counts`` maps window → (numerator, total)."""
    role = "good" if check.good is not None else "bad"
    found = []
    for window in windows_to_query(check.period, conditions_for(check)):
        part, total = counts[window]
        found.append(QueryOutcome(role=role, window=window, query="q", status="ok", value=part))
        found.append(QueryOutcome(role="total", window=window, query="q", status="ok", value=total))
    return found


def steady(check: SloCheck, error_ratio: float, rate_per_second: float = 10.0) -> list[QueryOutcome]:
    """Counts of a service with a constant request rate and a constant error ratio."""
    counts = {}
    for window in windows_to_query(check.period, conditions_for(check)):
        total = rate_per_second * parse_duration(window)
        bad = total * error_ratio
        counts[window] = (total - bad if check.good is not None else bad, total)
    return outcomes(check, counts)


# ------------------------------------------------------------------------------------ impossible counts


def test_good_greater_than_total_is_an_error_naming_both_numbers():
    check = slo_check()
    counts = {w: (1200.0, 1000.0) for w in windows_to_query(check.period, conditions_for(check))}
    result = evaluate_slo(check, outcomes(check, counts), AT)
    assert result.verdict is Verdict.ERROR
    assert "1200" in result.reason and "1000" in result.reason


def test_negative_bad_is_an_error_naming_both_numbers():
    check = slo_check(numerator="bad")
    counts = {w: (-5.0, 1000.0) for w in windows_to_query(check.period, conditions_for(check))}
    result = evaluate_slo(check, outcomes(check, counts), AT)
    assert result.verdict is Verdict.ERROR
    assert "-5" in result.reason and "1000" in result.reason


@pytest.mark.parametrize(
    ("numerator", "part", "total"),
    [
        ("bad", 1500.0, 1000.0),  # more bad than total
        ("good", -1.0, 1000.0),  # negative good
        ("good", 10.0, -1000.0),  # negative total
        ("bad", float("nan"), 1000.0),
        ("good", 10.0, float("inf")),
    ],
)
def test_every_count_outside_zero_to_total_is_an_error(numerator, part, total):
    check = slo_check(numerator=numerator)
    windows = windows_to_query(check.period, conditions_for(check))
    # only one window is broken: a single impossible window must be enough
    counts = {w: (0.0 if numerator == "bad" else 1000.0, 1000.0) for w in windows}
    counts[windows[0]] = (part, total)
    result = evaluate_slo(check, outcomes(check, counts), AT)
    assert result.verdict is Verdict.ERROR, result.reason


def test_float_noise_in_good_equal_to_total_still_passes():
    check = slo_check()
    windows = windows_to_query(check.period, conditions_for(check))
    counts = {w: (1000.0 * (1 + 1e-13), 1000.0) for w in windows}
    assert evaluate_slo(check, outcomes(check, counts), AT).verdict is Verdict.PASS


# ------------------------------------------------------------------------------------ short periods


def test_one_day_slo_meeting_its_objective_passes():
    # 99.95 % good against 99.9 %: burn rate 0.5 in every window, half the budget spent
    check = slo_check(period="1d", objective=99.9)
    result = evaluate_slo(check, steady(check, 0.0005), AT)
    assert result.verdict is Verdict.PASS, result.reason
    assert result.slo.error_budget.consumed == pytest.approx(0.5)
    assert all(not a.holds for a in result.slo.alerts)


def test_seven_day_slo_meeting_its_objective_passes_and_burning_fast_pages():
    check = slo_check(period="7d", objective=99.9)
    assert evaluate_slo(check, steady(check, 0.0005), AT).verdict is Verdict.PASS
    # burning at 20× the budget everywhere: the page conditions (14.4 and 6) hold
    burning = evaluate_slo(check, steady(check, 0.02), AT)
    assert burning.verdict is Verdict.FAIL
    assert [a.holds for a in burning.slo.alerts] == [True, True, True, True]


def _minutes(text: str) -> int:
    return parse_duration(text) // 60


@pytest.mark.parametrize(
    ("period", "windows"),
    [
        ("7d", [("14m", "1m"), ("1h24m", "7m"), ("5h36m", "28m"), ("16h48m", "1h24m")]),
        ("1d", [("2m", "1m"), ("12m", "1m"), ("48m", "4m"), ("2h24m", "12m")]),
    ],
)
def test_short_period_windows_scale_with_the_period(period, windows):
    conditions = default_conditions(period)
    assert [(c.long, c.short) for c in conditions] == windows
    assert [c.factor for c in conditions] == pytest.approx([14.4, 6, 3, 1])
    for c, workbook in zip(conditions, WORKBOOK_CONDITIONS, strict=True):
        scale = parse_duration(period) / (30 * 86400)
        assert _minutes(c.long) == max(1, round(parse_duration(workbook.long) * scale / 60))
        assert parse_duration(c.long) <= parse_duration(period)


@pytest.mark.parametrize(
    ("period", "factors"),
    [("28d", [13.44, 5.6, 2.8, 28 / 30]), ("30d", [14.4, 6, 3, 1]), ("90d", [43.2, 18, 9, 3])],
)
def test_long_periods_keep_the_workbook_windows(period, factors):
    conditions = default_conditions(period)
    assert [(c.long, c.short) for c in conditions] == [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
    assert [c.factor for c in conditions] == pytest.approx(factors)
    assert [round(c.factor, 2) for c in conditions][:3] == [round(f, 2) for f in factors][:3]


@pytest.mark.parametrize("days", range(1, 28))
def test_no_default_window_is_longer_than_the_period_and_factors_stay(days):
    period = f"{days}d"
    for c, workbook in zip(default_conditions(period), WORKBOOK_CONDITIONS, strict=True):
        assert parse_duration(c.short) < parse_duration(c.long) <= parse_duration(period)
        share = c.factor * parse_duration(c.long) / parse_duration(period)
        assert share == pytest.approx(workbook.budget_share)


def test_a_specs_alerting_wins_over_the_policy():
    alerting = [{"long": "3h", "short": "15m", "factor": 2.0, "severity": "page"}]
    check = slo_check(period="1d", alerting=alerting)
    assert [(c.long, c.short, c.factor) for c in conditions_for(check)] == [("3h", "15m", 2.0)]
    assert windows_to_query(check.period, conditions_for(check)) == ["15m", "3h", "1d"]


def test_readme_table_of_windows_and_factors_matches_the_policy():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in {"1d", "7d", "28d", "30d"}:
            rows[cells[0]] = cells[1:]
    assert set(rows) == {"1d", "7d", "28d", "30d"}
    for period, cells in rows.items():
        for cell, condition in zip(cells, default_conditions(period), strict=True):
            windows, factor = cell.split(", × ")
            assert windows == f"{condition.long} / {condition.short}", (period, cell)
            assert float(factor) == pytest.approx(condition.factor, abs=0.005), (period, cell)

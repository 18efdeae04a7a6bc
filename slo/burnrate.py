"""Error budgets and multi-window multi-burn-rate alerting (Google SRE workbook, chapter 5).

The default conditions keep the workbook's windows and budget shares for any SLO period: a condition
that spends ``share`` of the budget within ``long`` has burn-rate factor ``share × period ÷ long``
(14.4, 6, 3 and 1 for a 30-day period).
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.durations import format_duration, parse_duration
from slo.spec import BurnRateWindow, Severity


@dataclass(frozen=True)
class DefaultCondition:
    long: str
    short: str
    budget_share: float
    severity: Severity


WORKBOOK_CONDITIONS: tuple[DefaultCondition, ...] = (
    DefaultCondition("1h", "5m", 0.02, Severity.PAGE),
    DefaultCondition("6h", "30m", 0.05, Severity.PAGE),
    DefaultCondition("1d", "2h", 0.10, Severity.TICKET),
    DefaultCondition("3d", "6h", 0.10, Severity.TICKET),
)


def burn_rate_factor(budget_share: float, period: str, long_window: str) -> float:
    """Burn rate at which ``budget_share`` of the period's budget is spent within ``long_window``."""
    return budget_share * parse_duration(period) / parse_duration(long_window)


def default_conditions(period: str) -> list[BurnRateWindow]:
    """The workbook's four conditions with factors scaled to ``period``."""
    return [
        BurnRateWindow(
            long=c.long,
            short=c.short,
            factor=round(burn_rate_factor(c.budget_share, period, c.long), 10),
            severity=c.severity,
        )
        for c in WORKBOOK_CONDITIONS
    ]


def windows_to_query(period: str, conditions: list[BurnRateWindow]) -> list[str]:
    """Every distinct window the SLO needs, shortest first, the period last."""
    seconds = {parse_duration(w) for c in conditions for w in (c.long, c.short)}
    seconds.add(parse_duration(period))
    return [format_duration(s) for s in sorted(seconds)]


def error_budget(objective_percent: float) -> float:
    """Allowed bad fraction for an objective in percent (99.9 → 0.001)."""
    return round(1.0 - objective_percent / 100.0, 12)


def burn_rate(error_ratio: float, budget: float) -> float:
    """How many times faster than sustainable the budget burns at ``error_ratio``."""
    return error_ratio / budget

"""Error budgets and multi-window multi-burn-rate alerting (Google SRE workbook, chapter 5).

One window policy for every SLO period, shared by evaluation and the rule generator:

* the budget shares stay the workbook's (2 %, 5 %, 10 %, 10 %), and a condition that spends ``share``
  of the budget within ``long`` has burn-rate factor ``share × period ÷ long``;
* for periods of 28 days and longer the windows are the workbook's (1h/5m, 6h/30m, 1d/2h, 3d/6h), so
  a 30d SLO gets 14.4, 6, 3, 1 and a 28d one 13.44, 5.6, 2.8, 0.93 (Sloth's tables);
* for shorter periods every window scales with ``period ÷ 30d``, rounded to the minute and at least one
  minute. The factors then stay at 14.4, 6, 3, 1 instead of falling below 1 (a 1d SLO with workbook
  windows would page at a burn rate of 0.48, i.e. while *meeting* its objective), and no window is
  longer than the period. Below a period of about 15 hours the windows reach the one-minute floor, the
  short window can equal the long one, and the factors drift from these values.

A spec's own ``alerting:`` conditions always win over these defaults (see ``slo.promql.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from slo.durations import format_duration, parse_duration
from slo.spec import BurnRateWindow, Severity

REFERENCE_PERIOD = 30 * 86400
"""The period the workbook's windows were chosen for."""
WORKBOOK_MIN_PERIOD = 28 * 86400
"""From this period on the workbook's windows are used unscaled."""


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


def scaled_window(window: str, period: str) -> str:
    """``window`` as the policy uses it for an SLO over ``period`` (see the module docstring).

    Integer arithmetic, rounding half up to the minute, so 7d gives exactly 14m for the workbook's 1h.
    """
    seconds, period_seconds = parse_duration(window), parse_duration(period)
    if period_seconds >= WORKBOOK_MIN_PERIOD:
        return window
    minutes = (2 * seconds * period_seconds + REFERENCE_PERIOD * 60) // (2 * REFERENCE_PERIOD * 60)
    return format_duration(max(1, minutes) * 60)


def default_conditions(period: str) -> list[BurnRateWindow]:
    """The workbook's four conditions with windows and factors for ``period``.

    Worked out once per period (a gate of a thousand 30-day SLOs asks a thousand times); the models are
    shared between the lists returned, which nothing modifies.
    """
    return list(_default_conditions(period))


@lru_cache(maxsize=256)
def _default_conditions(period: str) -> tuple[BurnRateWindow, ...]:
    conditions = []
    for c in WORKBOOK_CONDITIONS:
        long, short = scaled_window(c.long, period), scaled_window(c.short, period)
        fields = {
            "long": long,
            "short": short,
            "factor": round(burn_rate_factor(c.budget_share, period, long), 10),
            "severity": c.severity,
        }
        if parse_duration(short) < parse_duration(long):
            conditions.append(BurnRateWindow(**fields))
        else:
            # periods under ~15h: both windows hit the 1-minute floor; the condition is then a single-window
            # one (a spec cannot write that, the policy can: it is still a valid query and a valid alert)
            conditions.append(BurnRateWindow.model_construct(**fields))  # type: ignore[arg-type]
    return tuple(conditions)


def windows_to_query(period: str, conditions: list[BurnRateWindow]) -> list[str]:
    """Every distinct window the SLO needs, shortest first, the period last."""
    return list(_windows_to_query(period, tuple((c.long, c.short) for c in conditions)))


@lru_cache(maxsize=1024)
def _windows_to_query(period: str, pairs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Cached by the windows themselves: every SLO of a gate with the same period asks the same (three times)."""
    seconds = {parse_duration(w) for pair in pairs for w in pair}
    seconds.add(parse_duration(period))
    return tuple(format_duration(s) for s in sorted(seconds))


def error_budget(objective_percent: float) -> float:
    """Allowed bad fraction for an objective in percent (99.9 → 0.001)."""
    return round(1.0 - objective_percent / 100.0, 12)


def burn_rate(error_ratio: float, budget: float) -> float:
    """How many times faster than sustainable the budget burns at ``error_ratio``."""
    return error_ratio / budget

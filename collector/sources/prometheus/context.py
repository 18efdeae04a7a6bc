"""Context series: a small ``query_range`` history per check, so charts need no second query.

A packet holds instant values; a reviewer also wants to see how the value got there. For every check
with a Prometheus query this module asks one range over the check's window (an SLO's period; a day for
a threshold check; or ``--context-lookback``) with a step chosen so the range has at most
:data:`MAX_POINTS` points, and stores the answer compactly: ``start``, ``step`` and a values array with
``null`` for gaps (:class:`slo.results.CheckContext`).

* Threshold checks record their value query as written.
* SLO checks record the error ratio ``bad / total`` (or ``1 − good / total``) over a rate window of the
  shortest burn-rate window, widened to the step when the step is longer so no event falls between two
  points. Numerator and total are asked separately, not as one ``a / b`` query, because each of them is a
  ``sum(increase(m{service="x"}[w]))`` that the grouping planner (:mod:`slo.promql.grouping`) can merge:
  at 1000 SLOs one ``sum by (service) (…)`` range query answers 100 checks, so context costs tens of
  requests, not thousands.

A grouped range answer has one series for every label value that had a point anywhere in the range, so a
member missing from a well-formed answer is exactly an empty member (no request is repeated). An answer
of the wrong shape sends its members on their own. Context never changes a verdict: its faults are
recorded in the context (status, reason, fault per query) and the check keeps the verdict it had.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from collector.sources.prometheus.grouping import configured_max_values
from collector.timeutil import rfc3339
from slo.durations import format_duration, parse_duration
from slo.promql.grouping import Group, plan_groups
from slo.promql.plan import conditions_for
from slo.results import CheckContext, CheckResult, ContextQuery, Status
from slo.spec import Check, SloCheck, ThresholdCheck
from slo.templating import TemplateError, render

MAX_POINTS = 200
"""Points per context series: enough for a chart's width, small enough for a packet of 1000 checks."""
THRESHOLD_LOOKBACK = 86400
"""A threshold check has no window of its own: a day of its value shows the trend around the gate."""
DIGITS = 6
"""Significant digits kept per point: a chart needs far fewer, and 200 long floats per check add up."""


@dataclass(frozen=True)
class ContextSettings:
    """``--context-lookback`` (seconds; None: each check's own window) and the point budget."""

    lookback: int | None = None
    max_points: int = MAX_POINTS


@dataclass(frozen=True)
class Grid:
    """The points a range asks for: ``start + i × step`` for ``i < points``; the last one is the evaluation time."""

    start: float
    step: int
    points: int

    @property
    def end(self) -> float:
        return self.start + (self.points - 1) * self.step


def grid_for(at: float, lookback: int, max_points: int = MAX_POINTS) -> Grid:
    """The coarsest whole-second step (whole minutes from a minute on) that fits ``lookback`` in ``max_points``."""
    lookback = max(1, int(lookback))
    step = max(1, math.ceil(lookback / max(1, max_points - 1)))
    if step >= 60:
        step = math.ceil(step / 60) * 60  # rate windows and Prometheus' own steps read better in minutes
    points = lookback // step + 1
    return Grid(start=at - (points - 1) * step, step=step, points=points)


@dataclass(frozen=True)
class ContextPlan:
    """What one check's context asks: its queries by role on one grid, and how to combine them."""

    check_id: str
    series: str  # value or error_ratio
    window: str | None
    grid: Grid
    queries: tuple[tuple[str, str], ...]  # (role, query text)
    thresholds: Mapping[str, float]


def plan_context(
    check: Check, variables: Mapping[str, str], at: float, settings: ContextSettings
) -> ContextPlan | None:
    """The context of ``check``, or None for kinds without a Prometheus query (or a query that does not render)."""
    try:
        if isinstance(check, ThresholdCheck):
            grid = grid_for(at, settings.lookback or THRESHOLD_LOOKBACK, settings.max_points)
            thresholds = {"target": check.target, **({"warn": check.warn} if check.warn is not None else {})}
            query = render(check.query, variables)
            return ContextPlan(check.id, "value", None, grid, (("value", query),), thresholds)
        if isinstance(check, SloCheck):
            grid = grid_for(at, settings.lookback or parse_duration(check.period), settings.max_points)
            conditions = conditions_for(check)
            shortest = min(conditions, key=lambda c: parse_duration(c.short))
            factor = max(c.factor for c in conditions if c.short == shortest.short)
            window = format_duration(max(parse_duration(shortest.short), grid.step))
            scoped = {**variables, "window": window}
            role, numerator = ("good", check.good) if check.good is not None else ("bad", check.bad)
            assert numerator is not None
            queries = ((role, render(numerator, scoped)), ("total", render(check.total, scoped)))
            thresholds = {"objective": check.objective, "burn_rate": factor}
            return ContextPlan(check.id, "error_ratio", window, grid, queries, thresholds)
    except TemplateError:
        return None  # the check's own planning reports the broken template
    return None


@dataclass
class _Answer:
    """One member query's range answer: its points on the grid, or why there are none."""

    response: QueryResponse
    values: list[float | None]
    reason: str | None = None


class ContextFetcher:
    """Answers every plan's range queries, grouping those on the same grid, each distinct query once."""

    def __init__(self, client: PrometheusClient, max_values: int | None = None) -> None:
        self.client = client
        self.max_values = configured_max_values() if max_values is None else max_values

    async def fetch(self, plans: Sequence[ContextPlan]) -> dict[str, CheckContext]:
        """Check id → its context; a fault becomes the context's status and reason, never an exception."""
        by_grid: dict[Grid, list[str]] = {}
        for plan in plans:
            by_grid.setdefault(plan.grid, []).extend(q for _, q in plan.queries)
        answers: dict[tuple[Grid, str], _Answer] = {}
        await asyncio.gather(*(self._answer_grid(grid, queries, answers) for grid, queries in by_grid.items()))
        return {plan.check_id: _context(plan, [answers[(plan.grid, q)] for _, q in plan.queries]) for plan in plans}

    async def _answer_grid(self, grid: Grid, queries: list[str], answers: dict[tuple[Grid, str], _Answer]) -> None:
        distinct = list(dict.fromkeys(queries))
        plan = plan_groups(distinct, self.max_values)
        groups = {group.text: group for group in plan.values()}

        async def alone(query: str) -> None:
            response = await self._range(query, grid)
            answers[(grid, query)] = _single(response, grid)

        async def grouped(group: Group) -> None:
            response = await self._range(group.text, grid)
            members = _members(response, group, grid)
            if members is None:  # not the shape grouping relies on: ask each member as written
                await asyncio.gather(*(alone(member) for member in group.members.values()))
                return
            for value, member in group.members.items():
                answers[(grid, member)] = members.get(value) or _Answer(response, [None] * grid.points)

        await asyncio.gather(*(grouped(g) for g in groups.values()), *(alone(q) for q in distinct if q not in plan))

    async def _range(self, query: str, grid: Grid) -> QueryResponse:
        return await self.client.query_range(query, grid.start, grid.end, grid.step)


def _finite(text: object) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def on_grid(samples: Iterable[object], grid: Grid) -> list[float | None]:
    """``[[ts, "v"], …]`` placed on the grid (nearest point; the later sample wins), gaps as None.

    Prometheus answers exactly on the grid; another backend (or a longer answer than asked for) is
    downsampled here, so a context never holds more than ``grid.points`` values.
    """
    values: list[float | None] = [None] * grid.points
    for sample in samples:
        if not isinstance(sample, list | tuple) or len(sample) != 2:
            continue
        stamp = _finite(sample[0])
        if stamp is None:
            continue
        index = round((stamp - grid.start) / grid.step)
        if 0 <= index < grid.points:
            values[index] = _finite(sample[1])
    return values


def _matrix(response: QueryResponse) -> list[dict[str, object]] | None:
    if response.status != "ok" or response.result_type != "matrix" or not isinstance(response.result, list):
        return None
    if not all(isinstance(s, dict) for s in response.result):
        return None
    return response.result


def _single(response: QueryResponse, grid: Grid) -> _Answer:
    if response.status != "ok":
        return _Answer(response, [None] * grid.points, response.reason or "query failed")
    result = _matrix(response)
    if result is None:
        return _Answer(response, [None] * grid.points, f"expected a matrix, got {response.result_type!r}")
    if len(result) > 1:
        return _Answer(response, [None] * grid.points, f"query returned {len(result)} series; aggregate it to one")
    samples = result[0].get("values") if result else []
    return _Answer(response, on_grid(samples if isinstance(samples, list) else [], grid))


def _members(response: QueryResponse, group: Group, grid: Grid) -> dict[str, _Answer] | None:
    """A grouped range answer split by label value, or None when it is not the shape grouping relies on."""
    result = _matrix(response)
    if result is None:
        return None
    members: dict[str, _Answer] = {}
    for series in result:
        metric = series.get("metric")
        value = metric.get(group.label) if isinstance(metric, dict) else None
        samples = series.get("values")
        if not isinstance(value, str) or value not in group.members or value in members:
            return None
        if not isinstance(samples, list):
            return None
        selected = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else None
        members[value] = _Answer(_selected(response, selected), on_grid(samples, grid))
    return members


def _selected(response: QueryResponse, labels: dict[str, str] | None) -> QueryResponse:
    return replace(response, result=None, selected=labels)


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.{DIGITS}g}")


def _ratio(plan: ContextPlan, answers: list[_Answer]) -> list[float | None]:
    numerator, total = answers[0].values, answers[1].values
    good = plan.queries[0][0] == "good"
    ratios: list[float | None] = []
    for n, t in zip(numerator, total, strict=True):
        if n is None or t is None or t <= 0:
            ratios.append(None)  # no events in the window: the ratio is 0/0, a gap rather than a number
            continue
        ratios.append(1.0 - n / t if good else n / t)
    return ratios


def _context(plan: ContextPlan, answers: list[_Answer]) -> CheckContext:
    queries = [
        ContextQuery(
            role=role,
            query=answer.response.query,
            status=Status.ERROR if answer.reason else Status.OK,
            reason=answer.reason,
            fault=answer.response.fault,
            response_sha256=answer.response.response_sha256,
            attempts=answer.response.attempts,
            selected=answer.response.selected,
        )
        for (role, _), answer in zip(plan.queries, answers, strict=True)
    ]
    failed = next((a for a in answers if a.reason), None)
    values = answers[0].values if plan.series == "value" else _ratio(plan, answers)
    values = [_round(v) for v in values] if failed is None else []
    if failed is not None:
        status, reason = Status.ERROR, f"context not recorded: {failed.reason}"
    elif all(v is None for v in values):
        status, reason = Status.NO_DATA, "no samples in the context range"
    else:
        status, reason = Status.OK, None
    return CheckContext(
        series=plan.series,
        window=plan.window,
        start=rfc3339(plan.grid.start),
        end=rfc3339(plan.grid.end),
        step=plan.grid.step,
        values=values,
        thresholds=dict(plan.thresholds),
        status=status,
        reason=reason,
        queries=queries,
    )


def with_context(result: CheckResult, context: CheckContext | None) -> CheckResult:
    """``result`` carrying ``context`` (verdict, value and reason untouched)."""
    return result if context is None else result.model_copy(update={"context": context})

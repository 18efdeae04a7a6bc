"""``ai_cost`` checks: GenAI spans priced with a price table, per run, day or model. Pure.

A GenAI call is a span reporting token usage (see :mod:`slo.pricing`). Its model is the response model
when the table knows it, else the request model (``gpt-4o-2024-08-06`` answers a request for
``gpt-4o``; tables list either). A *run* is a trace: every trace with a root or ``invoke_agent`` span
in the window counts, so a run that made no call costs 0 and still lowers the average. A model the
table does not know, or token counts that are not numbers, make the check an error that names them:
nothing is ever priced as zero silently.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from slo.evaluate import result
from slo.formatting import number
from slo.pricing import MODEL_KEYS, PriceTable, UsageError, cost_of, usage_of
from slo.results import CheckResult, QueryOutcome, Status, Verdict
from slo.spec import AiCostCheck
from slo.traces import PERCENTILES, Span, compile_filter, decide, window_bounds_ns

RUN_OPERATION = "invoke_agent"


_DAY_NS = 86_400_000_000_000
_DAYS: dict[int, dt.date] = {}


def _day(ns: int) -> dt.date:
    """The UTC day of ``ns``; remembered per day number when ``ns`` is over a second from midnight (exact there)."""
    number, into = divmod(ns, _DAY_NS)
    if 1_000_000_000 <= into < _DAY_NS - 1_000_000_000:
        day = _DAYS.get(number)
        if day is None:
            if len(_DAYS) > 4096:
                _DAYS.clear()
            day = _DAYS[number] = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).date()
        return day
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).date()


class CostAggregator:
    """Running cost of one ``ai_cost`` check over a stream of spans."""

    def __init__(self, check: AiCostCheck, at: float, pricing: PriceTable | None) -> None:
        self.check = check
        self.pricing = pricing
        self.start_ns, self.end_ns = window_bounds_ns(at, check.window)
        self.match = compile_filter(check.filter)
        self.groups: dict[str, float] = {}
        self.by_model: dict[str, dict[str, float]] = {}
        self.unpriced: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.calls = 0
        self.seen = 0
        self.runs_seen: set[str] = set()

    def add(self, span: Span) -> None:
        self.seen += 1
        if self.start_ns <= span.start_ns < self.end_ns and self.match(span):
            self.accumulate(span)

    def accumulate(self, span: Span) -> None:
        """Price one span already known to be in the window and to match the filter (fast scanners call this)."""
        per = self.check.per
        if per == "run" and (not span.parent_span_id or span.attributes.get("gen_ai.operation.name") == RUN_OPERATION):
            self.groups.setdefault(span.trace_id, 0.0)
        try:
            usage = usage_of(span.attributes)
        except UsageError as exc:
            self.malformed[str(exc)] += 1
            return
        if usage is None:
            return
        self.calls += 1
        names = [v for k in MODEL_KEYS if isinstance(v := span.attributes.get(k), str) and v]
        model = names[0] if names else "(no model attribute)"
        amount: float
        if self.check.measure == "tokens":
            amount = usage.tokens
        else:
            day = _day(span.start_ns)
            price = None
            if self.pricing is not None:
                for name in names:
                    price = self.pricing.lookup(name, day)
                    if price is not None:
                        model = name
                        break
            if price is None:
                self.unpriced[model] += 1
                return
            amount = cost_of(usage, price.rates_for(usage.input))
        row = self.by_model.setdefault(model, {"calls": 0, "input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0})
        row["calls"] += 1
        row["input_tokens"] += usage.input
        row["output_tokens"] += usage.output
        row["cost"] += amount if self.check.measure == "cost" else 0.0
        if per is None:
            key = ""
        elif per == "run":
            key = span.trace_id
        elif per == "day":
            key = _day(span.start_ns).isoformat()
        else:
            key = model
        self.groups[key] = self.groups.get(key, 0.0) + amount


def decide_cost(
    check: AiCostCheck,
    aggregator: CostAggregator,
    evaluated_at: str | None,
    *,
    complete: bool = True,
    notes: list[str] | None = None,
    queries: list[QueryOutcome] | None = None,
    cost_source: str = "traces",
) -> CheckResult:
    """Verdict for one ``ai_cost`` check; unknown models and malformed counts are errors that name them."""
    notes = list(notes or [])
    queries = list(queries or [])
    unit = check.unit or ("USD" if check.measure == "cost" else "tokens")
    details: dict[str, Any] = {
        "cost_source": cost_source,
        "price_table": aggregator.pricing.format if aggregator.pricing else None,
        "genai_calls": aggregator.calls,
        "spans_seen": aggregator.seen,
        "by_model": {m: {k: round(v, 9) for k, v in row.items()} for m, row in sorted(aggregator.by_model.items())},
    }
    common: dict[str, Any] = {"unit": unit, "queries": queries, "details": details}
    problem = next((q for q in queries if q.status == Status.ERROR), None)
    if problem is not None:
        return result(check, Verdict.ERROR, problem.reason or "query failed", evaluated_at, **common)
    if check.measure == "cost" and aggregator.pricing is None:
        return result(check, Verdict.ERROR, "no price table given (--pricing FILE)", evaluated_at, **common)
    if aggregator.malformed:
        shown = "; ".join(f"{why} ({n} span(s))" for why, n in aggregator.malformed.most_common(3))
        return result(check, Verdict.ERROR, f"malformed GenAI token counts: {shown}", evaluated_at, **common)
    if aggregator.unpriced:
        details["unpriced_models"] = dict(aggregator.unpriced)
        shown = ", ".join(f"{m} ({n} call(s))" for m, n in aggregator.unpriced.most_common())
        reason = f"no price for model(s) {shown} in the {details['price_table']} table: not priced as zero"
        return result(check, Verdict.ERROR, reason, evaluated_at, **common)
    values = aggregator.groups
    if not values:
        reason = f"no GenAI call with token usage in the last {check.window}"
        if not complete:
            reason += f" (partial: {'; '.join(notes)})"
        return result(check, Verdict.NO_DATA, reason, evaluated_at, **common)
    numbers = np.fromiter(values.values(), dtype=float, count=len(values))
    aggregate = check.aggregate
    if aggregate == "sum":
        value = float(numbers.sum())
    elif aggregate == "avg":
        value = float(numbers.mean())
    elif aggregate == "max":
        value = float(numbers.max())
    else:
        value = float(np.percentile(numbers, PERCENTILES[aggregate]))
    details["groups"] = len(values)
    if check.per in {"day", "model"}:
        details["per_" + check.per] = {k: round(v, 9) for k, v in sorted(values.items())}
    what = f"{aggregate} {check.measure}" + (f" per {check.per}" if check.per else "")
    return decide(
        check,
        value,
        unit,
        what,
        evaluated_at,
        complete=complete,
        notes=notes,
        details=details,
        queries=queries,
    )


def money(value: float) -> str:
    return number(value, 6)

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
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from slo import spill as spill_
from slo.evaluate import result
from slo.formatting import number
from slo.packedruns import PackedRuns
from slo.pricing import MODEL_KEYS, PriceTable, Rates, UsageError, usage_of
from slo.results import CheckResult, QueryOutcome, Status, Verdict
from slo.spec import AiCostCheck
from slo.spill import SpillFactory
from slo.traces import PERCENTILES, Span, compile_filter, decide, window_bounds_ns

RUN_OPERATION = "invoke_agent"


_DAY_NS = 86_400_000_000_000
_UNSEEN = object()
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


Exact = int | Fraction
"""An amount in units of ``2**-scale`` (USD or tokens): sums of these are exact, so their order never matters."""


@dataclass(frozen=True, slots=True)
class Units:
    """A call's four token rates as exact integers (USD per token × ``2**scale``): priced by integer arithmetic."""

    fresh: int
    cache_read: int
    cache_write: int
    output: int


@dataclass(slots=True)
class ModelRow:
    """Calls, tokens and exact cost of one model (``by_model`` in the packet)."""

    calls: int = 0
    input_tokens: Exact = 0
    output_tokens: Exact = 0
    cost: Exact = 0

    def merge(self, other: ModelRow) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost += other.cost


def exact(value: float) -> Exact:
    """A token count (a float from the attribute) as an exact number: int when integral, else its Fraction."""
    return int(value) if value.is_integer() else Fraction(value)


def price_scale(pricing: PriceTable | None) -> int:
    """The power of two that makes every rate of the table an integer (a float is ``n / 2**k``)."""
    scale = 0
    for price in pricing.prices if pricing is not None else ():
        for rates in (price.rates, price.large_context):
            for rate in (rates.input, rates.output, rates.cache_read, rates.cache_write) if rates else ():
                if rate is not None:
                    scale = max(scale, rate.as_integer_ratio()[1].bit_length() - 1)
    return scale


def to_float(amount: Exact, scale: int) -> float:
    """``amount / 2**scale`` rounded once (int / int and Fraction → float are correctly rounded)."""
    return float(amount / (1 << scale)) if scale else float(amount)


class CostAggregator:
    """Running cost of one ``ai_cost`` check over a stream of spans.

    Memory: per run, the recent runs are a dict and older ones are packed (:mod:`slo.packedruns`):
    32 bytes a run, and past a budget they go to ``spill`` stores (partitioned by trace id), so memory
    stays bounded whatever the number of runs (the other groupings are a handful of entries).

    Why exact integers: a call's cost is ``tokens × rate`` summed over four token kinds; with every rate
    scaled to an integer (:func:`price_scale`) and integral token counts, a group's cost is an integer
    that does not depend on the order calls were added. So the fast scanner, the reference decoder and
    a file split across worker processes (partial sums merged with :meth:`merge`) give the same value to
    the last bit, and the packet's value is rounded once, at the end.
    """

    PACK_LIMIT = 1 << 14
    """Runs kept as a dict before they are packed (tests lower it to pack often)."""

    def __init__(
        self, check: AiCostCheck, at: float, pricing: PriceTable | None, spill: SpillFactory | None = None
    ) -> None:
        self.check = check
        self.pricing = pricing
        self.start_ns, self.end_ns = window_bounds_ns(at, check.window)
        self.match = compile_filter(check.filter)
        self.scale = price_scale(pricing) if check.measure == "cost" else 0
        self.groups: dict[str, Exact] = {}
        """Group (trace id per run, day, model, ``""``) → exact amount in units of ``2**-scale``."""
        self.packed = PackedRuns(spill=spill)
        """Per run: runs moved out of :attr:`groups` when it passed :attr:`PACK_LIMIT` entries (32 bytes a run)."""
        self.by_model: dict[str, ModelRow] = {}
        self.unpriced: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()
        self.calls = 0
        self.seen = 0
        self._units: dict[Rates, Units] = {}
        self._by_day: dict[tuple[tuple[str, ...], int], Any] = {}
        self._per = check.per
        self._tokens_only = check.measure == "tokens"

    def add(self, span: Span) -> None:
        self.seen += 1
        if self.start_ns <= span.start_ns < self.end_ns and self.match(span):
            self.accumulate(span)

    def accumulate(self, span: Span) -> None:
        """Price one span already known to be in the window and to match the filter (fast scanners call this)."""
        per = self.check.per
        if per == "run" and (not span.parent_span_id or span.attributes.get("gen_ai.operation.name") == RUN_OPERATION):
            self.open_run(span.trace_id)
        try:
            usage = usage_of(span.attributes)
        except UsageError as exc:
            self.malformed[str(exc)] += 1
            return
        if usage is None:
            return
        names = tuple(v for k in MODEL_KEYS if isinstance(v := span.attributes.get(k), str) and v)
        self.add_call(
            span.trace_id,
            names,
            span.start_ns,
            exact(usage.input),
            exact(usage.output),
            exact(usage.cache_read),
            exact(usage.cache_write),
        )

    def add_call(
        self,
        trace_id: str,
        names: tuple[str, ...],
        start_ns: int,
        input_: Exact,
        output: Exact,
        read: Exact,
        write: Exact,
    ) -> None:
        """One GenAI call (its usage already read and validated): priced exactly, added to its group."""
        self.calls += 1
        amount: Exact
        if self._tokens_only:
            model = names[0] if names else "(no model attribute)"
            amount = input_ + output
            cost: Exact = 0
        else:
            number, into = divmod(start_ns, _DAY_NS)
            if 1_000_000_000 <= into < _DAY_NS - 1_000_000_000:  # the day of every ns of that day but its edges
                key = (names, number)
                priced = self._by_day.get(key, _UNSEEN)
                if priced is _UNSEEN:
                    if len(self._by_day) > 4096:
                        self._by_day.clear()
                    priced = self._by_day[key] = self._priced(names, _day(start_ns))
            else:
                priced = self._priced(names, _day(start_ns))
            if priced is None:
                self.unpriced[names[0] if names else "(no model attribute)"] += 1
                return
            model, units, large, above = priced
            if large is not None and input_ > above:
                units = large
            read = min(read, input_)
            write = min(write, input_ - read)
            amount = cost = (
                (input_ - read - write) * units.fresh
                + read * units.cache_read
                + write * units.cache_write
                + output * units.output
            )
        row = self.by_model.get(model)
        if row is None:
            row = self.by_model[model] = ModelRow()
        row.calls += 1
        row.input_tokens += input_
        row.output_tokens += output
        row.cost += cost
        per = self._per
        if per == "run":
            group = trace_id
        elif per is None:
            group = ""
        elif per == "day":
            group = _day(start_ns).isoformat()
        else:
            group = model
        groups = self.groups
        groups[group] = groups.get(group, 0) + amount
        if len(groups) > self.PACK_LIMIT and per == "run":
            self.packed.pack(groups)

    def open_run(self, trace_id: str) -> None:
        """A run's span (root or ``invoke_agent``): the run counts, at cost 0 until a call adds to it."""
        groups = self.groups
        if trace_id not in groups:
            groups[trace_id] = 0
            if len(groups) > self.PACK_LIMIT:
                self.packed.pack(groups)

    def _priced(self, names: tuple[str, ...], day: dt.date) -> tuple[str, Units, Units | None, float] | None:
        """The first of ``names`` the table prices on ``day`` (response model before request model), as units."""
        for name in names if self.pricing is not None else ():
            price = self.pricing.lookup(name, day)  # type: ignore[union-attr]
            if price is not None:
                large = price.large_context if price.large_context_above is not None else None
                above = price.large_context_above if price.large_context_above is not None else math.inf
                return name, self.units(price.rates), self.units(large) if large else None, above
        return None

    def units(self, rates: Rates) -> Units:
        found = self._units.get(rates)
        if found is None:
            read = rates.input if rates.cache_read is None else rates.cache_read
            write = rates.input if rates.cache_write is None else rates.cache_write
            found = self._units[rates] = Units(*(self._scaled(r) for r in (rates.input, read, write, rates.output)))
        return found

    def _scaled(self, rate: float) -> int:
        numerator, denominator = rate.as_integer_ratio()
        return numerator * ((1 << self.scale) // denominator)

    def value(self, amount: Exact) -> float:
        return to_float(amount, self.scale)

    def group_count(self) -> int:
        self.packed.settle(self.groups)
        return len(self.groups) + len(self.packed)

    def total(self) -> Exact:
        """The exact sum over all groups."""
        self.packed.settle(self.groups)
        return sum(self.groups.values()) + self.packed.total()

    def maximum(self) -> Exact:
        self.packed.settle(self.groups)
        top = self.packed.maximum()
        return max(self.groups.values()) if top is None else max([top, *self.groups.values()])

    def amounts(self) -> Iterator[Exact]:
        self.packed.settle(self.groups)
        yield from self.groups.values()
        yield from self.packed.amounts()

    def percentile(self, q: float) -> float:
        """``np.percentile`` of every group's amount as a float; past the budget through a spill store (bounded)."""
        count = self.group_count()
        if not self.packed.partitions or self.packed.spill is None:
            numbers = np.fromiter((to_float(v, self.scale) for v in self.amounts()), dtype=float, count=count)
            return float(np.percentile(numbers, q))
        store = self.packed.spill("f8")
        buffer: list[float] = []
        for amount in self.amounts():
            buffer.append(to_float(amount, self.scale))
            if len(buffer) >= spill_.CHUNK:
                store.append(np.array(buffer, dtype=np.float64))
                buffer = []
        store.append(np.array(buffer, dtype=np.float64))
        try:
            return spill_.percentile(store.chunks, count, q)
        finally:
            store.discard()

    def state(self) -> dict[str, Any]:
        """What :meth:`merge` needs, picklable (the filter predicate is not)."""
        return {
            "seen": self.seen,
            "calls": self.calls,
            "groups": self.groups,
            "packed": self.packed,
            "by_model": self.by_model,
            "unpriced": self.unpriced,
            "malformed": self.malformed,
        }

    def merge_state(self, state: dict[str, Any]) -> None:
        """:meth:`merge` of another aggregator's :meth:`state`."""
        self.seen += state["seen"]
        self.calls += state["calls"]
        for key, amount in state["groups"].items():
            self.groups[key] = self.groups.get(key, 0) + amount
        self.packed.extend(state["packed"])
        if len(self.groups) > self.PACK_LIMIT and self._per == "run":
            self.packed.pack(self.groups)
        for model, row in state["by_model"].items():
            self.by_model.setdefault(model, ModelRow()).merge(row)
        self.unpriced.update(state["unpriced"])
        self.malformed.update(state["malformed"])


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
        "by_model": {m: _row(aggregator, row) for m, row in sorted(aggregator.by_model.items())},
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
    count = aggregator.group_count()
    if not count:
        reason = f"no GenAI call with token usage in the last {check.window}"
        if not complete:
            reason += f" (partial: {'; '.join(notes)})"
        return result(check, Verdict.NO_DATA, reason, evaluated_at, **common)
    aggregate = check.aggregate
    scale = aggregator.scale
    if aggregate == "sum":
        value = to_float(aggregator.total(), scale)
    elif aggregate == "avg":
        value = to_float(Fraction(aggregator.total(), count), scale)
    elif aggregate == "max":
        value = to_float(aggregator.maximum(), scale)
    else:
        value = aggregator.percentile(PERCENTILES[aggregate])
    details["groups"] = count
    if check.per in {"day", "model"}:
        details["per_" + check.per] = {k: round(to_float(v, scale), 9) for k, v in sorted(values.items())}
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


def _row(aggregator: CostAggregator, row: ModelRow) -> dict[str, float]:
    return {
        "calls": row.calls,
        "input_tokens": round(float(row.input_tokens), 9),
        "output_tokens": round(float(row.output_tokens), 9),
        "cost": round(aggregator.value(row.cost), 9),
    }


def money(value: float) -> str:
    return number(value, 6)

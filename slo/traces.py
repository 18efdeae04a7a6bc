"""Trace checks decided from spans: the span model, filters, streaming aggregation and verdicts. Pure.

Every trace backend (an OTLP file, Jaeger, Tempo's search) is decoded into :class:`Span` records that
are fed one at a time into a :class:`TraceAggregator`; it keeps only running counts (plus one float per
matching span for duration percentiles, moved to a spill store past a budget: :mod:`slo.spill`), so
memory does not grow with the input. Tempo's TraceQL
metrics compute the number on the server instead; both paths end in :func:`decide_trace`, which
turns a :class:`TraceMeasurement` into a verdict, so a check means the same whatever answered it.

Window semantics: a span belongs to the window ``[at - window, at)`` by its start time (what Tempo's
metrics bucket on). A filter's conditions all hold (AND); attributes are looked up on the span first,
then on its resource (TraceQL's unscoped ``.name``).
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from slo import spill as spill_
from slo.durations import parse_duration
from slo.evaluate import result
from slo.formatting import number, quantity
from slo.results import CheckResult, QueryOutcome, Status, Verdict
from slo.spec import Op, SpanFilter, TraceCheck
from slo.spill import SpillFactory, SpillStore

SPAN_KINDS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
SPAN_STATUSES = {"unset": 0, "ok": 1, "error": 2}
STATUS_ERROR = 2
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
MAX_GROUPS = 10_000
"""Distinct ``by`` groups one trace check keeps; spans of later groups are counted as dropped (the measurement
is then partial, never silently complete), so a high-cardinality ``by`` cannot grow memory without bound."""
_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000}
_DURATION_UNITS["h"] = 3_600_000_000_000
_SPAN_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)$")


@dataclass(slots=True)
class Span:
    """One span as every decoder produces it: hex ids, integer kind/status (OTLP numbering), nanoseconds."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    status: int
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]

    @property
    def service(self) -> str | None:
        value = self.resource.get("service.name")
        return value if isinstance(value, str) else None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def attribute(self, key: str) -> Any:
        """The span's attribute, else its resource's (None when neither has it)."""
        value = self.attributes.get(key)
        return self.resource.get(key) if value is None else value


def span_duration_ns(text: str) -> int:
    """``"250ms"`` → 250 000 000 (the filter's ``min_duration``)."""
    found = _SPAN_DURATION.match(text)
    if not found:
        raise ValueError(f"invalid span duration {text!r}: use e.g. 250ms, 2s")
    return int(float(found[1]) * _DURATION_UNITS[found[2]])


def window_bounds_ns(at: float, window: str) -> tuple[int, int]:
    """``[at - window, at)`` in Unix nanoseconds."""
    end = round(at * 1e9)
    return end - parse_duration(window) * 1_000_000_000, end


def as_text(value: Any) -> str:
    """An attribute value as TraceQL and Jaeger tags print it (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def as_number(value: Any) -> float | None:
    """A numeric attribute (ints may arrive as strings: OTLP int64); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number_ = float(value)
        except ValueError:
            return None
        return number_ if math.isfinite(number_) else None
    return None


def _equals(actual: Any, expected: str | int | float | bool) -> bool:
    if actual is None:
        return False
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual is expected
    if isinstance(expected, int | float):
        found = as_number(actual)
        return found is not None and found == float(expected)
    return as_text(actual) == expected


SpanPredicate = Callable[[Span], bool]


ValueTest = Callable[[Any], bool]


def _equals_test(expected: str | int | float | bool) -> ValueTest:
    return lambda value: _equals(value, expected)


def _matches_test(pattern: re.Pattern[str]) -> ValueTest:
    return lambda value: value is not None and pattern.search(as_text(value)) is not None


def attribute_tests(spec: SpanFilter) -> list[tuple[str, ValueTest]]:
    """The filter's attribute conditions as (key, test of :meth:`Span.attribute`'s value).

    Why separate: a fast scanner looks the few keys up in a span's raw attributes and tests the values
    with these very functions, without building a :class:`Span`.
    """
    tests = [(key, _equals_test(expected)) for key, expected in spec.attributes.items()]
    return tests + [(key, _matches_test(re.compile(regex))) for key, regex in spec.attributes_regex.items()]


def _attribute_test(key: str, test: ValueTest) -> SpanPredicate:
    return lambda s: test(s.attribute(key))


def compile_filter(spec: SpanFilter) -> SpanPredicate:
    """One predicate checking every condition of ``spec`` (cheapest first)."""
    tests: list[SpanPredicate] = []
    if spec.span_name is not None:
        name = spec.span_name
        tests.append(lambda s: s.name == name)
    if spec.span_kind is not None:
        kind = SPAN_KINDS[spec.span_kind]
        tests.append(lambda s: s.kind == kind)
    if spec.status is not None:
        status = SPAN_STATUSES[spec.status]
        tests.append(lambda s: s.status == status)
    if spec.root is not None:
        root = spec.root
        tests.append(lambda s: (not s.parent_span_id) == root)
    if spec.service is not None:
        service = spec.service
        tests.append(lambda s: s.resource.get("service.name") == service)
    if spec.min_duration is not None:
        floor = span_duration_ns(spec.min_duration)
        tests.append(lambda s: s.end_ns - s.start_ns >= floor)
    if spec.span_name_regex is not None:
        pattern = re.compile(spec.span_name_regex)
        tests.append(lambda s: pattern.search(s.name) is not None)
    for key, test in attribute_tests(spec):
        tests.append(_attribute_test(key, test))
    if not tests:
        return lambda s: True
    if len(tests) == 1:
        return tests[0]
    return lambda s: all(t(s) for t in tests)


@dataclass
class _Group:
    """One group's running counts; :meth:`merge` adds a later part of the same stream (exact)."""

    count: int = 0
    errors: int = 0
    numerator: int = 0
    durations: array[float] = field(default_factory=lambda: array("d"))
    total: int | Fraction = 0
    """The attribute's exact sum (integral values as int, others as their Fraction): order-independent."""
    values: int = 0
    maximum: float = -math.inf
    missing: int = 0
    spilled: list[SpillStore] = field(default_factory=list)
    """Durations moved out of memory past :data:`slo.spill.DURATION_BUDGET` (merging parts joins the lists)."""

    def merge(self, other: _Group) -> None:
        self.count += other.count
        self.errors += other.errors
        self.numerator += other.numerator
        self.durations.extend(other.durations)
        self.spilled += other.spilled
        self.total += other.total
        self.values += other.values
        self.maximum = max(self.maximum, other.maximum)
        self.missing += other.missing


@dataclass
class TraceMeasurement:
    """What a backend measured for one trace check, in native units (seconds, per second, ratio)."""

    values: dict[str, float]
    """Group label (``""`` without ``by``) → value."""
    spans: int
    """Matching spans behind the value (Tempo: from its count); compared with ``min_spans``."""
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    """Why the result is partial (search limits, sampling, ranges the backend did not cover)."""
    details: dict[str, Any] = field(default_factory=dict)


class TraceAggregator:
    """Running aggregate of one trace check over a stream of spans."""

    def __init__(self, check: TraceCheck, at: float, spill: SpillFactory | None = None) -> None:
        self.check = check
        self.spill = spill
        """Where durations go past the budget (None: they stay in memory, e.g. a backend's bounded search)."""
        self.start_ns, self.end_ns = window_bounds_ns(at, check.window)
        self.match = compile_filter(check.filter)
        self.numerator = compile_filter(check.numerator) if check.numerator is not None else None
        self.groups: dict[str, _Group] = {}
        self.seen = 0
        self.outside_window = 0
        self._keep_durations = check.aggregate in PERCENTILES
        self._budget = spill_.DURATION_BUDGET if spill is not None else 1 << 62
        self._held = 0
        """Durations in memory over all groups: past the budget every group's move out (a ``by`` of many
        groups is bounded like one group)."""
        self.dropped_groups = 0
        """Spans of groups past :data:`MAX_GROUPS`, not counted: the measurement is then partial."""

    def add(self, span: Span) -> None:
        self.seen += 1
        if not self.start_ns <= span.start_ns < self.end_ns:
            self.outside_window += 1
            return
        if self.match(span):
            self.accumulate(span)

    @property
    def simple(self) -> bool:
        """No ``by``, numerator or attribute: a span's status and duration are all :meth:`count_raw` needs."""
        return not self.check.by and self.numerator is None and self.check.attribute is None

    def count_raw(self, status: int, duration_s: float) -> None:
        """:meth:`accumulate` of a :attr:`simple` check from two raw fields (fast scanners build no Span)."""
        group = self.groups.get("")
        if group is None:
            group = self.groups[""] = _Group()
        group.count += 1
        if status == STATUS_ERROR:
            group.errors += 1
        if self._keep_durations:
            group.durations.append(duration_s)
            self._held += 1
            if self._held >= self._budget:
                self._move_all()

    def accumulate(self, span: Span) -> None:
        """Count one span already known to be in the window and to match the filter (fast scanners call this)."""
        key = "|".join(as_text(span.attribute(b)) for b in self.check.by) if self.check.by else ""
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.dropped_groups += 1
                return
            group = self.groups[key] = _Group()
        group.count += 1
        if span.status == STATUS_ERROR:
            group.errors += 1
        if self.numerator is not None and self.numerator(span):
            group.numerator += 1
        if self._keep_durations:
            group.durations.append(span.duration_s)
            self._held += 1
            if self._held >= self._budget:
                self._move_all()
        if self.check.attribute is not None:
            value = as_number(span.attribute(self.check.attribute))
            if value is None:
                group.missing += 1
            else:
                group.total += int(value) if value.is_integer() else Fraction(value)
                group.values += 1
                group.maximum = max(group.maximum, value)

    def _move_all(self) -> None:
        """Every group's in-memory durations out to its spill store (exact: any split gives the same percentile)."""
        for group in self.groups.values():
            if group.durations:
                self._move(group)
        self._held = 0

    def _move(self, group: _Group) -> None:
        """The group's in-memory durations appended to its last spill store (a new one the first time)."""
        assert self.spill is not None
        if not group.spilled:
            group.spilled.append(self.spill("f8"))
        group.spilled[-1].append(np.frombuffer(group.durations, dtype=np.float64))
        group.durations = array("d")

    def state(self) -> dict[str, Any]:
        """What :meth:`merge_state` needs, picklable (the filter predicates are not): a worker's partial counts."""
        return {
            "groups": self.groups,
            "seen": self.seen,
            "outside_window": self.outside_window,
            "dropped_groups": self.dropped_groups,
        }

    def merge_state(self, state: Mapping[str, Any]) -> None:
        """Add the counts of a later part of the stream: groups keep the order they were first seen in."""
        self.seen += state["seen"]
        self.outside_window += state["outside_window"]
        self.dropped_groups += state.get("dropped_groups", 0)
        for key, group in state["groups"].items():
            mine = self.groups.get(key)
            if mine is None:
                if len(self.groups) >= MAX_GROUPS:
                    self.dropped_groups += group.count
                    for store in group.spilled:
                        store.discard()
                    continue
                mine = self.groups[key] = group
            else:
                mine.merge(group)
            self._held += len(group.durations)
            if self._held >= self._budget:
                self._move_all()

    def measurement(self, *, complete: bool = True, notes: list[str] | None = None) -> TraceMeasurement:
        aggregate = self.check.aggregate
        seconds = self.end_ns / 1e9 - self.start_ns / 1e9
        values: dict[str, float] = {"": 0.0} if aggregate in {"count", "rate"} and not self.check.by else {}
        missing = 0
        for key, group in self.groups.items():
            missing += group.missing
            value = _group_value(aggregate, group, seconds)
            if value is not None:
                values[key] = value
        spans = sum(g.count for g in self.groups.values())
        details: dict[str, Any] = {
            "spans_seen": self.seen,
            "spans_matched": spans,
            "outside_window": self.outside_window,
        }
        if self.check.attribute is not None:
            details["spans_without_attribute"] = missing
        notes = list(notes or [])
        if self.dropped_groups:
            complete = False
            details["spans_in_dropped_groups"] = self.dropped_groups
            notes.append(
                f"more than {MAX_GROUPS} groups by {', '.join(self.check.by)}: {self.dropped_groups} spans of later"
                " groups were not counted (group by a lower-cardinality attribute)"
            )
        return TraceMeasurement(values=values, spans=spans, complete=complete, notes=notes, details=details)


def _group_value(aggregate: str, group: _Group, seconds: float) -> float | None:
    if aggregate == "count":
        return float(group.count)
    if aggregate == "rate":
        return group.count / seconds
    if aggregate == "error_ratio":
        return group.errors / group.count if group.count else None
    if aggregate == "ratio":
        return group.numerator / group.count if group.count else None
    if aggregate in PERCENTILES:
        if group.spilled:
            return _spilled_percentile(group, PERCENTILES[aggregate])
        if not group.durations:
            return None
        return float(np.percentile(np.frombuffer(group.durations, dtype=float), PERCENTILES[aggregate]))
    if aggregate == "sum":
        return float(group.total)
    if aggregate == "avg":
        return float(group.total / group.values) if group.values else None
    if aggregate == "max":
        return group.maximum if group.values else None
    raise ValueError(f"unknown aggregate {aggregate!r}")


def _spilled_percentile(group: _Group, q: float) -> float:
    """``np.percentile`` of the spilled and in-memory durations together, in bounded memory (bit-identical)."""
    stores, memory = list(group.spilled), np.frombuffer(group.durations, dtype=np.float64)

    def chunks() -> Iterator[np.ndarray]:
        for store in stores:
            yield from store.chunks()
        if len(memory):
            yield memory

    return spill_.percentile(chunks, sum(len(s) for s in stores) + len(memory), q)


# unit → factor from the native unit, per family of aggregate
_DURATION_UNITS_OUT = {None: 1.0, "s": 1.0, "ms": 1000.0}
_RATE_UNITS = {None: 1.0, "per_s": 1.0, "/s": 1.0, "per_min": 60.0, "/min": 60.0, "per_h": 3600.0, "/h": 3600.0}
_RATIO_UNITS = {None: 1.0, "ratio": 1.0, "%": 100.0, "percent": 100.0}


def unit_factor(check: TraceCheck) -> tuple[str | None, float]:
    """The unit the check's value is shown in and the factor from the native unit; ValueError if it does not fit."""
    aggregate, unit = check.aggregate, check.unit
    shown: str | None
    if aggregate in PERCENTILES:
        table, shown = _DURATION_UNITS_OUT, unit or "s"
    elif aggregate == "rate":
        table, shown = _RATE_UNITS, unit or "per_s"
    elif aggregate in {"error_ratio", "ratio"}:
        table, shown = _RATIO_UNITS, unit
    else:
        return unit, 1.0  # counts and attribute sums: the unit is a label only
    if unit not in table:
        allowed = ", ".join(k for k in table if k)
        raise ValueError(f"unit {unit!r} does not fit aggregate {aggregate} (use {allowed})")
    return shown, table[unit]


def worst_group(values: Mapping[str, float], op: Op, target: float) -> tuple[str, float]:
    """The group that decides a grouped check: the first failing one, else the one closest to failing."""
    items = list(values.items())
    failing = [(k, v) for k, v in items if not op.holds(v, target)]
    if failing:
        items = failing
    if op in (Op.LT, Op.LE):
        return max(items, key=lambda kv: kv[1])
    if op in (Op.GT, Op.GE):
        return min(items, key=lambda kv: kv[1])
    return items[0]


def decide(
    check: Any,
    value: float,
    unit: str | None,
    what: str,
    evaluated_at: str | None,
    *,
    complete: bool,
    notes: list[str],
    details: dict[str, Any],
    queries: list[QueryOutcome],
) -> CheckResult:
    """The verdict for a number already in the check's unit; partial data never passes silently."""
    objective = f"{what} {check.op.value} {quantity(check.target, unit)}"
    details = {**details, "complete": complete}
    if notes:
        details["partial"] = notes
    common: dict[str, Any] = {"unit": unit, "objective": objective, "queries": queries, "details": details}
    shown = quantity(value, unit)
    if not complete and check.require_complete:
        reason = f"{what} {shown} from incomplete data ({'; '.join(notes)}) and the check requires completeness"
        return result(check, Verdict.ERROR, reason, evaluated_at, value=value, **common)
    if not check.op.holds(value, check.target):
        reason = f"{what} {shown} {check.op.negated} {quantity(check.target, unit)} (target {objective})"
        if not complete:
            reason += f" on partial data: {'; '.join(notes)}"
        return result(check, Verdict.FAIL, reason, evaluated_at, value=value, **common)
    if not complete:
        reason = f"{what} {shown} {check.op.value} {quantity(check.target, unit)} but only on partial data: "
        return result(check, Verdict.WARN, reason + "; ".join(notes), evaluated_at, value=value, **common)
    if check.warn is not None and not check.op.holds(value, check.warn):
        reason = f"{what} {shown} passes but crosses the warning bound {check.op.value} {quantity(check.warn, unit)}"
        return result(check, Verdict.WARN, reason, evaluated_at, value=value, **common)
    return result(
        check,
        Verdict.PASS,
        f"{what} {shown} {check.op.value} {quantity(check.target, unit)}",
        evaluated_at,
        value=value,
        **common,
    )


def describe(check: TraceCheck) -> str:
    """``p95 of span duration``, ``error_ratio``, ``sum of gen_ai.usage.input_tokens``…"""
    if check.aggregate in PERCENTILES:
        return f"{check.aggregate} duration"
    if check.attribute is not None:
        return f"{check.aggregate}({check.attribute})"
    return check.aggregate


def decide_trace(
    check: TraceCheck,
    measurement: TraceMeasurement,
    evaluated_at: str | None,
    queries: list[QueryOutcome] | None = None,
) -> CheckResult:
    """Verdict for one trace check from what a backend measured."""
    queries = list(queries or [])
    details = dict(measurement.details)
    details.setdefault("spans_matched", measurement.spans)
    try:
        unit, factor = unit_factor(check)
    except ValueError as exc:
        return result(check, Verdict.ERROR, str(exc), evaluated_at, queries=queries, details=details)
    what = describe(check)
    problem = next((q for q in queries if q.status == Status.ERROR), None)
    if problem is not None:
        reason = problem.reason or "query failed"
        return result(check, Verdict.ERROR, reason, evaluated_at, unit=unit, queries=queries, details=details)
    needed = check.min_spans if check.min_spans is not None else (0 if check.aggregate in {"count", "rate"} else 1)
    if measurement.spans < needed or not measurement.values:
        reason = (
            f"only {measurement.spans} matching span(s) in the last {check.window}, fewer than min_spans {needed}"
            if measurement.spans < needed
            else f"no span in the last {check.window} has a value for {what}"
        )
        if not measurement.complete:
            reason += f" (partial: {'; '.join(measurement.notes)})"
        details["complete"] = measurement.complete
        return result(check, Verdict.NO_DATA, reason, evaluated_at, unit=unit, queries=queries, details=details)
    values = {k: v * factor for k, v in measurement.values.items()}
    if check.by:
        group, value = worst_group(values, check.op, check.target)
        details["groups"] = {k: values[k] for k in sorted(values)}
        details["decided_by"] = dict(zip(check.by, group.split("|"), strict=False))
        what = f"{what} of {', '.join(f'{b}={v}' for b, v in details['decided_by'].items())}"
    else:
        value = values[""]
    return decide(
        check,
        value,
        unit,
        what,
        evaluated_at,
        complete=measurement.complete,
        notes=measurement.notes,
        details=details,
        queries=queries,
    )


def numbers_text(values: Mapping[str, float]) -> str:
    return ", ".join(f"{k or 'all'}={number(v, 6)}" for k, v in values.items())

"""``trace`` and ``ai_cost`` checks from Grafana Tempo: TraceQL metrics where Tempo computes the number.

Trace checks become TraceQL metrics queries (``count_over_time``, ``quantile_over_time(duration, q)``,
``sum_over_time``/``max_over_time`` of an attribute, ``by(...)``) sent to ``/api/metrics/query_range``
(additive numbers: the samples are summed) or ``/api/metrics/query`` (quantiles and maxima). Tempo
caps a metrics query's range (24 h by default), so longer windows are split into chunks no longer than
``max_range``; counts and sums add up exactly across chunks, a maximum is the maximum of the chunks, and
a quantile over several chunks is the largest chunk quantile — an upper bound, said so in the packet.
Every chunk's range is recorded as the check's coverage.

Cost checks need each call's model and token counts, so they use TraceQL search (``/api/search`` with
``select(...)``): a search that hits ``limit`` traces or ``spss`` spans per span set is partial.

Tempo's JSON follows the protobuf JSON mapping: base64 or hex ids, enum names, int64 as strings and
zero values omitted (a missing sample value is 0).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from collector.sources.base import RunContext
from collector.sources.http import HttpResult, HttpTransport
from collector.sources.traces import traceql
from collector.sources.traces.local import TRACE_KINDS, SpanBatch
from collector.sources.traces.otlp import TraceDecodeError, attributes, decode_document, decode_int
from collector.sources.traces.responses import decode_answer
from collector.timeutil import rfc3339
from slo.evaluate import error_result
from slo.evidence import Backend, InputFile
from slo.pricing import CACHE_READ_KEYS, CACHE_WRITE_KEYS, INPUT_KEYS, MODEL_KEYS, OUTPUT_KEYS, PriceTable
from slo.results import CheckResult, QueryOutcome, Status
from slo.spec import AiCostCheck, Check, TraceCheck
from slo.traces import PERCENTILES, Span, TraceMeasurement, as_text, decide_trace, window_bounds_ns

DEFAULT_MAX_RANGE = 24 * 3600
_TOKEN_KEYS = INPUT_KEYS + OUTPUT_KEYS
_SELECTED = (*MODEL_KEYS, *INPUT_KEYS, *OUTPUT_KEYS, *CACHE_READ_KEYS, *CACHE_WRITE_KEYS, "gen_ai.operation.name")


def chunks(start_ns: int, end_ns: int, max_range: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into consecutive ranges of at most ``max_range`` seconds, oldest first."""
    step = max_range * 1_000_000_000
    out = []
    cursor = start_ns
    while cursor < end_ns:
        out.append((cursor, min(cursor + step, end_ns)))
        cursor += step
    return out


def hex_id(value: Any, width: int, where: str) -> str:
    """Search ids: hex, possibly with leading zeros trimmed (Tempo does), padded back to ``width``."""
    if not isinstance(value, str) or not value or len(value) > width:
        raise TraceDecodeError(f"id {str(value)[:40]!r} is not a hex id", field=where)
    try:
        int(value, 16)
    except ValueError:
        raise TraceDecodeError(f"id {value[:40]!r} is not hex", field=where) from None
    return value.lower().rjust(width, "0")


@dataclass
class SearchResult:
    spans: list[Span]
    traces: int
    truncated_sets: int = 0


def decode_search(document: Any) -> SearchResult:
    """Spans of a ``/api/search`` response (``spanSets`` or the deprecated ``spanSet``)."""
    if not isinstance(document, dict):
        raise TraceDecodeError("a Tempo search response must be a JSON object")
    traces = document.get("traces") or []
    if not isinstance(traces, list):
        raise TraceDecodeError("traces must be a list", field="traces")
    spans: list[Span] = []
    truncated = 0
    for t, trace in enumerate(traces):
        where = f"traces[{t}]"
        if not isinstance(trace, dict):
            raise TraceDecodeError("trace must be an object", field=where)
        trace_id = hex_id(trace.get("traceID"), 32, f"{where}.traceID")
        sets = trace.get("spanSets")
        if sets is None:
            sets = [trace["spanSet"]] if isinstance(trace.get("spanSet"), dict) else []
        if not isinstance(sets, list):
            raise TraceDecodeError("spanSets must be a list", field=f"{where}.spanSets")
        seen: set[str] = set()
        for s, span_set in enumerate(sets):
            if not isinstance(span_set, dict):
                raise TraceDecodeError("span set must be an object", field=f"{where}.spanSets[{s}]")
            members = span_set.get("spans") or []
            if not isinstance(members, list):
                raise TraceDecodeError("spans must be a list", field=f"{where}.spanSets[{s}].spans")
            matched = decode_int(span_set.get("matched"), f"{where}.spanSets[{s}].matched")
            if matched > len(members):
                truncated += 1
            for i, member in enumerate(members):
                span = _search_span(member, trace_id, f"{where}.spanSets[{s}].spans[{i}]")
                if span.span_id not in seen:
                    seen.add(span.span_id)
                    spans.append(span)
    return SearchResult(spans, len(traces), truncated)


def _search_span(member: Any, trace_id: str, where: str) -> Span:
    if not isinstance(member, dict):
        raise TraceDecodeError("span must be an object", field=where)
    attrs = attributes(member.get("attributes"), f"{where}.attributes")
    start = decode_int(member.get("startTimeUnixNano"), f"{where}.startTimeUnixNano")
    duration = decode_int(member.get("durationNanos"), f"{where}.durationNanos")
    name = member.get("name", "")
    if not isinstance(name, str):
        raise TraceDecodeError("name must be a string", field=f"{where}.name")
    resource = {"service.name": attrs["service.name"]} if "service.name" in attrs else {}
    return Span(
        trace_id=trace_id,
        span_id=hex_id(member.get("spanID"), 16, f"{where}.spanID"),
        parent_span_id="",
        name=name,
        kind=0,
        status=0,
        start_ns=start,
        end_ns=start + max(duration, 0),
        attributes=attrs,
        resource=resource,
    )


@dataclass
class MetricsResult:
    values: dict[str, float]
    partial: list[str] = field(default_factory=list)


def _group_key(labels: dict[str, Any], by: list[str]) -> str:
    if not by:
        return ""
    parts = []
    for key in by:
        found = next((v for k, v in labels.items() if k == key or k.endswith("." + key)), None)
        parts.append(as_text(found))
    return "|".join(parts)


def decode_metrics(document: Any, by: list[str], instant: bool) -> MetricsResult:
    """Per-group value of a ``query_range`` (samples summed) or ``query`` (one value) response."""
    if not isinstance(document, dict):
        raise TraceDecodeError("a Tempo metrics response must be a JSON object")
    series = document.get("series") or []
    if not isinstance(series, list):
        raise TraceDecodeError("series must be a list", field="series")
    values: dict[str, float] = {}
    for i, one in enumerate(series):
        where = f"series[{i}]"
        if not isinstance(one, dict):
            raise TraceDecodeError("series must be an object", field=where)
        labels = attributes(one.get("labels"), f"{where}.labels")
        labels.pop("p", None)
        key = _group_key(labels, by)
        if instant:
            value = _sample_value(one.get("value"), f"{where}.value")
        else:
            samples = one.get("samples") or []
            if not isinstance(samples, list):
                raise TraceDecodeError("samples must be a list", field=f"{where}.samples")
            value = 0.0
            for j, sample in enumerate(samples):
                if not isinstance(sample, dict):
                    raise TraceDecodeError("sample must be an object", field=f"{where}.samples[{j}]")
                number = _sample_value(sample.get("value"), f"{where}.samples[{j}].value")
                if not math.isnan(number):
                    value += number
        values[key] = values.get(key, 0.0) + value
    partial = []
    if document.get("status") == "PARTIAL":
        partial.append(f"Tempo returned a partial result: {str(document.get('message') or '')[:200]}".rstrip(": "))
    metrics = document.get("metrics")
    if isinstance(metrics, dict):
        total, done = metrics.get("totalJobs"), metrics.get("completedJobs")
        if isinstance(total, int) and isinstance(done, int) and done < total:
            partial.append(f"Tempo completed {done} of {total} jobs")
    return MetricsResult(values, partial)


def _sample_value(value: Any, where: str) -> float:
    if value is None:
        return 0.0  # the JSON mapping omits zero
    if isinstance(value, bool):
        raise TraceDecodeError("sample value must be a number", field=where)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    raise TraceDecodeError(f"sample value {str(value)[:40]!r} is not a number", field=where)


@dataclass
class _Planned:
    role: str
    query: str
    instant: bool
    combine: str  # sum or max


class TempoSource:
    """Trace checks via TraceQL metrics, cost checks via TraceQL search, on one Tempo."""

    name = "tempo"
    kinds = TRACE_KINDS

    def __init__(
        self,
        transport: HttpTransport,
        pricing: PriceTable | None = None,
        pricing_input: InputFile | None = None,
        *,
        max_range: int = DEFAULT_MAX_RANGE,
        search_limit: int = 1000,
        spans_per_spanset: int = 1000,
    ) -> None:
        self.transport = transport
        self.pricing = pricing
        self._pricing_input = pricing_input
        self.max_range = max_range
        self.search_limit = search_limit
        self.spss = spans_per_spanset
        self.sent: list[str] = []
        """Every request as sent (path and query string), in order: tests and ``--format json`` read it."""

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    def backends(self) -> list[Backend]:
        return [Backend(kind="tempo", url=self.transport.public_url)]

    def inputs(self) -> list[InputFile]:
        return [self._pricing_input] if self._pricing_input else []

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        pending = []
        for check in checks:
            if isinstance(check, TraceCheck):
                pending.append(asyncio.ensure_future(self._trace(check, context)))
            elif isinstance(check, AiCostCheck):
                pending.append(asyncio.ensure_future(self._cost(check, context)))
            else:
                yield error_result(check, f"not a trace check: {check.kind}", context.evaluated_at)
        for next_done in asyncio.as_completed(pending):
            yield await next_done

    # --- trace checks: TraceQL metrics ---------------------------------------------------------

    def plan(self, check: TraceCheck) -> list[_Planned]:
        """The TraceQL metrics queries a trace check needs; the first is always the span count."""
        base = traceql.spanset(check.filter)
        by = traceql.by_clause(check.by)
        planned = [_Planned("total", f"{base} | count_over_time(){by}", False, "sum")]
        aggregate = check.aggregate
        if aggregate == "error_ratio":
            errors = traceql.spanset(check.filter, "status = error")
            planned.append(_Planned("bad", f"{errors} | count_over_time(){by}", False, "sum"))
        elif aggregate == "ratio":
            assert check.numerator is not None
            numerator = traceql.spanset(check.filter, *traceql.conditions(check.numerator))
            planned.append(_Planned("good", f"{numerator} | count_over_time(){by}", False, "sum"))
        elif aggregate in PERCENTILES:
            q = PERCENTILES[aggregate] / 100
            planned.append(_Planned("value", f"{base} | quantile_over_time(duration, {q:g}){by}", True, "max"))
        elif aggregate in {"sum", "avg", "max"}:
            assert check.attribute is not None
            attr = traceql.attribute(check.attribute, "span")
            if aggregate == "max":
                planned.append(_Planned("value", f"{base} | max_over_time({attr}){by}", True, "max"))
            else:
                planned.append(_Planned("value", f"{base} | sum_over_time({attr}){by}", False, "sum"))
                if aggregate == "avg":
                    having = traceql.spanset(check.filter, f"{attr} != nil")
                    planned.append(_Planned("total_with_value", f"{having} | count_over_time(){by}", False, "sum"))
        return planned

    async def _trace(self, check: TraceCheck, context: RunContext) -> CheckResult:
        try:
            planned = self.plan(check)
        except traceql.UnsupportedFilter as exc:
            return error_result(check, str(exc), context.evaluated_at)
        start, end = window_bounds_ns(context.at, check.window)
        ranges = chunks(start, end, self.max_range)
        answers = await asyncio.gather(*(self._metric(p, ranges, check, context) for p in planned))
        queries = [q for outcomes, _, _ in answers for q in outcomes]
        notes = [n for _, _, partial in answers for n in partial]
        if len(ranges) > 1 and check.aggregate in PERCENTILES:
            notes_detail = (
                f"{check.aggregate} over {len(ranges)} ranges of at most {self.max_range}s: the largest range's"
            )
            details_extra = {"approximation": notes_detail + " value (an upper bound)"}
        else:
            details_extra = {}
        by_role = {p.role: values for p, (_, values, _) in zip(planned, answers, strict=True)}
        if any(values is None for values in by_role.values()):
            return decide_trace(check, TraceMeasurement({}, 0), context.evaluated_at, queries)
        totals: dict[str, float] = by_role["total"]  # type: ignore[assignment]
        values = _combine(check, by_role, (end - start) / 1e9)  # type: ignore[arg-type]
        details: dict[str, Any] = {
            "endpoints": sorted({"/api/metrics/query" if p.instant else "/api/metrics/query_range" for p in planned}),
            "coverage": [{"start": rfc3339(s / 1e9), "end": rfc3339(e / 1e9)} for s, e in ranges],
            "max_range_s": self.max_range,
            **details_extra,
        }
        measurement = TraceMeasurement(
            values=values,
            spans=round(sum(totals.values())),
            complete=not notes,
            notes=notes,
            details=details,
        )
        return decide_trace(check, measurement, context.evaluated_at, queries)

    async def _metric(
        self, planned: _Planned, ranges: list[tuple[int, int]], check: TraceCheck, context: RunContext
    ) -> tuple[list[QueryOutcome], dict[str, float] | None, list[str]]:
        outcomes: list[QueryOutcome] = []
        combined: dict[str, float] = {}
        notes: list[str] = []
        path = "/api/metrics/query" if planned.instant else "/api/metrics/query_range"
        for start, end in ranges:
            params = {"q": planned.query, "start": str(start // 1_000_000_000), "end": str(end // 1_000_000_000)}
            if not planned.instant:
                params["step"] = f"{(end - start) // 1_000_000_000}s"
            result = await self.transport.request("GET", path, params=params)
            outcome = self._outcome(planned.role, check.window, path, params, result, context)
            outcomes.append(outcome)
            if outcome.status == Status.ERROR:
                return outcomes, None, notes
            decoded = decode_answer(
                outcome, result.body, lambda d: decode_metrics(d, check.by, planned.instant), "tempo", "tempo response"
            )
            if decoded is None:
                return outcomes, None, notes
            outcome.series = len(decoded.values)
            outcome.value = sum(decoded.values.values()) if decoded.values else None
            outcome.warnings.extend(decoded.partial)
            notes.extend(decoded.partial)
            for key, value in decoded.values.items():
                if key not in combined:
                    combined[key] = value
                elif planned.combine == "sum":
                    combined[key] += value
                else:
                    combined[key] = max(combined[key], value)
        return outcomes, combined, notes

    # --- cost checks: TraceQL search --------------------------------------------------------------

    def cost_query(self, check: AiCostCheck) -> str:
        has_tokens = "(" + " || ".join(f"{traceql.attribute(k, 'span')} != nil" for k in _TOKEN_KEYS) + ")"
        base = traceql.spanset(check.filter, has_tokens)
        return f"{base} | select({', '.join(traceql.attribute(k, 'span') for k in _SELECTED)})"

    async def _cost(self, check: AiCostCheck, context: RunContext) -> CheckResult:
        try:
            query = self.cost_query(check)
        except traceql.UnsupportedFilter as exc:
            return error_result(check, str(exc), context.evaluated_at)
        batch = SpanBatch([check], context.at, self.pricing, prefiltered=True)
        start, end = window_bounds_ns(context.at, check.window)
        queries: list[QueryOutcome] = []
        notes: list[str] = []
        for low, high in chunks(start, end, self.max_range):
            params = {
                "q": query,
                "start": str(low // 1_000_000_000),
                "end": str(high // 1_000_000_000),
                "limit": str(self.search_limit),
                "spss": str(self.spss),
            }
            result = await self.transport.request("GET", "/api/search", params=params)
            outcome = self._outcome("spans", check.window, "/api/search", params, result, context)
            queries.append(outcome)
            if outcome.status == Status.ERROR:
                return batch.results(context.evaluated_at, queries=queries)[0]
            found = decode_answer(outcome, result.body, decode_search, "tempo", "tempo search response")
            if found is None:
                return batch.results(context.evaluated_at, queries=queries)[0]
            outcome.value, outcome.series = float(len(found.spans)), found.traces
            if found.traces >= self.search_limit:
                notes.append(f"Tempo search returned {found.traces} traces, its limit: there may be more")
            if found.truncated_sets:
                notes.append(f"{found.truncated_sets} span set(s) cut at spss={self.spss} spans")
            batch.add_all(found.spans)
        return batch.results(
            context.evaluated_at, complete=not notes, notes=notes, queries=queries, cost_source="traces (tempo search)"
        )[0]

    # --- one trace by id (v2, then the v1 endpoint older servers serve) -------------------------

    async def trace(self, trace_id: str) -> tuple[QueryOutcome, list[Span]]:
        """Every span of one trace; 404 on both endpoints is no data."""
        path = f"/api/v2/traces/{quote(trace_id, safe='')}"
        result = await self.transport.request("GET", path, accept=(404,))
        if result.ok and result.status_code == 404:
            path = f"/api/traces/{quote(trace_id, safe='')}"
            result = await self.transport.request("GET", path, accept=(404,))
        outcome = QueryOutcome(
            role="trace",
            query=path,
            backend=self.transport.public_url,
            status=Status.OK,
            response_sha256=result.sha256,
            attempts=result.attempts,
        )
        if not result.ok:
            outcome.status, outcome.fault, outcome.reason = Status.ERROR, result.fault, f"tempo {path}: {result.reason}"
            return outcome, []
        if result.status_code == 404:
            outcome.status, outcome.reason = Status.NO_DATA, "trace not found (404)"
            return outcome, []
        spans = decode_answer(outcome, result.body, lambda d: list(decode_document(d)), "tempo", "tempo trace")
        if spans is None:
            return outcome, []
        outcome.value = float(len(spans))
        return outcome, spans

    def _outcome(
        self, role: str, window: str, path: str, params: dict[str, str], result: HttpResult, context: RunContext
    ) -> QueryOutcome:
        outcome = QueryOutcome(
            role=role,
            window=window,
            query=params.get("q", path),
            backend=self.transport.public_url,
            time=context.evaluated_at,
            status=Status.OK,
            response_sha256=result.sha256,
            attempts=result.attempts,
        )
        if not result.ok:
            outcome.status, outcome.fault = Status.ERROR, result.fault
            outcome.reason = f"tempo {path}: {result.reason}"
        self.sent.append(f"{path}?{urlencode(params)}")
        return outcome


def _combine(check: TraceCheck, by_role: dict[str, dict[str, float]], seconds: float) -> dict[str, float]:
    totals = by_role["total"]
    aggregate = check.aggregate
    if aggregate == "count":
        return dict(totals) if totals or check.by else {"": 0.0}
    if aggregate == "rate":
        return {k: v / seconds for k, v in totals.items()} if totals or check.by else {"": 0.0}
    if aggregate in {"error_ratio", "ratio"}:
        numerator = by_role["bad" if aggregate == "error_ratio" else "good"]
        return {k: numerator.get(k, 0.0) / v for k, v in totals.items() if v > 0}
    if aggregate == "avg":
        having = by_role["total_with_value"]
        return {k: v / having[k] for k, v in by_role["value"].items() if having.get(k)}
    return {k: v for k, v in by_role["value"].items() if totals.get(k, 0) > 0 or not totals}

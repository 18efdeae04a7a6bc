"""``trace`` and ``ai_cost`` checks from Jaeger's query service: api/v3 first, the v1 JSON API as fallback.

Jaeger returns whole traces found by service, operation, time range and minimum duration; the check's
full filter is then applied to every span here (the server's parameters only narrow the search).
api/v3 (``/api/v3/traces``) answers OTLP JSON in a ``{"result": …}`` envelope and 404 when nothing
matched, which is no data, not a fault. A server without api/v3 (404 on ``/api/v3/services``) is
asked through v1 (``/api/traces``: microsecond times, ``tags`` lists, a ``processes`` map).

Jaeger searches at most ``search_depth`` traces (v1: ``limit``): when a response holds that many, there
may be more, so the result is marked partial (``complete: false``) and cannot pass silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from collector.sources.base import RunContext
from collector.sources.http import HttpResult, HttpTransport
from collector.sources.traces.local import TRACE_KINDS, SpanBatch
from collector.sources.traces.otlp import TraceDecodeError, decode_document
from collector.sources.traces.responses import decode_answer
from slo.evidence import Backend, InputFile
from slo.pricing import PriceTable
from slo.results import CheckResult, Fault, QueryOutcome, Status
from slo.spec import AiCostCheck, Check, SpanFilter, TraceCheck
from slo.traces import SPAN_KINDS, Span, window_bounds_ns

V1_STATUS_ERROR = {"ERROR", "error"}


def _v1_value(tag: Any, where: str) -> tuple[str, Any]:
    if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
        raise TraceDecodeError("tag must be an object with a string key", field=where)
    value = tag.get("value")
    kind = tag.get("type", "string")
    if kind == "int64" and isinstance(value, str):  # int64 beyond 2^53 comes as a JSON string
        text = value
        try:
            value = int(text)
        except ValueError:
            raise TraceDecodeError(f"int64 tag {tag['key']} is {text[:40]!r}", field=where) from None
    elif kind == "bool" and isinstance(value, str):
        value = value == "true"
    if isinstance(value, dict | list):
        raise TraceDecodeError(f"tag {tag['key']} has a nested value", field=where)
    return tag["key"], value


def _v1_tags(tags: Any, where: str) -> dict[str, Any]:
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise TraceDecodeError("tags must be a list", field=where)
    return dict(_v1_value(tag, f"{where}[{i}]") for i, tag in enumerate(tags))


def _micros(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TraceDecodeError(f"expected microseconds, got {str(value)[:40]!r}", field=where)
    return int(value) * 1000


def decode_v1(document: Any) -> Iterator[Span]:
    """Spans of a v1 ``{"data": [trace…]}`` response (``/api/traces`` and ``/api/traces/{id}``)."""
    if not isinstance(document, dict):
        raise TraceDecodeError("a Jaeger v1 response must be a JSON object")
    traces = document.get("data") or []
    if not isinstance(traces, list):
        raise TraceDecodeError("data must be a list", field="data")
    for t, trace in enumerate(traces):
        where = f"data[{t}]"
        if not isinstance(trace, dict):
            raise TraceDecodeError("trace must be an object", field=where)
        processes_doc = trace.get("processes") or {}
        if not isinstance(processes_doc, dict):
            raise TraceDecodeError("processes must be an object", field=f"{where}.processes")
        resources: dict[str, dict[str, Any]] = {}
        for pid, process in processes_doc.items():
            if not isinstance(process, dict):
                raise TraceDecodeError("process must be an object", field=f"{where}.processes.{pid}")
            resource = _v1_tags(process.get("tags"), f"{where}.processes.{pid}.tags")
            if isinstance(process.get("serviceName"), str):
                resource["service.name"] = process["serviceName"]
            resources[pid] = resource
        spans = trace.get("spans") or []
        if not isinstance(spans, list):
            raise TraceDecodeError("spans must be a list", field=f"{where}.spans")
        for s, span in enumerate(spans):
            yield _v1_span(span, resources, f"{where}.spans[{s}]")


def _v1_span(span: Any, resources: dict[str, dict[str, Any]], where: str) -> Span:
    if not isinstance(span, dict):
        raise TraceDecodeError("span must be an object", field=where)
    tags = _v1_tags(span.get("tags"), f"{where}.tags")
    parent = span.get("parentSpanID") or ""
    references = span.get("references") or []
    if not isinstance(references, list):
        raise TraceDecodeError("references must be a list", field=f"{where}.references")
    for ref in references:
        if isinstance(ref, dict) and ref.get("refType") == "CHILD_OF" and isinstance(ref.get("spanID"), str):
            parent = ref["spanID"]
            break
    name = span.get("operationName", "")
    trace_id, span_id = span.get("traceID", ""), span.get("spanID", "")
    if not all(isinstance(v, str) for v in (name, trace_id, span_id, parent)):
        raise TraceDecodeError("operationName, traceID, spanID must be strings", field=where)
    start = _micros(span.get("startTime"), f"{where}.startTime")
    duration = _micros(span.get("duration", 0), f"{where}.duration")
    if duration < 0:
        raise TraceDecodeError("negative duration", field=f"{where}.duration")
    kind_tag = tags.get("span.kind")
    status_tag = tags.get("otel.status_code")
    error = status_tag in V1_STATUS_ERROR or tags.get("error") is True or tags.get("error") == "true"
    status = 2 if error else (1 if status_tag == "OK" else 0)
    pid = span.get("processID")
    return Span(
        trace_id=trace_id.lower(),
        span_id=span_id.lower(),
        parent_span_id=parent.lower(),
        name=name,
        kind=SPAN_KINDS.get(kind_tag, 0) if isinstance(kind_tag, str) else 0,
        status=status,
        start_ns=start,
        end_ns=start + duration,
        attributes=tags,
        resource=resources.get(pid, {}) if isinstance(pid, str) else {},
    )


def _rfc3339_ns(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest:09d}Z"


@dataclass(frozen=True)
class _Search:
    """What Jaeger is asked for one group of checks (same service, operation, window, minimum duration)."""

    service: str | None
    operation: str | None
    start_ns: int
    end_ns: int
    min_duration: str | None


def _search_of(check: Check, at: float) -> _Search:
    assert isinstance(check, TraceCheck | AiCostCheck)
    spec: SpanFilter = check.filter
    start, end = window_bounds_ns(at, check.window)
    return _Search(spec.service, spec.span_name, start, end, spec.min_duration)


def _decode_error(body: bytes) -> str | None:
    """api/v3 errors: ``{"error": {"httpCode", "message"}}``; v1: ``{"errors": [{"code", "msg"}]}``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        errors = document.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("msg") or errors[0])[:300]
    return None


class JaegerSource:
    """Trace and cost checks over a Jaeger query service."""

    name = "jaeger"
    kinds = TRACE_KINDS

    def __init__(
        self,
        transport: HttpTransport,
        pricing: PriceTable | None = None,
        pricing_input: InputFile | None = None,
        *,
        search_depth: int = 1000,
    ) -> None:
        self.transport = transport
        self.pricing = pricing
        self._pricing_input = pricing_input
        self.search_depth = search_depth
        self.api: str | None = None
        self._services: list[str] | None = None

    @property
    def requests_sent(self) -> int:
        return self.transport.requests_sent

    def backends(self) -> list[Backend]:
        return [Backend(kind=f"jaeger-{self.api or 'api'}", url=self.transport.public_url)]

    def inputs(self) -> list[InputFile]:
        return [self._pricing_input] if self._pricing_input else []

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        groups: dict[_Search, list[Check]] = {}
        for check in checks:
            groups.setdefault(_search_of(check, context.at), []).append(check)
        for search, members in groups.items():
            for outcome in await self._answer(search, members, context):
                yield outcome

    async def _discover(self) -> tuple[str, list[str], QueryOutcome]:
        """Which API the server speaks and its services (v3 404 → v1)."""
        result = await self.transport.request("GET", "/api/v3/services", accept=(404,))
        api, path = "v3", "/api/v3/services"
        if result.ok and result.status_code == 404:
            api, path = "v1", "/api/services"
            result = await self.transport.request("GET", path)
        outcome = self._outcome("services", path, {}, result)
        if not result.ok or result.body is None:
            return api, [], outcome
        try:
            document = orjson.loads(result.body)
            names = document.get("services") if api == "v3" else document.get("data")
            if names is None:
                names = []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("services must be a list of names")
        except (orjson.JSONDecodeError, ValueError, AttributeError) as exc:
            outcome.status, outcome.fault, outcome.reason = Status.ERROR, Fault.GARBAGE, f"jaeger services: {exc}"
            return api, [], outcome
        outcome.value = float(len(names))
        return api, sorted(names), outcome

    async def _answer(self, search: _Search, checks: list[Check], context: RunContext) -> list[CheckResult]:
        batch = SpanBatch(checks, context.at, self.pricing)
        queries: list[QueryOutcome] = []
        services = [search.service] if search.service else None
        if self.api is None or services is None:
            api, found, outcome = await self._discover()
            self.api = api
            if services is None:
                queries.append(outcome)
                if outcome.status == Status.ERROR:
                    return batch.results(context.evaluated_at, queries=queries)
                services = found
        notes: list[str] = []
        for service in services:
            outcome, spans = await self._fetch(search, service)
            queries.append(outcome)
            if outcome.status == Status.ERROR:
                return batch.results(context.evaluated_at, queries=queries)
            traces = {s.trace_id for s in spans}
            if len(traces) >= self.search_depth:
                notes.append(
                    f"Jaeger returned {len(traces)} traces for service {service}, its search limit: there may be more"
                )
            batch.add_all(spans)
        return batch.results(
            context.evaluated_at,
            complete=not notes,
            notes=notes,
            queries=queries,
            cost_source=f"traces (jaeger {self.api})",
        )

    def _params(self, search: _Search, service: str) -> tuple[str, dict[str, str]]:
        if self.api == "v3":
            params = {
                "query.service_name": service,
                "query.start_time_min": _rfc3339_ns(search.start_ns),
                "query.start_time_max": _rfc3339_ns(search.end_ns),
                "query.search_depth": str(self.search_depth),
            }
            if search.operation:
                params["query.operation_name"] = search.operation
            if search.min_duration:
                params["query.duration_min"] = search.min_duration
            return "/api/v3/traces", params
        params = {
            "service": service,
            "start": str(search.start_ns // 1000),
            "end": str(search.end_ns // 1000),
            "limit": str(self.search_depth),
        }
        if search.operation:
            params["operation"] = search.operation
        if search.min_duration:
            params["minDuration"] = search.min_duration
        return "/api/traces", params

    async def _fetch(self, search: _Search, service: str) -> tuple[QueryOutcome, list[Span]]:
        path, params = self._params(search, service)
        result = await self.transport.request("GET", path, params=params, accept=(404,))
        outcome = self._outcome("spans", path, params, result)
        if not result.ok or result.body is None:
            return outcome, []
        if result.status_code == 404:
            outcome.status, outcome.value, outcome.reason = Status.NO_DATA, 0.0, "no trace matched (404)"
            return outcome, []
        api = self.api

        def spans_of(document: Any) -> tuple[Any, list[Span]]:
            if isinstance(document, dict) and "error" in document and "result" not in document:
                raise TraceDecodeError(f"jaeger error: {_decode_error(result.body or b'') or document['error']}")
            return document, list(decode_document(document) if api == "v3" else decode_v1(document))

        decoded = decode_answer(outcome, result.body, spans_of, "jaeger", "jaeger response")
        if decoded is None:
            return outcome, []
        document, spans = decoded
        if self.api == "v1" and isinstance(document.get("errors"), list) and document["errors"]:
            outcome.warnings.append(_decode_error(result.body) or "jaeger reported errors")
        outcome.value = float(len(spans))
        outcome.series = len({s.trace_id for s in spans})
        return outcome, spans

    def _outcome(self, role: str, path: str, params: dict[str, str], result: HttpResult) -> QueryOutcome:
        query = path + ("?" + urlencode(params) if params else "")
        outcome = QueryOutcome(
            role=role,
            query=query,
            backend=self.transport.public_url,
            status=Status.OK,
            response_sha256=result.sha256,
            attempts=result.attempts,
        )
        if not result.ok:
            outcome.status, outcome.fault = Status.ERROR, result.fault
            outcome.reason = f"jaeger {path}: {result.reason}"
        return outcome

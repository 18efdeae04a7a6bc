"""One pass of a gate's trace and cost checks over OTLP JSON lines, without a Span per span.

Why: decoding every span into a :class:`slo.traces.Span` (ids, enums, every attribute) cost ~7 µs a
span, and validating plain ``orjson`` dicts in Python still ~3.5 µs: more than a plain ``json.loads``
of the line. Here each line is decoded once by msgspec into typed structs: the types, the hex ids
and the digit-string times are validated in C while parsing. The filters' conditions that need no
attribute (window, service, name, name regex, kind, status, root, minimum duration) are tested on
the raw fields, and a ``Span`` is built only for a span some check may count.

Exactness: the structs accept only spellings the reference decoder
(:mod:`collector.sources.traces.otlp`) reads the same way; a line they do not accept (base64 ids,
enum names, envelopes, numbers where strings are usual…) is decoded by the reference decoder instead,
which also names the first bad field of a bad line. Spans are added in file order, so counts, sums
and duration lists are bit-identical to feeding :class:`~collector.sources.traces.local.SpanBatch`
decoded spans. GenAI calls are priced from the raw attributes too (plain ``intValue`` token counts;
any other spelling through :func:`slo.pricing.usage_of`), into the exact integer sums of
:class:`~slo.aicost.CostAggregator`, which do not depend on order. Memory: one line's structs plus
what the checks aggregate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from collector.sources.traces.local import SpanBatch
from collector.sources.traces.otlp import TraceDecodeError, decode_document
from slo.aicost import RUN_OPERATION, CostAggregator, exact
from slo.pricing import CACHE_READ_KEYS, CACHE_WRITE_KEYS, INPUT_KEYS, MODEL_KEYS, OUTPUT_KEYS, UsageError, usage_of
from slo.spec import SpanFilter
from slo.traces import (
    SPAN_KINDS,
    SPAN_STATUSES,
    Span,
    TraceAggregator,
    ValueTest,
    attribute_tests,
    span_duration_ns,
)

# --- the typed shape of a Collector file-exporter line (everything else goes to the reference decoder) ---

TraceId = Annotated[str, Meta(max_length=32)]
SpanId = Annotated[str, Meta(max_length=16)]
TimeText = Annotated[str, Meta(max_length=19)]
"""At most 19 characters (Unix ns up to 2286): the joined length proves every time has all 19 digits."""
"""Longer ids (32-character span ids, and anything invalid) are left to the reference decoder."""
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")
"""Time strings ``int()`` reads the same way here and in the reference (``" 12"``, ``"1_2"``: the reference)."""
_ID_LENGTHS = frozenset({0, 16, 32})
"""Lengths of ids ``decode_id`` reads as hex (else base64: 12 or 24 characters, the reference path)."""
SignedDigits = Annotated[str, Meta(pattern="^-?[0-9]+$")]
"""An int64 attribute as the JSON mapping writes it; ``int()`` reads it (other spellings: the reference path)."""


class _AnyValue(Struct):
    stringValue: str | UnsetType = UNSET
    intValue: int | SignedDigits | UnsetType = UNSET
    doubleValue: float | UnsetType = UNSET
    boolValue: bool | UnsetType = UNSET
    arrayValue: _ArrayValue | UnsetType | None = UNSET
    kvlistValue: _KvList | UnsetType | None = UNSET
    bytesValue: Any = UNSET


class _ArrayValue(Struct):
    values: list[_AnyValue | None] = []


class _KeyValue(Struct):
    key: str
    value: _AnyValue | None = None


class _KvList(Struct):
    values: list[_KeyValue] | None = None


class _Status(Struct):
    code: int = 0


class _Span(Struct):
    name: str = ""
    kind: int = 0
    startTimeUnixNano: TimeText | int | None = None
    endTimeUnixNano: TimeText | int | None = None
    traceId: TraceId = ""  # null ids (rare: exporters omit them) are left to the reference decoder
    spanId: SpanId = ""
    parentSpanId: SpanId = ""
    attributes: list[_KeyValue] | None = None
    status: _Status | None = None


class _Scope(Struct):
    spans: list[_Span] | None = None


class _Resource(Struct):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(Struct):
    resource: _Resource | None = None
    scopeSpans: list[_Scope] | UnsetType | None = UNSET
    instrumentationLibrarySpans: list[_Scope] | UnsetType | None = UNSET


class _Document(Struct):
    resourceSpans: list[_ResourceSpans] | UnsetType | None = UNSET
    result: Any = UNSET
    trace: Any = UNSET
    batches: Any = UNSET


_DECODER = msgspec.json.Decoder(_Document)
_JSON = msgspec.json.Decoder()


def _value(value: _AnyValue | None) -> Any:
    """``any_value`` of a struct: the same precedence (string, int, double, bool, array, kvlist, bytes)."""
    if value is None:
        return None
    if value.stringValue is not UNSET:
        return value.stringValue
    if value.intValue is not UNSET:
        return int(value.intValue)
    if value.doubleValue is not UNSET:
        return float(value.doubleValue)
    if value.boolValue is not UNSET:
        return value.boolValue
    if value.arrayValue is not UNSET:
        return [_value(item) for item in value.arrayValue.values] if value.arrayValue is not None else []
    if value.kvlistValue is not UNSET:
        return _attributes(value.kvlistValue.values) if value.kvlistValue is not None else {}
    if value.bytesValue is not UNSET:
        return value.bytesValue if isinstance(value.bytesValue, str) else None
    return None


def _attributes(pairs: list[_KeyValue] | None) -> dict[str, Any]:
    if not pairs:
        return {}
    return {
        p.key: v.stringValue if (v := p.value) is not None and v.stringValue is not UNSET else _value(v) for p in pairs
    }


# --- checks compiled for the raw fields ---------------------------------------------------------------

_OPERATION = "gen_ai.operation.name"
_CACHE_LIMIT = 4096
"""Distinct (name, kind, status, root) shapes remembered per service; span names are few in practice."""
_TIME_DIGITS = 19
"""Unix nanoseconds from 2001 to 2286 have 19 digits: equal-length digit strings compare like the numbers."""


@dataclass
class _Plan:
    """One check's aggregator and the conditions of its filter that raw fields decide exactly."""

    aggregator: TraceAggregator | CostAggregator
    start_ns: int
    end_ns: int
    start_text: str
    end_text: str
    service: str | None
    name: str | None
    name_regex: re.Pattern[str] | None
    kind: int | None
    status: int | None
    root: bool | None
    min_duration: int | None
    needs_match: bool
    """The filter tests attributes: tested on the raw attributes with the filter's own value tests."""
    tests: list[tuple[str, ValueTest]]
    cost: CostAggregator | None
    per_run: bool
    raw: TraceAggregator | None
    """The aggregator of a simple trace check (no by, numerator or attribute): counted from raw fields."""

    @classmethod
    def of(cls, aggregator: TraceAggregator | CostAggregator) -> _Plan:
        spec: SpanFilter = aggregator.check.filter
        return cls(
            aggregator=aggregator,
            start_ns=aggregator.start_ns,
            end_ns=aggregator.end_ns,
            start_text=str(aggregator.start_ns),
            end_text=str(aggregator.end_ns),
            service=spec.service,
            name=spec.span_name,
            name_regex=re.compile(spec.span_name_regex) if spec.span_name_regex is not None else None,
            kind=SPAN_KINDS[spec.span_kind] if spec.span_kind is not None else None,
            status=SPAN_STATUSES[spec.status] if spec.status is not None else None,
            root=spec.root,
            min_duration=span_duration_ns(spec.min_duration) if spec.min_duration is not None else None,
            needs_match=bool(spec.attributes or spec.attributes_regex),
            tests=attribute_tests(spec),
            cost=aggregator if isinstance(aggregator, CostAggregator) else None,
            per_run=isinstance(aggregator, CostAggregator) and aggregator.check.per == "run",
            raw=aggregator if isinstance(aggregator, TraceAggregator) and aggregator.simple else None,
        )

    def shape_holds(self, name: str, kind: int, status: int, root: bool) -> bool:
        return (
            (self.name is None or name == self.name)
            and (self.kind is None or kind == self.kind)
            and (self.status is None or status == self.status)
            and (self.root is None or root == self.root)
            and (self.name_regex is None or self.name_regex.search(name) is not None)
        )


class _Shapes:
    """The plans a span of one service may count, by its (name, kind, status, root): decided once each."""

    def __init__(self, plans: list[_Plan]) -> None:
        self.plans = plans
        self.cache: dict[tuple[str, int, int, bool], tuple[_Plan, ...]] = {}

    def lookup(self, key: tuple[str, int, int, bool]) -> tuple[_Plan, ...]:
        if len(self.cache) >= _CACHE_LIMIT:
            self.cache.clear()
        found = self.cache[key] = tuple(p for p in self.plans if p.shape_holds(*key))
        return found


class OtlpScanner:
    """Feeds every span of OTLP JSON lines to a :class:`SpanBatch`'s aggregators in one pass."""

    def __init__(self, batch: SpanBatch) -> None:
        if batch.prefiltered:
            raise ValueError("a prefiltered batch has no filters to scan with")
        self.batch = batch
        self.plans = [_Plan.of(a) for _, a in batch.traces] + [_Plan.of(a) for _, a in batch.costs]
        self.windows = sorted({(a.start_ns, a.end_ns) for _, a in batch.traces})
        self.outside = dict.fromkeys(self.windows, 0)
        self.fast = 0
        """Spans counted here; the reference path's spans went through each aggregator's own ``add``."""
        self.reference_lines = 0
        """Lines the typed structs did not accept (decoded by the reference decoder instead)."""
        self._by_service: dict[str | None, _Shapes] = {}
        bounds = [b for p in self.plans for b in (p.start_text, p.end_text)]
        self._text_times = all(len(b) == _TIME_DIGITS and b.isdigit() for b in bounds)
        self._text_windows = [(str(low), str(high), (low, high)) for low, high in self.windows]

    def feed_line(self, line: bytes) -> int:
        """The spans of one JSON line; :class:`TraceDecodeError` as the reference decoder raises it.

        msgspec.DecodeError (not JSON) is left to the caller, which names the line.
        """
        try:
            document = _DECODER.decode(line)
        except msgspec.ValidationError:
            return self.feed_reference(_JSON.decode(line))
        if (
            document.resourceSpans is UNSET
            or document.result is not UNSET
            or document.trace is not UNSET
            or document.batches is not UNSET
        ):
            return self.feed_reference(_JSON.decode(line))
        try:
            return self._document(document)
        except _Unusual:
            return self.feed_reference(_JSON.decode(line))  # nothing of this line was counted yet
        except _Invalid:
            self.feed_reference(_JSON.decode(line))  # raises, naming the first bad field
            raise TraceDecodeError("a span the reference decoder accepts was rejected") from None

    def feed_reference(self, document: Any) -> int:
        """Any OTLP document through the reference decoder and the aggregators' own ``add``."""
        self.reference_lines += 1
        n = 0
        add = self.batch.add
        for span in decode_document(document):
            add(span)
            n += 1
        return n

    def finish(self) -> None:
        """Hand the counts kept here to the aggregators (once, after the last line)."""
        for _, aggregator in self.batch.traces:
            aggregator.seen += self.fast
            aggregator.outside_window += self.outside[(aggregator.start_ns, aggregator.end_ns)]
        for _, cost in self.batch.costs:
            cost.seen += self.fast
        self.fast = 0
        self.outside = dict.fromkeys(self.windows, 0)

    def _shapes(self, resource: Mapping[str, Any]) -> _Shapes:
        service = resource.get("service.name")
        if not isinstance(service, str):
            service = None  # equal to no filter's service, like a resource without one
        shapes = self._by_service.get(service)
        if shapes is None:
            plans = [p for p in self.plans if p.service is None or p.service == service]
            shapes = self._by_service[service] = _Shapes(plans)
        return shapes

    def _document(self, document: _Document) -> int:
        """All scopes validated first (an unusual spelling sends the whole line, untouched, to the reference)."""
        scopes: list[tuple[list[_Span], Mapping[str, Any], _Shapes, bool]] = []
        for resource_spans in document.resourceSpans or ():
            resource = _attributes(resource_spans.resource.attributes) if resource_spans.resource else {}
            found = resource_spans.scopeSpans
            if found is UNSET:
                found = resource_spans.instrumentationLibrarySpans
            if not found:
                continue
            shapes = self._shapes(resource)
            for scope in found:
                if scope.spans:
                    scopes.append((scope.spans, resource, shapes, self._checked(scope.spans)))
        n = 0
        for spans, scope_resource, shapes, text_times in scopes:
            if text_times:
                self._spans(spans, scope_resource, shapes)
            else:
                for span in spans:
                    start, end = int(span.startTimeUnixNano or 0), int(span.endTimeUnixNano or 0)
                    self._by_numbers(span, start, end, scope_resource, shapes)
            n += len(spans)
        self.fast += n
        return n

    def _checked(self, spans: list[_Span]) -> bool:
        """Ids hex and times decimal, all at once (joined, by C string methods); True: 19-digit text times.

        :class:`_Unusual` for anything else the reference decoder must read (base64 ids, " 12" times…).
        """
        traces = [s.traceId for s in spans]
        own = [s.spanId for s in spans]
        parents = [s.parentSpanId for s in spans]
        joined = "".join(traces) + "".join(own)
        parent_text = "".join(parents)
        n = len(spans)
        # ids are at most 32 (trace) and 16 (span) characters long: total lengths prove each is full length
        if len(joined) != 48 * n or len(parent_text) != 16 * (n - parents.count("")):
            if not _ID_LENGTHS.issuperset(map(len, traces + own + parents)):
                raise _Unusual
        joined += parent_text
        if joined and not _is_hex(joined):
            raise _Unusual
        starts = [s.startTimeUnixNano for s in spans]
        ends = [s.endTimeUnixNano for s in spans]
        try:
            times = "".join(starts) + "".join(ends)  # type: ignore[arg-type]
        except TypeError:  # an integer or a missing time
            times = ""
        if self._text_times and len(times) == 2 * _TIME_DIGITS * len(spans) and times.isascii() and times.isdigit():
            return True
        for value in starts + ends:
            if type(value) is str and _SIGNED_DIGITS.fullmatch(value) is None:
                raise _Unusual
        return False

    def _spans(self, spans: list[_Span], resource: Mapping[str, Any], shapes: _Shapes) -> None:
        """The hot loop: one iteration a span, locals and builtins only until a check may count it."""
        windows = self._text_windows
        outside = self.outside
        cache = shapes.cache
        lookup = shapes.lookup
        none_planned = not shapes.plans
        for span in spans:
            start: str = span.startTimeUnixNano  # type: ignore[assignment]
            end: str = span.endTimeUnixNano  # type: ignore[assignment]
            if end < start:
                raise _Invalid
            for low, high, key in windows:
                if not low <= start < high:
                    outside[key] += 1
            if none_planned:
                continue
            status = span.status
            code = status.code if status is not None else 0
            root = not span.parentSpanId
            shape = (span.name, span.kind, code, root)
            planned = cache.get(shape)
            if planned is None:
                planned = lookup(shape)
            if planned:
                self._planned(span, planned, start, end, code, root, resource)

    def _by_numbers(self, span: _Span, start: int, end: int, resource: Mapping[str, Any], shapes: _Shapes) -> None:
        """A span whose times are not 19-digit strings (or windows that are not): compared as integers."""
        if end < start:
            raise _Invalid
        for window in self.windows:
            if not window[0] <= start < window[1]:
                self.outside[window] += 1
        status = span.status
        code = status.code if status is not None else 0
        made: Span | None = None
        for plan in shapes.lookup((span.name, span.kind, code, not span.parentSpanId)):
            if plan.start_ns <= start < plan.end_ns:
                made = made or _span(span, start, end, code, resource)
                self._offer(plan, made)

    def _planned(
        self,
        span: _Span,
        planned: tuple[_Plan, ...],
        start: str,
        end: str,
        code: int,
        root: bool,
        resource: Mapping[str, Any],
    ) -> None:
        made: Span | None = None
        start_ns = end_ns = 0
        for plan in planned:
            if not plan.start_text <= start < plan.end_text:
                continue
            if plan.min_duration is not None or plan.raw is not None:
                if not end_ns:
                    start_ns, end_ns = int(start), int(end)
                if plan.min_duration is not None and end_ns - start_ns < plan.min_duration:
                    continue
            if plan.needs_match and not _attributes_hold(plan.tests, span.attributes, resource):
                continue
            if plan.cost is not None:
                _price(plan, span, root, start)
            elif plan.raw is not None:  # status and duration suffice: no Span
                plan.raw.count_raw(code, (end_ns - start_ns) / 1e9)
            else:
                made = made or _span(span, int(start), int(end), code, resource)
                plan.aggregator.accumulate(made)

    @staticmethod
    def _offer(plan: _Plan, span: Span) -> None:
        if plan.min_duration is not None and span.end_ns - span.start_ns < plan.min_duration:
            return
        if plan.needs_match and not plan.aggregator.match(span):
            return
        if plan.raw is not None:
            plan.raw.count_raw(span.status, span.duration_s)
        else:
            plan.aggregator.accumulate(span)


def _attributes_hold(
    tests: list[tuple[str, ValueTest]], pairs: list[_KeyValue] | None, resource: Mapping[str, Any]
) -> bool:
    """The filter's attribute conditions on raw attributes: the last pair of a key counts, else the resource's."""
    for key, test in tests:
        value: Any = None
        for pair in pairs or ():
            if pair.key == key:
                value = pair.value
        found = _value(value) if value is not None else None
        if found is None:
            found = resource.get(key)
        if not test(found):
            return False
    return True


_SLOTS = {
    key: i
    for i, keys in enumerate((INPUT_KEYS, OUTPUT_KEYS, CACHE_READ_KEYS, CACHE_WRITE_KEYS, MODEL_KEYS))
    for key in keys
}
_OPERATION_SLOT = len(_SLOTS)
_SLOTS[_OPERATION] = _OPERATION_SLOT
_TOKEN_SLOTS = (INPUT_KEYS, OUTPUT_KEYS, CACHE_READ_KEYS, CACHE_WRITE_KEYS)
_EXACT_FLOAT = 2**53
"""Integers below this are the same number as a float: the reference reads token counts as floats."""


_ODD: Any = object()
"""A token count not written as a plain non-negative ``intValue``: read by the reference's function instead."""
_TOKEN_KEYS = frozenset(INPUT_KEYS + OUTPUT_KEYS + CACHE_READ_KEYS + CACHE_WRITE_KEYS)


def _price(plan: _Plan, span: _Span, root: bool, start: str) -> None:
    """What :meth:`CostAggregator.accumulate` does with a span, read from the raw attributes.

    Token counts written as plain ``intValue`` are read here; any other spelling (strings, doubles,
    negatives, huge numbers…) goes through :func:`slo.pricing.usage_of` itself, so messages and values
    are the reference's.
    """
    found: dict[str, _AnyValue | None] = {}
    slots = _SLOTS
    for pair in span.attributes or ():
        if pair.key in slots:
            found[pair.key] = pair.value
    cost = plan.cost
    assert cost is not None
    if plan.per_run and (root or (_OPERATION in found and _value(found[_OPERATION]) == RUN_OPERATION)):
        cost.open_run(span.traceId.lower() if span.traceId else "")
    if _TOKEN_KEYS.isdisjoint(found):
        return
    counts: list[Any] = []
    for keys in _TOKEN_SLOTS:  # _plain_count, inlined (the hot path of a cost check)
        count: Any = None
        for key in keys:
            value = found.get(key)
            if value is not None:  # absent, or a pair without a value: the reference looks at the next key
                if value.stringValue is UNSET and value.intValue is not UNSET:
                    count = value.intValue
                    if type(count) is str:
                        count = int(count)
                    if not 0 <= count < _EXACT_FLOAT:
                        count = _ODD
                else:
                    count = _ODD
                break
        counts.append(count)
    if _ODD in counts:
        attributes = {key: _value(value) for key, value in found.items()}
        try:
            usage = usage_of(attributes)
        except UsageError as exc:
            cost.malformed[str(exc)] += 1
            return
        if usage is None:
            return
        counts = [exact(usage.input), exact(usage.output), exact(usage.cache_read), exact(usage.cache_write)]
    elif counts[0] is None and counts[1] is None:
        return
    names: tuple[str, ...] = ()
    for key in MODEL_KEYS:  # response model first, as in the reference
        value = found.get(key)
        if value is not None:
            name = value.stringValue if value.stringValue is not UNSET else _value(value)
            if isinstance(name, str) and name:
                names += (name,)
    cost.add_call(
        span.traceId.lower() if span.traceId else "",
        names,
        int(start),
        counts[0] or 0,
        counts[1] or 0,
        counts[2] or 0,
        counts[3] or 0,
    )


class _Invalid(Exception):
    """A typed line the reference decoder rejects (a span ending before it starts)."""


class _Unusual(Exception):
    """A spelling only the reference decoder reads (found before anything of the line is counted)."""


def _is_hex(text: str) -> bool:
    """Hex digits only (even length): ``bytes.fromhex`` rejects anything else but skips whitespace, hence the length."""
    try:
        return 2 * len(bytes.fromhex(text)) == len(text)
    except ValueError:
        return False


def _span(span: _Span, start: int, end: int, code: int, resource: Mapping[str, Any]) -> Span:
    return Span(
        trace_id=span.traceId.lower() if span.traceId else "",
        span_id=span.spanId.lower() if span.spanId else "",
        parent_span_id=span.parentSpanId.lower() if span.parentSpanId else "",
        name=span.name,
        kind=span.kind,
        status=code,
        start_ns=start,
        end_ns=end,
        attributes=_attributes(span.attributes),
        resource=resource,
    )

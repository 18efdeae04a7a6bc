"""OTLP trace JSON in every dialect gatepack meets, decoded into :class:`slo.traces.Span`.

* spec OTLP/JSON (Collector file exporter, Jaeger api/v3): lowercase hex ids, integer enums, int64
  as strings;
* the protobuf JSON mapping Tempo answers with (and ``MessageToJson``): base64 ids, enum *names*
  (``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``), zero values omitted;
* envelopes: ``{"resourceSpans"}``, Tempo v1 ``{"batches"}``, Tempo v2 ``{"trace": …}``, Jaeger v3
  ``{"result": …}``; the pre-1.0 ``instrumentationLibrarySpans`` name too.

Anything that is not one of these raises :class:`TraceDecodeError` (an :class:`InputError`) naming the
field, never another exception: decoders run on files and responses gatepack does not control.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

from slo.errors import InputError
from slo.traces import Span

KIND_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_HEX = frozenset("0123456789abcdefABCDEF")
_EMPTY: Mapping[str, Any] = {}


class TraceDecodeError(InputError):
    """A trace document gatepack cannot read."""


def decode_id(value: Any, where: str) -> str:
    """Lowercase hex from hex (OTLP/JSON) or base64 (protobuf JSON mapping) ids; ``""`` when absent."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise TraceDecodeError(f"id must be a string, got {type(value).__name__}", field=where)
    if len(value) in (16, 32) and _HEX.issuperset(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise TraceDecodeError(f"id {value[:40]!r} is neither hex nor base64", field=where) from None
    if len(raw) not in (8, 16):
        raise TraceDecodeError(f"id {value[:40]!r} decodes to {len(raw)} bytes, not 8 or 16", field=where)
    return raw.hex()


def decode_int(value: Any, where: str) -> int:
    """int64 fields: JSON numbers or decimal strings (the JSON mapping); omitted means 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise TraceDecodeError("expected an integer, got a boolean", field=where)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TraceDecodeError(f"expected an integer, got {str(value)[:40]!r}", field=where)


def decode_enum(value: Any, names: Mapping[str, int], where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in names:
            return names[value]
        if value.isdigit():
            return int(value)
    raise TraceDecodeError(f"unknown value {str(value)[:40]!r}", field=where)


def any_value(value: Any, where: str) -> Any:
    """An OTLP ``AnyValue`` as a Python value (int64 strings become ints; arrays lists; kvlists dicts)."""
    if not isinstance(value, dict):
        if value is None:
            return None
        raise TraceDecodeError("attribute value must be an object", field=where)
    if "stringValue" in value:
        text = value["stringValue"]
        if not isinstance(text, str):
            raise TraceDecodeError("stringValue must be a string", field=where)
        return text
    if "intValue" in value:
        return decode_int(value["intValue"], where)
    if "doubleValue" in value:
        number = value["doubleValue"]
        if isinstance(number, int | float) and not isinstance(number, bool):
            return float(number)
        if isinstance(number, str) and number in ("NaN", "Infinity", "-Infinity"):
            return float(number.replace("Infinity", "inf"))
        raise TraceDecodeError(f"doubleValue {str(number)[:40]!r} is not a number", field=where)
    if "boolValue" in value:
        flag = value["boolValue"]
        if not isinstance(flag, bool):
            raise TraceDecodeError("boolValue must be true or false", field=where)
        return flag
    if "arrayValue" in value:
        array = value["arrayValue"] or {}
        items = array.get("values", []) if isinstance(array, dict) else None
        if not isinstance(items, list):
            raise TraceDecodeError("arrayValue.values must be a list", field=where)
        return [any_value(item, where) for item in items]
    if "kvlistValue" in value:
        kvlist = value["kvlistValue"] or {}
        pairs = kvlist.get("values", []) if isinstance(kvlist, dict) else None
        return attributes(pairs, where)
    if "bytesValue" in value:
        return value["bytesValue"] if isinstance(value["bytesValue"], str) else None
    return None  # an empty AnyValue: the attribute is present without a value


def attributes(pairs: Any, where: str) -> dict[str, Any]:
    """``[{"key", "value"}]`` → dict (the last duplicate wins)."""
    if pairs is None:
        return {}
    if not isinstance(pairs, list):
        raise TraceDecodeError("attributes must be a list", field=where)
    out: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise TraceDecodeError("attribute must be an object with a string key", field=where)
        out[pair["key"]] = any_value(pair.get("value"), f"{where}.{pair['key']}")
    return out


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TraceDecodeError("expected a list", field=where)
    return value


def resource_spans_of(document: Any) -> list[Any]:
    """The ``resourceSpans`` list inside any of the envelopes."""
    if not isinstance(document, dict):
        raise TraceDecodeError("a trace document must be a JSON object")
    for envelope in ("result", "trace"):
        if envelope in document and isinstance(document[envelope], dict):
            document = document[envelope]
            break
    if "resourceSpans" in document:
        return _list(document["resourceSpans"], "resourceSpans")
    if "batches" in document:
        return _list(document["batches"], "batches")
    if not document:
        return []
    raise TraceDecodeError("no resourceSpans (or batches) in this document")


def decode_span(span: Any, resource: Mapping[str, Any], where: str) -> Span:
    if not isinstance(span, dict):
        raise TraceDecodeError("span must be an object", field=where)
    name = span.get("name", "")
    if not isinstance(name, str):
        raise TraceDecodeError("name must be a string", field=f"{where}.name")
    status = span.get("status")
    if status is not None and not isinstance(status, dict):
        raise TraceDecodeError("status must be an object", field=f"{where}.status")
    start = decode_int(span.get("startTimeUnixNano"), f"{where}.startTimeUnixNano")
    end = decode_int(span.get("endTimeUnixNano"), f"{where}.endTimeUnixNano")
    if end < start:
        raise TraceDecodeError(f"ends ({end}) before it starts ({start})", field=where)
    return Span(
        trace_id=decode_id(span.get("traceId"), f"{where}.traceId"),
        span_id=decode_id(span.get("spanId"), f"{where}.spanId"),
        parent_span_id=decode_id(span.get("parentSpanId"), f"{where}.parentSpanId"),
        name=name,
        kind=decode_enum(span.get("kind"), KIND_NAMES, f"{where}.kind"),
        status=decode_enum((status or _EMPTY).get("code"), STATUS_NAMES, f"{where}.status.code"),
        start_ns=start,
        end_ns=end,
        attributes=attributes(span.get("attributes"), f"{where}.attributes") if span.get("attributes") else _EMPTY,
        resource=resource,
    )


def walk(document: Any) -> Iterator[tuple[str, Mapping[str, Any], list[Any]]]:
    """``(where, resource attributes, raw spans)`` for every scopeSpans of a document, validated as it goes.

    The one walk over resourceSpans → scopeSpans shared by :func:`decode_document` (Jaeger api/v3,
    Tempo's trace by id) and the OTLP file scanner: the spans stay raw dicts, so a caller decodes only
    what it needs. ``where`` is the scope's path (``resourceSpans[0].scopeSpans[1]``) for error messages.
    """
    for r, resource_spans in enumerate(resource_spans_of(document)):
        where = f"resourceSpans[{r}]"
        if not isinstance(resource_spans, dict):
            raise TraceDecodeError("must be an object", field=where)
        resource_doc = resource_spans.get("resource") or {}
        if not isinstance(resource_doc, dict):
            raise TraceDecodeError("resource must be an object", field=f"{where}.resource")
        resource = attributes(resource_doc.get("attributes"), f"{where}.resource.attributes")
        scopes = resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans"))
        for s, scope_spans in enumerate(_list(scopes, f"{where}.scopeSpans")):
            if not isinstance(scope_spans, dict):
                raise TraceDecodeError("must be an object", field=f"{where}.scopeSpans[{s}]")
            yield (
                f"{where}.scopeSpans[{s}]",
                resource,
                _list(scope_spans.get("spans"), f"{where}.scopeSpans[{s}].spans"),
            )


def decode_spans(spans: list[Any], resource: Mapping[str, Any], where: str) -> Iterator[Span]:
    """The reference decoding of one scope's raw spans (fast paths fall back to it to name an error)."""
    for i, span in enumerate(spans):
        yield decode_span(span, resource, f"{where}.spans[{i}]")


def decode_document(document: Any) -> Iterator[Span]:
    """Every span of one OTLP JSON document (any dialect or envelope above)."""
    for where, resource, spans in walk(document):
        yield from decode_spans(spans, resource, where)

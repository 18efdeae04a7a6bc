"""Write OpenTelemetry SDK spans as OTLP JSON lines, as the Collector's file exporter does.

The SDK's console exporter prints its own JSON, which is not OTLP; this is the protobuf JSON mapping of
an ``ExportTraceServiceRequest``: hex trace and span ids, integer enums (span kind counted from 1),
int64 nanoseconds as strings, attributes as ``{key, value: {stringValue|intValue|…}}`` lists, one
request per line. The demo world writes its trace file with it, and the tests write theirs, so what
gatepack reads back is exactly what a Collector in front of a real agent would have written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan


def any_value(value: object) -> dict[str, Any]:
    """One attribute value in OTLP's ``AnyValue`` mapping (int64 as a string)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _attributes(attributes: Mapping[str, object] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (attributes or {}).items()]


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None, "a finished SDK span always has a context"
    item: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "name": span.name,
        "kind": span.kind.value + 1,  # the SDK counts INTERNAL from 0, OTLP from 1
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": _attributes(span.attributes),
        "status": {"code": span.status.status_code.value} if span.status.status_code.value else {},
    }
    if span.parent is not None:
        item["parentSpanId"] = f"{span.parent.span_id:016x}"
    return item


def encode(spans: Sequence[ReadableSpan], scope: str = "gen") -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` in the protobuf JSON mapping, spans grouped by their resource."""
    by_resource: dict[int, tuple[Resource, list[ReadableSpan]]] = {}
    for span in spans:
        by_resource.setdefault(id(span.resource), (span.resource, []))[1].append(span)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes(resource.attributes)},
                "scopeSpans": [{"scope": {"name": scope}, "spans": [_span(s) for s in members]}],
            }
            for resource, members in by_resource.values()
        ]
    }


def write_lines(handle: IO[str], spans: Sequence[ReadableSpan], per_line: int = 40) -> int:
    """``spans`` as JSON lines of at most ``per_line`` spans (one line per export batch); lines written."""
    lines = 0
    for start in range(0, len(spans), per_line):
        handle.write(json.dumps(encode(spans[start : start + per_line]), separators=(",", ":")) + "\n")
        lines += 1
    return lines


def write_file(path: Path, spans: Iterable[ReadableSpan], per_line: int = 40) -> int:
    """Write ``spans`` to ``path`` as OTLP JSON lines (plain text); lines written."""
    with path.open("w", encoding="utf-8") as handle:
        return write_lines(handle, list(spans), per_line)

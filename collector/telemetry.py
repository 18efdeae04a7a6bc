"""gatepack observing itself: OpenTelemetry spans for server requests and collect/ingest runs.

Spans are exported (OTLP over HTTP) only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise the
tracer is OpenTelemetry's no-op one and a span costs next to nothing. The span tree of a run is
``gatepack.collect`` → ``gate`` → ``check`` → ``query``; query spans carry the query text, attempts,
status and fault as the packet records them (backend URLs there are already stripped of credentials;
no header, token or password is ever an attribute).

Checks of a gate are evaluated concurrently inside their sources, so a check span runs from the gate's
start to the moment its result arrived, and its query spans share that interval: the attributes are
exact, the query timing is bounded, not measured.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_provider: trace.TracerProvider | None = None


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Send gatepack's spans to ``provider`` (tests pass one with an in-memory exporter; None resets)."""
    global _provider
    _provider = provider


def setup_tracing(service_name: str, environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """An OTLP-exporting provider when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise None (tracing off)."""
    env = os.environ if environ is None else environ
    if not env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or _provider is not None:
        return None
    # the SDK is imported only to export: without an endpoint the API's no-op tracer is all a run needs
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads the endpoint from the environment
    use_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    from slo import __version__

    provider = _provider or trace.get_tracer_provider()
    return provider.get_tracer("gatepack", __version__)


def request_span(method: str, route: str) -> AbstractContextManager[Span]:
    """One span per server request, named by its route template (never the raw path or its query string)."""
    return tracer().start_as_current_span(
        f"{method} {route}",
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    )


@contextmanager
def run_span(command: str, gates: int) -> Iterator[Span]:
    with tracer().start_as_current_span(f"gatepack.{command}", attributes={"gatepack.gates": gates}) as span:
        yield span


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


class GateSpan:
    """The ``gate`` span and its ``check``/``query`` children, opened as results arrive."""

    def __init__(self, gate_id: str, checks: int) -> None:
        self.started = time.time_ns()
        self.tracer = tracer()
        self.span = self.tracer.start_span(
            "gate", attributes={"gatepack.gate": gate_id, "gatepack.checks": checks}, start_time=self.started
        )
        self.context = trace.set_span_in_context(self.span)
        # OpenTelemetry's no-op tracer (tracing off) gives an invalid span whose children are no-ops too:
        # their attributes would be built for nothing, 17 000 times for a gate of a thousand SLOs
        self.off = not self.span.is_recording() and not self.span.get_span_context().is_valid

    def check(self, result: Any) -> None:
        """A finished :class:`slo.results.CheckResult`: its span and one child per query it sent."""
        if self.off:
            return
        tracer = self.tracer
        ended = time.time_ns()
        attributes = _clean(
            {
                "gatepack.check": result.id,
                "gatepack.check.kind": result.kind,
                "gatepack.check.verdict": str(result.verdict),
                "gatepack.check.effect": str(result.effect),
                "gatepack.check.reason": result.reason,
                "gatepack.check.value": result.value,
            }
        )
        span = tracer.start_span("check", context=self.context, attributes=attributes, start_time=self.started)
        inner = trace.set_span_in_context(span)
        for query in result.queries:
            fault = None if query.fault is None else str(query.fault)
            child = tracer.start_span(
                "query",
                context=inner,
                start_time=self.started,
                attributes=_clean(
                    {
                        "gatepack.query.text": query.query,
                        "gatepack.query.role": query.role,
                        "gatepack.query.window": query.window,
                        "gatepack.query.status": str(query.status),
                        "gatepack.query.attempts": query.attempts,
                        "gatepack.query.fault": fault,
                        "gatepack.query.value": query.value,
                        "gatepack.query.backend": query.backend,
                    }
                ),
            )
            if fault is not None:
                child.set_status(Status(StatusCode.ERROR, fault))
            child.end(end_time=ended)
        if str(result.verdict) == "error":
            span.set_status(Status(StatusCode.ERROR, result.reason))
        span.end(end_time=ended)

    def end(self, verdict: str | None) -> None:
        if verdict is not None:
            self.span.set_attribute("gatepack.gate.verdict", verdict)
        self.span.end()

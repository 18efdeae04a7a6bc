"""The demo agent's traces: real opentelemetry-sdk spans with GenAI attributes, written as OTLP JSON lines.

One agent run every 5 minutes for the last 26 hours (the trace file is a sample of the runs the
metrics count): an ``invoke_agent`` span with two ``chat`` calls (``gpt-4o`` and
``claude-sonnet-4-5``, token counts of the same per-run shape as the metric world's) and one or two
``execute_tool`` calls, plus decoys the catalog's filters must leave out: runs older than the 1-day
window, and a web front end whose HTTP server spans carry no GenAI attributes. Everything is a
closed-form function of the run's index (no randomness), and :func:`write_traces` returns the
generator's own record of every span, so tests recompute each number without reading the file.

``degraded`` is the same world with the prompt loop of the metric world: three times the tokens for
the runs of the last day (their cost per run breaks the catalog's target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from collector.demo.world import GENAI_CALLS
from collector.testing.otlp_json import write_file

S = 1_000_000_000
RUN_EVERY = 300
RUNS = 26 * 3600 // RUN_EVERY
CALLS = tuple(
    (model, response, int(tokens_in), int(tokens_out)) for model, response, tokens_in, tokens_out in GENAI_CALLS
)
"""The chat calls of one run: the metric world's per-run token shape."""
TOOL_TIMEOUT_EVERY = 211
TOOL_ERROR_EVERY = 157


@dataclass(frozen=True)
class ChatCall:
    run: int
    start_ns: int
    model: str
    response_model: str
    input_tokens: int
    output_tokens: int
    duration_s: float


@dataclass(frozen=True)
class ToolCall:
    run: int
    start_ns: int
    error: str | None


@dataclass
class TraceRecord:
    """What the generator emitted, for tests to recompute every trace check from."""

    runs: dict[int, int] = field(default_factory=dict)
    """run index -> start of its invoke_agent span (ns)."""
    chats: list[ChatCall] = field(default_factory=list)
    tools: list[ToolCall] = field(default_factory=list)
    decoys: int = 0
    spans: int = 0


def chat_seconds(run: int, call: int) -> float:
    """A spread of latencies between 0.4 and 2.0 s (p95 about 1.9 s): the catalog's 2.5 s target holds."""
    return 0.4 + 1.6 * ((run * 37 + call * 53) % 100) / 100


def _providers(exporter: InMemorySpanExporter) -> dict[str, TracerProvider]:
    providers = {}
    for service in ("agent", "web"):
        provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "demo"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers[service] = provider
    return providers


def build_spans(scenario: str, end: int) -> tuple[list[ReadableSpan], TraceRecord]:
    """Every span of the demo's trace file for the 26 hours ending at ``end`` (Unix seconds)."""
    exporter = InMemorySpanExporter()
    providers = _providers(exporter)
    agent, web = providers["agent"].get_tracer("demo-agent"), providers["web"].get_tracer("demo-web")
    record = TraceRecord()
    for run in range(RUNS):
        start = (end - (run + 1) * RUN_EVERY + 7) * S  # never exactly on a window boundary
        loop = 3 if scenario == "degraded" and end * S - start < 86400 * S else 1
        root = agent.start_span(
            "invoke_agent support",
            kind=SpanKind.INTERNAL,
            start_time=start,
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"},
        )
        record.runs[run] = start
        context = set_span_in_context(root)
        cursor = start + S // 100
        for index, (model, response_model, tokens_in, tokens_out) in enumerate(CALLS):
            seconds = chat_seconds(run, index)
            call = ChatCall(run, cursor, model, response_model, tokens_in * loop, tokens_out * loop, seconds)
            span = agent.start_span(
                f"chat {model}",
                kind=SpanKind.CLIENT,
                context=context,
                start_time=cursor,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai" if model.startswith("gpt") else "anthropic",
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": response_model,
                    "gen_ai.usage.input_tokens": call.input_tokens,
                    "gen_ai.usage.output_tokens": call.output_tokens,
                },
            )
            span.end(end_time=cursor + round(seconds * S))
            record.chats.append(call)
            cursor += round(seconds * S)
        for tool_index in range(1 + run % 2):
            number = len(record.tools)
            error = "timeout" if number % TOOL_TIMEOUT_EVERY == 5 else None
            if error is None and number % TOOL_ERROR_EVERY == 11:
                error = "tool_error"
            span = agent.start_span(
                "execute_tool search_docs",
                kind=SpanKind.INTERNAL,
                context=context,
                start_time=cursor,
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_docs"},
            )
            if error is not None:
                span.set_attribute("error.type", error)
                span.set_status(Status(StatusCode.ERROR, error))
            span.end(end_time=cursor + (30 * S if error == "timeout" else S // 5))
            record.tools.append(ToolCall(run, cursor, error))
            cursor += S // 5 + tool_index
        root.end(end_time=cursor + S // 100)
        # the web front end that called the agent: a server span without GenAI attributes (a decoy)
        front = web.start_span("POST /support", kind=SpanKind.SERVER, start_time=start - S // 50)
        front.set_attribute("http.response.status_code", 200)
        front.end(end_time=cursor + S // 50)
        record.decoys += 1
    spans = list(exporter.get_finished_spans())
    record.spans = len(spans)
    for provider in providers.values():
        provider.shutdown()
    return spans, record


def write_traces(path: Path, scenario: str, end: int) -> TraceRecord:
    """The demo's OTLP JSON lines file for ``scenario``; returns the generator's record of what it wrote."""
    spans, record = build_spans(scenario, end)
    write_file(path, spans)
    return record

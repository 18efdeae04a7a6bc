"""OTLP JSON files: spans made by the real opentelemetry-sdk, written as the Collector's file exporter does.

The generator keeps its own record of every span it emitted (service, kind, duration, tokens); the
expected percentiles and costs are computed from that record with numpy, then compared with what
gatepack reads back from the file. Decoys: spans before the window, another service, server spans
with the same names.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from collector.run import evaluate_gate
from collector.sources.traces.otlp_file import OtlpFileSource, read_spans
from collector.sources.traces.pricing_file import load_pricing
from collector.testing.otlp_json import write_lines
from slo.loader import load_gates
from slo.results import Verdict

AT = 1767225600  # 2026-01-01T00:00:00Z
S = 1_000_000_000
PRICES = {  # USD per 1M tokens: input, output, cached input
    "gpt-4o": (2.5, 10.0, 1.25),
    "claude-sonnet-4-5": (3.0, 15.0, 0.3),
}
PRICE_YAML = {
    "apiVersion": "gatepack/v1",
    "kind": "PriceTable",
    "models": [
        {"model": "gpt-4o", "input": 2.5, "output": 10.0, "cached_input": 1.25},
        {"match": "^claude-sonnet-4-5", "input": 3.0, "output": 15.0, "cached_input": 0.3},
    ],
}


def generate(path: Path, runs: int = 150, seed: int = 7, compress: bool = False) -> list[dict]:
    """Write an OTLP JSON lines file from SDK spans; return the generator's record of each span."""
    rng = random.Random(seed)
    exporter = InMemorySpanExporter()
    record: list[dict] = []
    providers = {}
    for service in ("agent", "billing"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers[service] = provider
    for i in range(runs):
        service = "agent" if i % 5 else "billing"  # every fifth run is a decoy service
        inside = i % 7 != 0  # every seventh run starts before the 24h window
        start = AT - (rng.uniform(60, 23 * 3600) if inside else rng.uniform(25 * 3600, 40 * 3600))
        tracer = providers[service].get_tracer("gen")
        t0 = int(start * S)
        agent = tracer.start_span(
            "invoke_agent planner",
            kind=SpanKind.INTERNAL,
            start_time=t0,
            attributes={"gen_ai.operation.name": "invoke_agent"},
        )
        record.append({"service": service, "inside": inside, "kind": "internal", "name": "invoke_agent", "run": i})
        ctx = set_span_in_context(agent)
        cursor = t0
        for _call in range(rng.randint(0, 3)):
            model = rng.choice(list(PRICES))
            tokens_in, tokens_out = rng.randint(100, 5000), rng.randint(10, 800)
            cached = rng.randint(0, tokens_in // 2) if rng.random() < 0.5 else 0
            duration = int(rng.lognormvariate(0, 0.6) * S)
            attrs = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.response.model": model + "-2025",
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
            }
            if cached:
                attrs["gen_ai.usage.cache_read.input_tokens"] = cached
            chat = tracer.start_span(
                f"chat {model}", kind=SpanKind.CLIENT, context=ctx, start_time=cursor, attributes=attrs
            )
            chat.end(end_time=cursor + duration)
            record.append(
                {
                    "service": service, "inside": inside, "kind": "client", "name": "chat", "run": i,
                    "duration": duration / S, "model": model, "in": tokens_in, "out": tokens_out, "cached": cached,
                }
            )  # fmt: skip
            cursor += duration
        for _tool in range(rng.randint(0, 2)):
            failed = rng.random() < 0.2
            tool = tracer.start_span(
                "execute_tool search",
                kind=SpanKind.INTERNAL,
                context=ctx,
                start_time=cursor,
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
            )
            if failed:
                tool.set_status(Status(StatusCode.ERROR, "timeout"))
                tool.set_attribute("error.type", "timeout")
            tool.end(end_time=cursor + S // 10)
            record.append(
                {"service": service, "inside": inside, "kind": "internal", "name": "tool", "run": i, "error": failed}
            )
            cursor += S // 10
        decoy = tracer.start_span("chat decoy", kind=SpanKind.SERVER, context=ctx, start_time=cursor)
        decoy.end(end_time=cursor + 9 * S)  # a server span named like a chat: excluded by span_kind
        record.append({"service": service, "inside": inside, "kind": "server", "name": "chat", "run": i})
        agent.end(end_time=cursor + 9 * S)
    spans = list(exporter.get_finished_spans())
    opener = gzip.open if compress else open
    with opener(path, "wt") as handle:
        write_lines(handle, spans)  # one line per export batch of 40, like the Collector's file exporter
    return record


GATE = """
apiVersion: gatepack/v1
kind: Gate
id: ai
title: AI
checks:
  - {id: tool-errors, kind: trace, window: 24h, filter: {service: agent, span_name: execute_tool search, attributes: {gen_ai.tool.name: search}}, aggregate: error_ratio, op: "<=", target: 0.02}
  - {id: chat-p95, kind: trace, window: 24h, filter: {service: agent, span_kind: client, span_name_regex: "^chat "}, aggregate: p95, op: "<=", target: 2.5, unit: s}
  - {id: cost-per-run, kind: ai_cost, window: 24h, filter: {service: agent}, per: run, aggregate: avg, op: "<=", target: 0.05, unit: USD}
  - {id: cost-total, kind: ai_cost, window: 24h, filter: {service: agent}, aggregate: sum, op: "<=", target: 20, unit: USD}
  - {id: tokens-by-model, kind: ai_cost, window: 24h, filter: {service: agent}, per: model, measure: tokens, aggregate: max, op: "<=", target: 1e9}
"""


def price(row: dict) -> float:
    p_in, p_out, p_cached = PRICES[row["model"]]
    return ((row["in"] - row["cached"]) * p_in + row["cached"] * p_cached + row["out"] * p_out) / 1e6


def evaluate(paths: list[Path], tmp_path: Path, text: str = GATE):
    pricing = tmp_path / "prices.yaml"
    pricing.write_text(yaml.safe_dump(PRICE_YAML))
    table, pricing_input = load_pricing(pricing)
    source = OtlpFileSource(paths, table, pricing_input)
    run = asyncio.run(evaluate_gate(load_gates(text, "g.yaml")[0], at=AT, sources=[source]))
    return {r.id: r for r in run.results}, source


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_sdk_spans_priced_and_aggregated_like_the_record(tmp_path, compress):
    path = tmp_path / ("spans.jsonl.gz" if compress else "spans.jsonl")
    record = generate(path, compress=compress)
    mine = [r for r in record if r["service"] == "agent" and r["inside"]]
    tools = [r for r in mine if r["name"] == "tool"]
    chats = [r for r in mine if r["name"] == "chat" and r["kind"] == "client"]
    runs = sorted({r["run"] for r in mine})
    results, source = evaluate([path], tmp_path)

    assert results["tool-errors"].value == pytest.approx(sum(r["error"] for r in tools) / len(tools))
    assert results["chat-p95"].value == pytest.approx(
        float(np.percentile([r["duration"] for r in chats], 95)), rel=1e-6
    )
    per_run = {run: sum(price(r) for r in chats if r["run"] == run) for run in runs}
    assert results["cost-per-run"].value == pytest.approx(np.mean(list(per_run.values())))
    assert results["cost-total"].value == pytest.approx(sum(per_run.values()))
    tokens = {m: sum(r["in"] + r["out"] for r in chats if r["model"] == m) for m in PRICES}
    assert results["tokens-by-model"].value == max(tokens.values())
    assert results["cost-total"].details["by_model"]["gpt-4o"]["calls"] == sum(r["model"] == "gpt-4o" for r in chats)
    assert results["cost-total"].details["cost_source"] == "traces (otlp file)"
    [traces_input, pricing_input] = source.inputs()
    assert traces_input.format == ("otlp-json-lines+gzip" if compress else "otlp-json-lines")
    import hashlib

    assert traces_input.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert pricing_input.role == "pricing" and pricing_input.format == "gatepack"


def test_the_shared_file_exporter_fixture(contract_fixtures, tmp_path):
    """The SDK's own file exporter output: cost from its GenAI spans against the LiteLLM table."""
    path = contract_fixtures / "traces/otlp/python-sdk-genai.file-exporter.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    spans = [s for d in raw for rs in d["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    litellm = json.loads((contract_fixtures / "traces/genai-pricing/litellm.model_prices.subset.json").read_text())
    expected = 0.0
    for span in spans:
        attrs = {a["key"]: a["value"] for a in span.get("attributes", [])}
        if "gen_ai.usage.input_tokens" not in attrs:
            continue
        prices = litellm[attrs["gen_ai.request.model"]["stringValue"]]  # the response model is not in the table
        tokens_in = int(attrs["gen_ai.usage.input_tokens"]["intValue"])
        cached = int(attrs.get("gen_ai.usage.cache_read.input_tokens", {"intValue": "0"})["intValue"])
        out = int(attrs["gen_ai.usage.output_tokens"]["intValue"])
        expected += (tokens_in - cached) * prices["input_cost_per_token"] + out * prices["output_cost_per_token"]
        expected += cached * prices.get("cache_read_input_token_cost", prices["input_cost_per_token"])
    table, _ = load_pricing(contract_fixtures / "traces/genai-pricing/litellm.model_prices.subset.json")
    text = "apiVersion: gatepack/v1\nkind: Gate\nid: g\ntitle: g\nchecks:\n  - {id: c, kind: ai_cost, window: 1h, aggregate: sum, op: '<=', target: 1}\n"
    run = asyncio.run(evaluate_gate(load_gates(text, "g")[0], at=AT + 600, sources=[OtlpFileSource([path], table)]))
    assert run.results[0].value == pytest.approx(expected)
    assert len(list(read_spans(path))) == len(spans)


def test_unknown_model_is_named_never_priced_zero(tmp_path):
    path = tmp_path / "s.jsonl"
    line = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0" * 31 + "1",
                                "spanId": "0" * 15 + "1",
                                "name": "chat mystery",
                                "startTimeUnixNano": str((AT - 60) * S),
                                "endTimeUnixNano": str((AT - 59) * S),
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "mystery-9"}},
                                    {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "10"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    path.write_text(json.dumps(line) + "\n")
    results, _ = evaluate([path], tmp_path)
    assert results["cost-total"].verdict is Verdict.ERROR
    assert "mystery-9 (1 call(s))" in results["cost-total"].reason


def test_malformed_token_counts_and_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "chat gpt-4o",
        "startTimeUnixNano": str((AT - 60) * S),
        "endTimeUnixNano": str((AT - 59) * S),
        "attributes": [
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"stringValue": "lots"}},
        ],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]}
    document = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    path.write_text(json.dumps(document) + "\n")
    results, _ = evaluate([path], tmp_path)
    assert (
        results["cost-total"].verdict is Verdict.ERROR and "'lots' is not a token count" in results["cost-total"].reason
    )
    # a span without any attribute is fine; a line that is not JSON makes every check an error naming the line
    path.write_text(json.dumps(document).replace('"attributes"', '"_x"') + "\n{not json\n")
    results, _ = evaluate([path], tmp_path)
    assert all(r.verdict is Verdict.ERROR for r in results.values())
    assert f"{path}:2: not JSON" in results["chat-p95"].reason


def big_file(path: Path, spans: int, per_line: int = 500) -> None:
    """A large OTLP JSON lines file written directly (the SDK is too slow for millions of spans)."""
    with path.open("w") as handle:
        for start in range(0, spans, per_line):
            items = []
            for n in range(start, min(start + per_line, spans)):
                items.append(
                    '{"traceId":"%032x","spanId":"%016x","parentSpanId":"%016x","name":"chat gpt-4o","kind":3,'  # noqa: UP031
                    '"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[{"key":"gen_ai.request.model",'
                    '"value":{"stringValue":"gpt-4o"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"%d"}},'
                    '{"key":"gen_ai.usage.output_tokens","value":{"intValue":"7"}}],"status":{}}'
                    % (
                        1,
                        n + 2,
                        1,
                        (AT - 3600) * S + n * 1000,
                        (AT - 3600) * S + n * 1000 + (n % 1000) * 1_000_000,
                        n % 97,
                    )
                )
            handle.write(
                '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"agent"}}]},'
                '"scopeSpans":[{"spans":[' + ",".join(items) + "]}]}]}\n"
            )


PEAK_SCRIPT = """
import asyncio, resource, sys
from pathlib import Path
from collector.run import evaluate_gate
from collector.sources.traces.otlp_file import OtlpFileSource
from slo.loader import load_gates
from tests.test_traces_otlp import AT, GATE
from collector.sources.traces.pricing_file import load_pricing
table, _ = load_pricing(Path(sys.argv[2]))
run = asyncio.run(evaluate_gate(load_gates(GATE, "g")[0], at=AT, sources=[OtlpFileSource([Path(sys.argv[1])], table)]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, run.results[3].value, run.results[2].value)
"""


def peak_rss(path: Path, tmp_path: Path) -> tuple[int, float, float]:
    """Peak RSS (KiB) of a fresh process evaluating the gate over ``path``, and its two cost values."""
    import subprocess
    import sys

    pricing = tmp_path / "prices.yaml"
    pricing.write_text(yaml.safe_dump(PRICE_YAML))
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path), str(pricing)],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    peak, total, per_run = done.stdout.split()
    return int(peak), float(total), float(per_run)


def test_one_trace_of_100k_spans_streams_in_bounded_memory(tmp_path):
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    big_file(small, 10_000)
    big_file(large, 100_000)  # one trace (trace id 1) of 100k spans, ~40 MB
    peak_small, _, _ = peak_rss(small, tmp_path)
    peak_large, total, per_run = peak_rss(large, tmp_path)
    n = 100_000
    tokens_in = sum(k % 97 for k in range(n))
    expected = (tokens_in * 2.5 + n * 7 * 10.0) / 1e6
    assert total == pytest.approx(expected)  # service agent, all in the window
    assert per_run == pytest.approx(expected)  # one trace is one run
    # 10x the spans (and the file): the peak grows by little more than the p95's 8 bytes per span
    assert large.stat().st_size > 30 * 1024 * 1024
    assert peak_large < peak_small + 8 * 1024, (peak_small, peak_large)

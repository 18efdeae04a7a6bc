"""Tempo and Jaeger sources against their real API responses served by a real local HTTP server.

Expected numbers are computed here from the fixture JSON with plain json/numpy, never read back from
the code under test. Fixtures: ../shared/fixtures/traces/{tempo,jaeger,perses} (see their SOURCES.md).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import socket
from pathlib import Path

import pytest

from collector.run import evaluate_gate
from collector.sources.http import HttpConfig, HttpTransport
from collector.sources.traces.jaeger import JaegerSource
from collector.sources.traces.tempo import TempoSource, decode_search
from slo.loader import load_gates
from slo.pricing import litellm_table
from slo.results import Verdict
from tests.traces_backend import TraceBackend, fixed, slow

HOUR = 3600


@pytest.fixture(scope="module")
def traces_dir(contract_fixtures: Path) -> Path:
    return contract_fixtures / "traces"


def gate(*checks: str) -> str:
    body = "\n".join(f"  - {c}" for c in checks)
    return f"apiVersion: gatepack/v1\nkind: Gate\nid: t\ntitle: t\nchecks:\n{body}\n"


def run(source, text: str, at: float):
    loaded = load_gates(text, "t.yaml")[0]

    async def go():
        try:
            return await evaluate_gate(loaded, at=at, sources=[source])
        finally:
            await source.aclose()

    return asyncio.run(go())


def transport(url: str, **kw) -> HttpTransport:
    return HttpTransport(HttpConfig(url=url, backoff_base=0.01, backoff_max=0.02, **kw))


def series_sums(document: dict) -> dict[str, float]:
    """Independent reading of a Tempo query_range body: per-series sum of samples (omitted value = 0)."""
    out = {}
    for series in document["series"]:
        label = series["labels"][0]["value"]["stringValue"]
        out[label] = sum(sample.get("value", 0.0) for sample in series["samples"])
    return out


# --- Tempo -------------------------------------------------------------------------------------


def test_tempo_count_by_tool_from_traceql_metrics(traces_dir):
    body = (traces_dir / "tempo/generated-metrics-query_range.count_over_time.json").read_bytes()
    expected = series_sums(json.loads(body))
    check = (
        "{id: timeouts, kind: trace, window: 1h, by: [gen_ai.tool.name], aggregate: count, op: '<=', target: 2,"
        " filter: {attributes: {gen_ai.operation.name: execute_tool, error.type: timeout}}}"
    )
    at = 1767225600 + HOUR
    with TraceBackend({"/api/metrics/query_range": fixed(body)}) as backend:
        result = run(TempoSource(transport(backend.url)), gate(check), at).results[0]
        [(_path, params)] = backend.requests
    assert params["q"] == (
        '{ .gen_ai.operation.name = "execute_tool" && .error.type = "timeout" } | count_over_time() by (.gen_ai.tool.name)'
    )
    assert (params["start"], params["end"], params["step"]) == (str(at - HOUR), str(at), "3600s")
    worst = max(expected, key=expected.get)
    assert result.value == expected[worst]
    assert result.verdict is (Verdict.FAIL if expected[worst] > 2 else Verdict.PASS)
    assert result.details["groups"] == expected
    assert result.details["decided_by"] == {"gen_ai.tool.name": worst}
    assert result.queries[0].query == params["q"] and len(result.queries[0].response_sha256) == 64


def test_tempo_splits_long_windows_and_records_coverage(traces_dir):
    body = (traces_dir / "tempo/generated-metrics-query_range.count_over_time.json").read_bytes()
    total = sum(series_sums(json.loads(body)).values())
    check = "{id: all, kind: trace, window: 60h, aggregate: count, op: '>=', target: 1}"
    at = 1767225600
    with TraceBackend({"/api/metrics/query_range": fixed(body)}) as backend:
        result = run(TempoSource(transport(backend.url)), gate(check), at).results[0]
        ranges = [(int(p["start"]), int(p["end"])) for _, p in backend.requests]
    # 60h over a 24h cap: 24h + 24h + 12h, contiguous, covering exactly the window
    assert sorted(ranges) == [(at - 60 * HOUR, at - 36 * HOUR), (at - 36 * HOUR, at - 12 * HOUR), (at - 12 * HOUR, at)]
    assert result.value == 3 * total  # each chunk answered with the same body: counts add up
    assert len(result.details["coverage"]) == 3 and result.details["max_range_s"] == 24 * HOUR


def test_tempo_p95_from_quantile_over_time(traces_dir):
    instant = (traces_dir / "tempo/generated-metrics-query.quantile_over_time.json").read_bytes()
    counts = (traces_dir / "tempo/generated-metrics-query_range.count_over_time.json").read_bytes()
    p95 = json.loads(instant)["series"][0]["value"]  # seconds
    check = "{id: chat-p95, kind: trace, window: 24h, filter: {service: agent, span_kind: client, span_name_regex: '^chat '}, aggregate: p95, op: '<=', target: 250, unit: ms}"
    routes = {"/api/metrics/query": fixed(instant), "/api/metrics/query_range": fixed(counts)}
    with TraceBackend(routes) as backend:
        result = run(TempoSource(transport(backend.url)), gate(check), 1767225600 + HOUR).results[0]
        sent = {p["q"] for _, p in backend.requests}
    assert (
        '{ resource.service.name = "agent" && name =~ ".*(?:^chat ).*" && kind = client } | quantile_over_time(duration, 0.95)'
        in sent
    )
    assert result.value == pytest.approx(p95 * 1000)
    assert result.unit == "ms"
    assert result.verdict is (Verdict.PASS if p95 * 1000 <= 250 else Verdict.FAIL)


def test_tempo_partial_result_never_passes_silently(traces_dir):
    body = (traces_dir / "tempo/generated-metrics-query_range.partial.json").read_bytes()
    message = json.loads(body)["message"]
    checks = [
        "{id: lax, kind: trace, window: 1h, aggregate: count, op: '<=', target: 1000}",
        "{id: strict, kind: trace, window: 1h, aggregate: count, op: '<=', target: 1000, require_complete: true}",
    ]
    with TraceBackend({"/api/metrics/query_range": fixed(body)}) as backend:
        lax, strict = run(TempoSource(transport(backend.url)), gate(*checks), 1767225600 + HOUR).results
    assert lax.verdict is Verdict.WARN and lax.details["complete"] is False
    assert message[:40] in lax.reason
    assert strict.verdict is Verdict.ERROR and "requires completeness" in strict.reason


def test_tempo_cost_from_search_with_select(traces_dir):
    search = json.loads((traces_dir / "perses/tempo-search.vparquet4.json").read_text())
    priced = copy.deepcopy(search)
    usage = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}
    for trace in priced["traces"]:
        for span_set in trace["spanSets"]:
            for span in span_set["spans"]:
                span["attributes"] = span.get("attributes", []) + [
                    {"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": str(v)}}
                    for k, v in usage.items()
                ]
    unique = {(t["traceID"], s["spanID"]) for t in priced["traces"] for ss in t["spanSets"] for s in ss["spans"]}
    prices = json.loads((traces_dir / "genai-pricing/litellm.model_prices.subset.json").read_text())["gpt-4o"]
    expected = len(unique) * (1000 * prices["input_cost_per_token"] + 100 * prices["output_cost_per_token"])
    starts = [int(t["startTimeUnixNano"]) for t in priced["traces"]]
    at = max(starts) / 1e9 + HOUR
    table = litellm_table(json.loads((traces_dir / "genai-pricing/litellm.model_prices.subset.json").read_text()), "x")
    check = "{id: cost, kind: ai_cost, window: 24h, aggregate: sum, op: '<=', target: 1, unit: USD}"
    with TraceBackend({"/api/search": fixed(json.dumps(priced).encode())}) as backend:
        result = run(TempoSource(transport(backend.url), table), gate(check), at).results[0]
        [(_, params)] = backend.requests
    assert "select(span.gen_ai.response.model, span.gen_ai.request.model" in params["q"]
    assert params["limit"] == "1000" and params["spss"] == "1000"
    assert result.value == pytest.approx(expected)
    assert result.details["cost_source"] == "traces (tempo search)"


@pytest.mark.parametrize("name", ["tempo-search.vparquet4.json", "tempo-search.mixed-vparquet3-4.json"])
def test_tempo_search_decoding_matches_the_fixture(traces_dir, name):
    document = json.loads((traces_dir / "perses" / name).read_text())
    found = decode_search(document)
    expected = set()
    for trace in document["traces"]:
        sets = trace.get("spanSets") or [trace["spanSet"]]
        expected |= {(trace["traceID"], s["spanID"]) for ss in sets for s in ss["spans"]}
    assert {(s.trace_id, s.span_id) for s in found.spans} == expected
    assert found.traces == len(document["traces"])
    durations = {s.span_id: s.end_ns - s.start_ns for s in found.spans}
    for trace in document["traces"]:
        for ss in trace.get("spanSets") or [trace["spanSet"]]:
            for s in ss["spans"]:
                assert durations[s["spanID"]] == int(s.get("durationNanos", 0))  # omitted zero is 0


def test_tempo_trace_by_id_v2_then_v1(traces_dir):
    v2 = (traces_dir / "perses/tempo-v2-traces-by-id.small.json").read_bytes()
    v1 = (traces_dir / "tempo/tempopb.trace-v1-batches.json").read_bytes()
    doc2 = json.loads(v2)
    raw = [s for rs in doc2["trace"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]

    async def fetch(routes, trace_id):
        with TraceBackend(routes) as backend:
            source = TempoSource(transport(backend.url))
            try:
                return await source.trace(trace_id), backend.paths()
            finally:
                await source.aclose()

    (outcome, spans), paths = asyncio.run(fetch({"/api/v2/traces/abc": fixed(v2)}, "abc"))
    assert paths == ["/api/v2/traces/abc"] and outcome.status == "ok"
    assert [s.span_id for s in spans] == [base64.b64decode(s["spanId"]).hex() for s in raw]
    assert [s.kind for s in spans] == [{"SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}.get(s["kind"], 1) for s in raw]
    (outcome, spans), paths = asyncio.run(fetch({"/api/traces/abc": fixed(v1)}, "abc"))
    assert paths == ["/api/v2/traces/abc", "/api/traces/abc"]
    batches = json.loads(v1)["batches"]
    assert [s.trace_id for s in spans] == [
        s["traceId"].lower() for b in batches for ss in b["scopeSpans"] for s in ss["spans"]
    ]
    (outcome, spans), _ = asyncio.run(fetch({}, "missing"))
    assert outcome.status == "no_data" and spans == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("routes", "fault"),
    [
        (None, "connect"),
        ({"/api/metrics/query_range": fixed(b'{"error":"boom"}', 503)}, "http"),
        ({"/api/metrics/query_range": fixed(b"<html>proxy error</html>")}, "garbage"),
        ({"/api/metrics/query_range": fixed(b'{"series":[{"samples":[{"value":"x"}]}]}')}, "bad_data"),
        ({"/api/metrics/query_range": slow(2.0, b"{}")}, "timeout"),
    ],
    ids=["down", "5xx", "garbage", "malformed", "slow"],
)
def test_tempo_faults_are_check_errors(routes, fault):
    check = "{id: c, kind: trace, window: 1h, aggregate: count, op: '>=', target: 1}"
    if routes is None:
        source = TempoSource(transport(f"http://127.0.0.1:{free_port()}", max_retries=1))
        result = run(source, gate(check), 1767225600).results[0]
    else:
        with TraceBackend(routes) as backend:
            result = run(TempoSource(transport(backend.url, timeout=0.5)), gate(check), 1767225600).results[0]
    assert result.verdict is Verdict.ERROR
    assert result.queries[0].fault == fault, result.reason


# --- Jaeger --------------------------------------------------------------------------------------


def otlp_spans(document: dict) -> list[dict]:
    root = document.get("result", document)
    return [s for rs in root["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def test_jaeger_v3_lists_services_and_filters_locally(traces_dir):
    services = (traces_dir / "jaeger/api-v3.GetServices.json").read_bytes()
    found = (traces_dir / "jaeger/api-v3.FindTraces.json").read_bytes()
    spans = otlp_spans(json.loads(found))
    errors = sum(1 for s in spans if s.get("status", {}).get("code") == 2)
    checks = [
        "{id: n, kind: trace, window: 24h, aggregate: count, op: '>=', target: 1}",
        "{id: err, kind: trace, window: 24h, aggregate: error_ratio, op: '<=', target: 0.5}",
        "{id: srv, kind: trace, window: 24h, filter: {span_kind: server}, aggregate: count, op: '>=', target: 0}",
    ]
    routes = {"/api/v3/services": fixed(services), "/api/v3/traces": fixed(found)}
    with TraceBackend(routes) as backend:
        source = JaegerSource(transport(backend.url))
        count, ratio, servers = run(source, gate(*checks), HOUR).results  # the snapshot's spans start at 0
        asked = [p for path, p in backend.requests if path == "/api/v3/traces"]
    [service] = json.loads(services)["services"]
    assert {p["query.service_name"] for p in asked} == {service}
    assert all(p["query.start_time_min"] == "1969-12-31T01:00:00.000000000Z" for p in asked)
    assert count.value == len(spans)
    assert ratio.value == errors / len(spans)
    assert servers.value == sum(1 for s in spans if s.get("kind") == 2)
    assert source.backends()[0].kind == "jaeger-v3"


def test_jaeger_v3_404_is_no_data(traces_dir):
    services = (traces_dir / "jaeger/api-v3.GetServices.json").read_bytes()
    routes = {
        "/api/v3/services": fixed(services),
        "/api/v3/traces": fixed(b'{"error":{"httpCode":404,"message":"trace not found"}}', 404),
    }
    check = "{id: err, kind: trace, window: 24h, filter: {service: foo}, aggregate: error_ratio, op: '<=', target: 0.5}"
    with TraceBackend(routes) as backend:
        result = run(JaegerSource(transport(backend.url)), gate(check), 1767225600).results[0]
    assert result.verdict is Verdict.NO_DATA
    assert result.queries[-1].status == "no_data" and result.queries[-1].attempts == 1


def v1_expectations(document: dict, service: str) -> tuple[int, int]:
    spans = [s for t in document["data"] for s in t["spans"]]
    processes = {pid: p["serviceName"] for t in document["data"] for pid, p in t["processes"].items()}
    mine = [s for s in spans if processes[s["processID"]] == service]
    tags = [{t["key"]: t["value"] for t in s["tags"]} for s in mine]
    return len(mine), sum(1 for t in tags if t.get("error") is True or t.get("otel.status_code") == "ERROR")


def test_jaeger_falls_back_to_v1(traces_dir):
    body = (traces_dir / "perses/jaeger-v1.trace.authenticate_error.json").read_bytes()
    document = json.loads(body)
    first = min(s["startTime"] for t in document["data"] for s in t["spans"])
    total, errors = v1_expectations(document, "shop-backend")
    check = (
        "{id: err, kind: trace, window: 1h, filter: {service: shop-backend}, aggregate: error_ratio,"
        " op: '<=', target: 0.1}"
    )
    with TraceBackend({"/api/traces": fixed(body)}) as backend:
        source = JaegerSource(transport(backend.url))
        result = run(source, gate(check), first / 1e6 + 60).results[0]
        paths = backend.paths()
        params = backend.requests[-1][1]
    assert paths == ["/api/v3/services", "/api/services", "/api/traces"]
    assert params["service"] == "shop-backend" and int(params["end"]) - int(params["start"]) == HOUR * 1_000_000
    assert result.value == pytest.approx(errors / total)
    assert result.verdict is Verdict.FAIL
    assert source.backends()[0].kind == "jaeger-v1"


def test_jaeger_search_depth_reached_is_partial(traces_dir):
    body = (traces_dir / "perses/jaeger-v1.trace.authenticate_error.json").read_bytes()
    first = min(s["startTime"] for t in json.loads(body)["data"] for s in t["spans"])
    check = "{id: n, kind: trace, window: 1h, filter: {service: shop-backend}, aggregate: count, op: '>=', target: 1}"
    with TraceBackend({"/api/traces": fixed(body)}) as backend:
        result = run(JaegerSource(transport(backend.url), search_depth=1), gate(check), first / 1e6 + 60).results[0]
    assert result.verdict is Verdict.WARN and result.details["complete"] is False
    assert "search limit" in result.reason

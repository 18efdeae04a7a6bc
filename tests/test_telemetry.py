"""gatepack's own spans: a real ``collect`` run against a real (misbehaving) HTTP backend, and a real uvicorn
serving the app in this process, both recorded by the SDK's InMemorySpanExporter.

The expected tree is derived from the gate the test writes (one check span per check, one query span per
query, attempts from the backend's own hit counter), never from the spans themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector import telemetry
from collector.run import CollectOptions, collect
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate
from collector.testing.promserver import free_port
from slo.loader import load_gates
from slo.results import CheckResult, QueryOutcome
from tests.faulty_backend import FaultyBackend

SECRET = "tr4ce-s3cret-bearer-token"
CHECKS = {"ok": "pass", "flaky": "pass", "bad": "error"}  # what FaultyBackend answers each query with
GATE = "apiVersion: gatepack/v1\nkind: Gate\nid: traced\ntitle: Traced\nchecks:\n" + "".join(
    f"  - {{id: {name}, kind: threshold, query: 'sum({name}_metric)', op: '>', target: 0}}\n" for name in CHECKS
)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_provider(provider)
    try:
        yield exporter
    finally:
        telemetry.use_provider(None)
        provider.shutdown()


def children(all_spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in all_spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_collect_span_tree(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    gate = load_gates(GATE)[0]
    with FaultyBackend() as backend:
        config = PrometheusConfig(url=backend.url, bearer_token=SECRET, timeout=2, max_retries=3, backoff_base=0.01)
        source = PrometheusSource(PrometheusClient(config))  # type: ignore[arg-type]
        options = CollectOptions(at=1767225600, sources=[source], out_dir=tmp_path)
        collect([LoadedGate(gate, "traced.yaml", "0" * 64)], options, env={})
        hits = dict(backend.hits)
    finished = spans.get_finished_spans()
    roots = [s for s in finished if s.parent is None]
    assert [s.name for s in roots] == ["gatepack.collect"]
    (gate_span,) = children(finished, roots[0])
    assert gate_span.name == "gate" and gate_span.attributes["gatepack.gate"] == "traced"
    assert gate_span.attributes["gatepack.gate.verdict"] == "fail"  # a required check in error fails the gate
    checks = {s.attributes["gatepack.check"]: s for s in children(finished, gate_span)}
    assert set(checks) == set(CHECKS)
    for name, verdict in CHECKS.items():
        span = checks[name]
        assert span.name == "check" and span.attributes["gatepack.check.verdict"] == verdict
        (query,) = children(finished, span)
        assert query.name == "query"
        assert query.attributes["gatepack.query.text"] == f"sum({name}_metric)"
        assert query.attributes["gatepack.query.attempts"] == hits[f"sum({name}_metric)"]
        assert query.start_time >= gate_span.start_time and query.end_time <= gate_span.end_time
    assert hits["sum(flaky_metric)"] == 3  # the backend's own count: two 503s, then the answer
    bad_query = children(finished, checks["bad"])[0]
    assert "gatepack.query.fault" in bad_query.attributes
    assert "gatepack.query.fault" not in children(finished, checks["ok"])[0].attributes
    every_value = " ".join(str(v) for s in finished for v in (s.attributes or {}).values())
    assert SECRET not in every_value


def test_server_request_spans(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    import uvicorn

    from collector.server import ServerConfig, create_app
    from collector.store import open_store

    store = open_store(str(tmp_path / "spans.db"))
    app = create_app(ServerConfig(store=store), span_hook=telemetry.request_span)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v1/packets", params={"gate": "g"}, timeout=5).status_code == 200
        assert httpx.get(f"{base}/api/v1/packets/0123456789abcdef", timeout=5).status_code == 404
        assert (
            httpx.post(
                f"{base}/api/v1/packets", content=b"{}", headers={"Authorization": f"Bearer {SECRET}"}, timeout=5
            ).status_code
            == 403
        )
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.close()
    served = [s for s in spans.get_finished_spans() if s.attributes.get("http.route")]
    assert [(s.name, s.attributes["http.response.status_code"]) for s in served] == [
        ("GET /api/v1/packets", 200),
        ("GET /api/v1/packets/{digest}", 404),
        ("POST /api/v1/packets", 403),
    ]
    every_value = " ".join(f"{k}={v}" for s in spans.get_finished_spans() for k, v in (s.attributes or {}).items())
    assert SECRET not in every_value and "0123456789abcdef" not in every_value  # the template, not the raw path


def test_no_exporter_without_an_endpoint() -> None:
    assert telemetry.setup_tracing("gatepack", {}) is None


def _counting_tracer(base: trace.Tracer, started: list[str]) -> trace.Tracer:
    class Counting(trace.Tracer):
        def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
            started.append(name)
            return base.start_span(name, *args, **kwargs)

        def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
            return base.start_as_current_span(name, *args, **kwargs)

    return Counting()


def _result(queries: int) -> CheckResult:
    outcomes = [QueryOutcome(role="total", window=f"{n + 1}h", query=f"sum(m{n})", status="ok") for n in range(queries)]
    return CheckResult(
        id="c",
        title="c",
        kind="slo",
        required=True,
        on_no_data="fail",
        verdict="pass",
        effect="pass",
        reason="r",
        queries=outcomes,
    )


def test_tracing_off_builds_no_check_or_query_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a provider the no-op tracer's spans are dropped anyway: a large gate must not build 17 000 of them."""
    started: list[str] = []
    monkeypatch.setattr(telemetry, "tracer", lambda: _counting_tracer(trace.NoOpTracer(), started))
    gate = telemetry.GateSpan("g", 1)
    gate.check(_result(16))
    gate.end("pass")
    assert started == ["gate"]


def test_a_sampled_out_gate_still_hands_its_checks_to_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the no-op tracer is skipped: an SDK provider decides about every span itself (here: drops them)."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    started: list[str] = []
    provider = TracerProvider(sampler=ALWAYS_OFF)
    monkeypatch.setattr(telemetry, "tracer", lambda: _counting_tracer(provider.get_tracer("t"), started))
    gate = telemetry.GateSpan("g", 1)
    gate.check(_result(2))
    gate.end("pass")
    assert started == ["gate", "check", "query", "query"]

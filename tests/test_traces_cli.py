"""``gatepack collect`` with a Prometheus check and trace checks in one sealed packet (real Prometheus)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests import groundtruth as truth
from tests.test_traces_otlp import PRICE_YAML, generate

pytestmark = pytest.mark.integration

SPEC = """
apiVersion: gatepack/v1
kind: Gate
id: mixed
title: Prometheus and traces
checks:
  - {id: traffic, kind: threshold, query: 'sum(http_requests_total)', op: ">", target: 0}
  - {id: chat-p95, kind: trace, window: 24h, filter: {service: agent, span_kind: client, span_name_regex: "^chat "}, aggregate: p95, op: "<=", target: 60, unit: s}
  - {id: cost-total, kind: ai_cost, window: 24h, filter: {service: agent}, aggregate: sum, op: "<=", target: 100, unit: USD}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def test_one_packet_holds_prometheus_and_trace_checks(prometheus, tmp_path):
    spans, prices, spec = tmp_path / "spans.jsonl.gz", tmp_path / "prices.yaml", tmp_path / "gate.yaml"
    generate(spans, runs=40, compress=True)
    prices.write_text(yaml.safe_dump(PRICE_YAML))
    spec.write_text(SPEC)
    args = ["collect", str(spec), "-p", prometheus.url, "--at", "2026-01-01T00:00:00Z", "--out", str(tmp_path / "ev")]
    result = cli(*args, "--traces", f"otlp:{spans}", "--pricing", str(prices), "--format", "json")
    assert result.returncode == 0, result.stderr
    packet = json.loads(result.stdout)
    assert {c["id"]: c["kind"] for c in packet["checks"]} == {
        "traffic": "threshold",
        "chat-p95": "trace",
        "cost-total": "ai_cost",
    }
    assert all(c["verdict"] == "pass" for c in packet["checks"]), packet["checks"]
    assert [b["kind"] for b in packet["backends"]] == ["prometheus"]
    formats = {i["role"]: i["format"] for i in packet["inputs"]}
    assert (formats["traces"], formats["pricing"]) == ("otlp-json-lines+gzip", "gatepack")
    [written] = list((tmp_path / "ev").glob("*.json"))
    assert cli("verify", str(written)).returncode == 0


def test_bad_trace_options_exit_2(tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(SPEC)
    for extra, message in [
        (["--otlp", str(tmp_path / "missing.jsonl")], "cannot read"),
        (["--traces", "zipkin:http://x"], "use otlp:FILE"),
        (["--tempo", "http://a", "--jaeger", "http://b"], "give one trace source"),
        (["--otlp", str(spec), "--pricing", str(spec)], "no model with token prices"),
    ]:
        result = cli("collect", str(spec), *extra, "--out", str(tmp_path / "ev"))
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr

"""What users read stays as reviewed: a packet from a fixed run, its Markdown and its JUnit.

The run is real (the foundation world on a real Prometheus, evaluated at a fixed instant); only
the fields that change from run to run are pinned (start/finish times, Python version, the local
server's port, the spec's temp path) and the packet is re-sealed, so the digest in the golden file is
the digest of exactly what it shows. ``pytest --update-golden`` rewrites the files after a reviewed change.
"""

from __future__ import annotations

import json

import pytest

from collector.report.junit import junit_xml
from collector.report.table import markdown
from collector.run import CollectOptions, collect
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate
from slo.evidence import EvidencePacket, seal, to_canonical_json, verify_bytes
from slo.loader import load_gates
from tests import groundtruth as truth

pytestmark = pytest.mark.integration

GATE = """
apiVersion: gatepack/v1
kind: Gate
id: golden
title: Golden gate
owner: release-team
vars: {service: checkout}
checks:
  - id: availability
    kind: slo
    bad: sum(increase(http_requests_total{service="{{ service }}",code="500"}[{{ window }}]))
    total: sum(increase(http_requests_total{service="{{ service }}"}[{{ window }}]))
    objective: 99.9
    period: 30d
  - id: request-rate
    kind: threshold
    query: sum(rate(http_requests_total{service="{{ service }}"}[5m]))
    op: ">"
    target: 1
    unit: req/s
  - id: typo
    kind: threshold
    query: sum(rate(http_requests_total{service="chekout"}[5m]))
    op: "<"
    target: 1
    required: false
"""
PINNED_URL = "http://prometheus.invalid:9090"


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def pinned(packet: EvidencePacket, url: str) -> EvidencePacket:
    text = to_canonical_json(packet).decode().replace(url, PINNED_URL)
    document = json.loads(text)
    document["evaluation"]["started_at"] = document["evaluation"]["finished_at"] = document["evaluation"]["time"]
    document["collector"]["python"] = None
    document.pop("digest")
    return seal(EvidencePacket.model_validate(document))


def test_packet_markdown_and_junit_match_the_reviewed_output(prometheus, tmp_path, golden):
    gates = [LoadedGate(load_gates(GATE, "gates/golden.yaml")[0], "gates/golden.yaml", "0" * 64)]
    source = PrometheusSource(PrometheusClient(PrometheusConfig(url=prometheus.url)))
    options = CollectOptions(at=truth.END, sources=[source], out_dir=None, commit="0123abc", environment="staging")
    outcome = collect(gates, options, env={})
    packet = pinned(outcome.packets[0], prometheus.url)
    data = to_canonical_json(packet)
    assert verify_bytes(data).ok
    golden("packet.json", json.dumps(json.loads(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    golden("packet.md", markdown([packet]))
    golden("packet.junit.xml", junit_xml([packet]).decode("utf-8"))

"""Packet size and sealing: a 2.0.0 packet of many grouped SLOs stays under 3 KB per SLO and loses nothing.

``seal`` encodes checks one at a time to keep peak memory down; any drift from the whole-tree form
(:func:`slo.evidence.packet_document`) would make every packet fail ``gatepack verify``, so the two are
compared for both schema versions. The size test runs a real gate of ratio SLOs (one per service, the
default eight burn-rate windows, so grouped queries) on a real Prometheus and measures the bytes written;
the expected number of table entries comes from the grouping rule (at most ``GATEPACK_GROUP_MAX`` label values per
query; the test sets 100, so each query shape needs two groups), and the
SLIs from the generator's own rates.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from collector.run import CollectOptions, collect
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate
from collector.testing.openmetrics import Family, Series
from slo.evidence import EvidencePacket, canonical_bytes, packet_document, seal, to_canonical_json, verify_bytes
from slo.loader import load_gates
from slo.wire import checks_of, outcomes_of

GOLDEN = Path(__file__).parent / "golden" / "packet.json"
V1 = Path(__file__).parent / "fixtures" / "packets-1.0.0" / "golden-packet.json"

SERVICES = 150  # two groups per query shape at GROUP_MAX values each: one of 100 values, one of 50
GROUP_MAX = 100
WINDOWS = 8  # 5m 30m 1h 2h 6h 1d 3d 30d: the default conditions of a 30-day SLO
END = 1_767_225_600  # 2026-01-01T00:00:00Z
LIMIT_PER_SLO = 3000


def _unsealed(path: Path, copies: int) -> EvidencePacket:
    document = json.loads(path.read_text(encoding="utf-8"))
    document.pop("digest")
    packet = EvidencePacket.model_validate(document)
    checks = [c.model_copy(update={"id": f"{c.id}-{n}"}) for n in range(copies) for c in packet.checks]
    return packet.model_copy(update={"checks": checks})


@pytest.mark.parametrize("source", [GOLDEN, V1], ids=["2.0.0", "1.0.0"])
@pytest.mark.parametrize("copies", [0, 1, 50])
def test_sealed_bytes_equal_the_whole_tree_canonical_form(source: Path, copies: int) -> None:
    sealed = seal(_unsealed(source, copies))
    data = to_canonical_json(sealed)
    assert data == canonical_bytes(packet_document(sealed))
    body = {k: v for k, v in json.loads(data).items() if k != "digest"}
    assert sealed.digest is not None
    assert sealed.digest.value == hashlib.sha256(canonical_bytes(body)).hexdigest()
    assert verify_bytes(data).ok
    assert EvidencePacket.model_validate(json.loads(data)).checks == sealed.checks  # read back: nothing lost


def rates(index: int) -> tuple[float, float]:
    """Requests per second and bad fraction of service ``index`` (constant, so any window agrees)."""
    return 2.0 + index % 13, 0.0002 * (1 + index % 9)


def families() -> list[Family]:
    """``size_requests_total{service, outcome}``: hourly samples over 31 days, per minute for the last 8 h."""
    sparse = np.arange(END - 31 * 86400, END - 8 * 3600, 3600, dtype=np.float64)
    dense = np.arange(END - 8 * 3600, END + 1, 60, dtype=np.float64)
    stamps = np.concatenate([sparse, dense])
    elapsed = stamps - stamps[0]
    family = Family("size_requests", "counter", "requests by outcome")
    for index in range(SERVICES):
        per_second, bad = rates(index)
        for outcome, share in (("good", 1.0 - bad), ("bad", bad)):
            labels = {"service": f"svc-{index:04d}", "outcome": outcome}
            family.series.append(
                Series("size_requests_total", labels, stamps, np.round(elapsed * per_second * share, 3))
            )
    return [family]


def gate_text() -> str:
    lines = ["apiVersion: gatepack/v1", "kind: Gate", "id: size", "title: Packet size", "checks:"]
    for index in range(SERVICES):
        service = f"svc-{index:04d}"
        lines += [
            f"  - id: {service}-availability",
            "    kind: slo",
            f'    good: \'sum(increase(size_requests_total{{service="{service}",outcome="good"}}[{{{{ window }}}}]))\'',
            f"    total: 'sum(increase(size_requests_total{{service=\"{service}\"}}[{{{{ window }}}}]))'",
            "    objective: 99.9",
            "    period: 30d",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.integration
def test_a_packet_of_grouped_slos_is_under_3_kb_per_slo_and_loses_nothing(prometheus_pool, monkeypatch) -> None:
    monkeypatch.setenv("GATEPACK_GROUP_MAX", str(GROUP_MAX))
    prometheus = prometheus_pool.get("packet-size", families)
    gates = [LoadedGate(load_gates(gate_text(), "gates/size.yaml")[0], "gates/size.yaml", "0" * 64)]
    source = PrometheusSource(PrometheusClient(PrometheusConfig(url=prometheus.url)))
    outcome = collect(gates, CollectOptions(at=END, sources=[source], out_dir=None), env={})
    [packet] = outcome.packets
    data = to_canonical_json(packet)
    assert verify_bytes(data).ok
    document = json.loads(data)
    assert document["schema_version"] == "2.0.0"

    per_slo = len(data) / SERVICES
    assert per_slo <= LIMIT_PER_SLO, f"{per_slo:.0f} bytes per SLO"
    # each grouped query once: per query shape (good, total) and window, one entry per GROUP_MAX services
    assert len(document["queries"]) == 2 * WINDOWS * math.ceil(SERVICES / GROUP_MAX)
    # the same checks as 1.0.0 wrote them: several times larger, and exactly the same when read back
    old = seal(packet.model_copy(update={"schema_version": "1.0.0", "digest": None}))
    old_data = to_canonical_json(old)
    assert verify_bytes(old_data).ok and len(old_data) > 4 * len(data)
    assert EvidencePacket.model_validate(document).checks == packet.checks
    assert EvidencePacket.model_validate(json.loads(old_data)).checks == packet.checks

    # what a reviewer reads off each check: its 30-day SLI from its own outcomes, as the generator made it
    for index, check in enumerate(checks_of(document)):
        values = {q["role"]: q["value"] for q in check["queries"] if q["window"] == "30d"}
        assert values["good"] / values["total"] == pytest.approx(1 - rates(index)[1], rel=1e-9)
        assert outcomes_of(document["checks"][index], document) == check["queries"]
        assert check["slo"]["windows"][-1]["total_events"] == values["total"]
        assert {a["long_burn_rate"] for a in check["slo"]["alerts"]} <= {
            w["burn_rate"] for w in check["slo"]["windows"]
        }

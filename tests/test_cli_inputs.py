"""Inputs users already have: k6 v2's new machine-readable summary; the ingest progress on a terminal.

The expected numbers are read straight from the fixture file's JSON (k6's own aggregates), never from
what gatepack printed.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from collector.cli.ingest import load_inputs
from collector.cli.reading import reading_bar
from slo.evidence import EvidencePacket

K6V2 = "loadtest/k6/generated-v2.2.0-14-g87883075c"
GATE = """\
apiVersion: gatepack/v1
kind: Gate
id: k6v2
title: k6 v2 summary
checks:
  - {id: p95, kind: loadtest, metric: latency, threshold: "p(95)<500"}
  - {id: slow-p90, kind: loadtest, metric: latency, label: slow, threshold: "p(90)<100"}
  - {id: errors, kind: loadtest, metric: error_rate, threshold: "rate<0.01"}
  - {id: volume, kind: loadtest, metric: requests, threshold: "count>100"}
  - {id: rps, kind: loadtest, metric: throughput, op: ">=", target: 5}
  - {id: checks, kind: loadtest, metric: checks, threshold: "rate>0.9"}
"""


@pytest.mark.parametrize(
    "name", ["summary_export_new_machine_readable.json", "handle_summary_new_machine_readable.json"]
)
def test_k6_v2_new_machine_readable_summary_is_read(gatepack, contract_fixtures, tmp_path, name):
    path = contract_fixtures / K6V2 / name
    document = json.loads(path.read_text())
    metrics = {m["name"]: m["values"] for m in document["results"]["metrics"]}
    checks = {m["name"]: m["values"] for m in document["results"]["checks"]["metrics"]}
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE)
    ran = gatepack("ingest", path, "--spec", spec, "--output", "json", "-o", tmp_path / "ev")
    assert ran.code == 1, ran  # http_req_failed 8 % > 1 % and slow p90 > 100 ms, as k6 itself reported (exit 99)
    packet = EvidencePacket.model_validate_json(ran.out)
    by_id = {c.id: c for c in packet.checks}
    assert by_id["p95"].value == pytest.approx(metrics["http_req_duration"]["p95"])
    assert by_id["slow-p90"].value == pytest.approx(metrics["http_req_duration{name:slow}"]["p90"])
    assert by_id["slow-p90"].verdict.value == "fail"
    failed = metrics["http_req_failed"]
    assert by_id["errors"].value == pytest.approx(failed["matches"] / failed["total"])
    assert by_id["volume"].value == metrics["http_reqs"]["count"]
    assert by_id["rps"].value == pytest.approx(metrics["http_reqs"]["count"] / document["config"]["duration"])
    assert by_id["checks"].value == pytest.approx(checks["checks_succeeded"]["rate"])
    assert [i.format for i in packet.inputs] == ["k6-summary-v2"]


def test_a_k6_v2_summary_without_p99_says_so(gatepack, contract_fixtures, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE.replace('threshold: "p(95)<500"', 'threshold: "p(99)<500"'))
    ran = gatepack("ingest", contract_fixtures / K6V2 / "summary_export_new_machine_readable.json", "--spec", spec,
                   "--output", "json", "-o", tmp_path / "ev")  # fmt: skip
    p99 = next(c for c in json.loads(ran.out)["checks"] if c["id"] == "p95")
    assert p99["verdict"] in {"no_data", "error"} and "p(99)" in p99["reason"]


def test_reading_shows_a_fraction_done_bar_on_a_terminal_and_nothing_in_a_pipe(contract_fixtures):
    ndjson = contract_fixtures / "loadtest/k6/generated-v1.1.0/metrics.ndjson"
    size = ndjson.stat().st_size
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with reading_bar(console, [ndjson], enabled=True) as progress:
        assert progress is not None
        load_inputs([ndjson], progress=progress)
        console.file.flush()
    shown = screen.getvalue()
    assert f"reading {ndjson.name}" in shown
    assert f"{size / 1e6:.1f}/{size / 1e6:.1f} MB" in shown  # bytes read of the total, at the end all
    piped = io.StringIO()
    with reading_bar(Console(file=piped), [ndjson], enabled=False) as progress:
        assert progress is None
        load_inputs([ndjson], progress=progress)
    assert piped.getvalue() == ""

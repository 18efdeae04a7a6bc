"""Golden files for what users read: the catalog listing, one gate, the ingest summary, verdict rows.

Regenerate with ``pytest --update-golden`` and review the diff. Digests and times vary per run and are
not part of these files; everything else is deterministic.
"""

from __future__ import annotations

import re

from rich.console import Console

from collector.cli.ingest import load_inputs
from collector.report.loadtest import plain_table, rich_table

SPEC = """\
apiVersion: gatepack/v1
kind: Gate
id: perf-with-a-long-gate-id-that-must-never-be-cut
title: Perf
checks:
  - {id: p95-latency-of-the-whole-api-surface, kind: loadtest, metric: latency, threshold: "p(95)<100"}
  - {id: errors, kind: loadtest, metric: error_rate, threshold: "rate<0.01"}
"""


def terminal(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_catalog_listing_piped(gatepack, golden):
    golden("gates-piped.txt", gatepack("gates").out)


def test_one_gate_piped(gatepack, golden):
    golden("gates-04-piped.txt", gatepack("gates", "04-core-workflow").out)


def test_ingest_summary(contract_fixtures, golden):
    data = load_inputs([contract_fixtures / "loadtest/hey/generated-0.1.4/hey.csv"])
    golden("ingest-summary-80.txt", terminal(rich_table(data, 80), 80))
    golden("ingest-summary-160.txt", terminal(rich_table(data, 160), 160))
    golden("ingest-summary-piped.txt", plain_table(data))


def test_ingest_verdict_rows_piped(gatepack, contract_fixtures, tmp_path, golden):
    spec = tmp_path / "perf.yaml"
    spec.write_text(SPEC)
    ran = gatepack("ingest", contract_fixtures / "loadtest/hey/generated-0.1.4/hey.csv", "--spec", spec,
                   "-o", tmp_path / "ev")  # fmt: skip
    golden("ingest-verdicts-piped.txt", re.sub(r"sha256:[0-9a-f]{64}", "sha256:<digest>", ran.out))

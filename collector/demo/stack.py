"""What the demo adds for Grafana: the catalog's dashboards, its generated rules and verdict metrics.

The demo world is the gate catalog, so its dashboards and rules are exactly what ``gatepack dashboards``
and ``gatepack rules`` write for the catalog; they are generated in-process (no extra subprocess) to
keep ``make demo`` fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from collector.catalog import catalog_gates
from collector.sinks.files import write_atomic
from collector.sinks.metrics import write_textfile
from slo.evidence import EvidencePacket
from slo.generate.dashboards import dashboard_files
from slo.generate.rules import RuleOptions, dump_yaml, rules_document

RULES_FILE = "gatepack-rules.yml"


def write_dashboards(out_dir: Path) -> list[Path]:
    """Every catalog gate's dashboard plus the gate board, as ``gatepack dashboards -o out_dir`` writes them."""
    files = dashboard_files([loaded.gate for loaded in catalog_gates([])])
    written = []
    for name, data in sorted(files.items()):
        write_atomic(out_dir / name, data)
        written.append(out_dir / name)
    return written


def rules_text() -> str:
    """The catalog's recording rules and alerts, as ``gatepack rules`` prints them."""
    return dump_yaml(rules_document([loaded.gate for loaded in catalog_gates([])], RuleOptions()))


def write_rules(path: Path) -> Path:
    write_atomic(path, rules_text().encode("utf-8"))
    return path


def write_verdict_metrics(path: Path, packets: Sequence[EvidencePacket]) -> Path:
    """One textfile-collector file with the verdict metrics of a scenario's packets (the gate board's data)."""
    [written] = write_textfile(path, packets)
    return written

"""The one-screen board of the demo: every gate, its verdict per scenario, and what failed."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from collector.report.table import VERDICT_STYLE
from slo.evidence import EvidencePacket
from slo.formatting import quantity
from slo.results import CheckResult, Verdict


def _problem(result: CheckResult) -> str:
    shown = quantity(result.value, result.unit) if result.value is not None else result.verdict.value
    if result.kind == "slo" and result.slo and result.slo.error_budget:
        shown = f"{quantity(result.value, '%')}, budget {result.slo.error_budget.consumed * 100:.0f} % spent"
    elif result.kind == "attestation" and result.value is not None:
        shown = f"attested {result.value:.0f} d ago"
    objective = f" (want {result.objective})" if result.objective else ""
    return f"{result.id}: {shown}{objective}"


def board(packets: dict[str, list[EvidencePacket]]) -> Table:
    """Rows are gates, one verdict column per scenario, then the checks that did not pass."""
    table = Table(title="gatepack demo · release gates of a small SaaS", title_justify="left", expand=False)
    table.add_column("gate", no_wrap=True)
    for scenario in packets:
        table.add_column(scenario)
    table.add_column("checks that did not pass", overflow="fold")
    gate_ids = list(dict.fromkeys(p.gate.id for runs in packets.values() for p in runs))
    for gate_id in gate_ids:
        cells: list[Text | str] = [gate_id]
        notes: list[str] = []
        for scenario, runs in packets.items():
            packet = next((p for p in runs if p.gate.id == gate_id), None)
            if packet is None:
                cells.append("—")
                continue
            cells.append(Text(packet.verdict.value.upper(), style=VERDICT_STYLE[packet.verdict]))
            bad = [r for r in packet.checks if r.verdict is not Verdict.PASS]
            if bad and len(packets) > 1:
                notes.append(f"{scenario}: " + "; ".join(_problem(r) for r in bad))
            elif bad:
                notes.append("; ".join(_problem(r) for r in bad))
        cells.append(Text("\n".join(notes)))
        table.add_row(*cells)
    return table

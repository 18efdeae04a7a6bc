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


GENAI_KINDS = ("trace", "ai_cost")


def _source(result: CheckResult) -> str:
    """Where a GenAI check's number came from: the trace file, or Prometheus' token-usage metric."""
    details = result.details or {}
    if result.kind == "ai_cost":
        return str(details.get("cost_source", "traces"))
    return "traces"


def genai_table(packets: dict[str, list[EvidencePacket]]) -> Table:
    """The trace and cost checks of every scenario: value, verdict and the source of the number."""
    table = Table(title="GenAI checks: traces (OTLP file) and token cost (priced per model)", title_justify="left")
    table.add_column("check", no_wrap=True)
    for scenario in packets:
        table.add_column(scenario, justify="right")
    table.add_column("want")
    table.add_column("source")
    rows: dict[tuple[str, str], dict[str, CheckResult]] = {}
    for scenario, runs in packets.items():
        for packet in runs:
            for result in packet.checks:
                if result.kind in GENAI_KINDS:
                    rows.setdefault((packet.gate.id, result.id), {})[scenario] = result
    for (gate_id, check_id), by_scenario in rows.items():
        cells: list[Text | str] = [f"{gate_id}/{check_id}"]
        for scenario in packets:
            found = by_scenario.get(scenario)
            if found is None:
                cells.append("—")
                continue
            shown = quantity(found.value, found.unit) if found.value is not None else found.verdict.value
            cells.append(Text(shown, style=VERDICT_STYLE[found.verdict]))
        first = next(iter(by_scenario.values()))
        cells.extend([first.objective or "", _source(first)])
        table.add_row(*cells)
    return table

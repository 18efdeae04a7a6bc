"""Human-facing views of a gate run: the terminal table and Markdown for pull requests and CI."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from collector.report.layout import Column, fitted_table, plain_rows
from slo.evidence import EvidencePacket
from slo.formatting import quantity
from slo.results import CheckResult, Verdict

VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.WARN: "bold yellow",
    Verdict.FAIL: "bold red",
    Verdict.NO_DATA: "bold magenta",
    Verdict.ERROR: "bold red",
}
VERDICT_ICON = {
    Verdict.PASS: "✅",
    Verdict.WARN: "⚠️",
    Verdict.FAIL: "❌",
    Verdict.NO_DATA: "❔",
    Verdict.ERROR: "💥",
}


def _value(result: CheckResult) -> str:
    return quantity(result.value, result.unit) if result.value is not None else "—"


FULL_TABLE_LIMIT = 40
"""Above this many checks the screen lists only the checks that did not pass; the packet has them all."""


def verdict_table(packet: EvidencePacket, width: int = 120, limit: int = FULL_TABLE_LIMIT) -> Table:
    """The gate's checks as a terminal table; a large gate shows only what needs a reviewer's eye.

    Check ids, verdicts and values are never cut: at narrow widths the objective and then the value
    columns are dropped (the caption says so) and the reason folds.
    """
    gate = packet.gate
    verdict = packet.verdict
    title = Text.assemble(f"{gate.id} · {gate.title} · ", (verdict.value.upper(), VERDICT_STYLE[verdict]))
    shown = packet.checks
    caption = None
    if len(shown) > limit:
        shown = [r for r in packet.checks if r.verdict is not Verdict.PASS]
        hidden = len(packet.checks) - len(shown)
        caption = f"{hidden} passing check(s) not shown; every check is in the evidence packet"
    columns = [
        Column("check"),
        Column("verdict"),
        Column("value", priority=2, justify="right"),
        Column("objective", priority=1),
        Column("reason", whole=False),
    ]
    rows = [
        [
            _name(result),
            Text(result.verdict.value, style=VERDICT_STYLE[result.verdict]),
            _value(result),
            result.objective or "",
            result.reason,
        ]
        for result in shown
    ]
    return fitted_table(columns, rows, width, title=title, caption=caption)


def _name(result: CheckResult) -> str:
    return result.id if result.required else f"{result.id} (advisory)"


PLAIN_HEADINGS = ("gate", "check", "verdict", "value", "objective", "reason")


def plain_verdicts(packets: list[EvidencePacket]) -> str:
    """Every check of every gate, one line each, then one line per gate verdict: for pipes and CI logs."""
    rows = [
        [p.gate.id, _name(r), r.verdict.value, _value(r), r.objective or "-", r.reason or "-"]
        for p in packets
        for r in p.checks
    ]
    text = plain_rows(PLAIN_HEADINGS, rows)
    for packet in packets:
        counts = ", ".join(f"{n} {k}" for k, n in packet.counts.items() if n)
        digest = f" sha256:{packet.digest.value}" if packet.digest else ""
        text += f"gate {packet.gate.id}: {packet.verdict.value.upper()} ({counts}){digest}\n"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(packets: list[EvidencePacket]) -> str:
    """A summary fit for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    lines: list[str] = []
    for packet in packets:
        gate, verdict = packet.gate, packet.verdict
        lines.append(f"### {VERDICT_ICON[verdict]} {gate.id} — {_cell(gate.title)}: **{verdict.value.upper()}**")
        lines.append("")
        subject = packet.subject
        facts = [f"evaluated at `{packet.evaluation.time}`"]
        facts += [
            f"{k} `{v}`"
            for k, v in (
                ("environment", subject.environment),
                ("service", subject.service),
                ("release", subject.release),
                ("commit", subject.commit),
            )
            if v
        ]
        lines.append(", ".join(facts))
        lines.append("")
        lines.append("| check | verdict | value | objective | reason |")
        lines.append("|---|---|---|---|---|")
        for result in packet.checks:
            name = result.id if result.required else f"{result.id} (advisory)"
            lines.append(
                f"| {_cell(name)} | {VERDICT_ICON[result.verdict]} {result.verdict.value} | "
                f"{_cell(_value(result))} | {_cell(result.objective or '')} | {_cell(result.reason)} |"
            )
        counts = ", ".join(f"{n} {k}" for k, n in packet.counts.items() if n)
        digest = packet.digest.value if packet.digest else ""
        lines.append("")
        lines.append(f"{counts}. Evidence digest `sha256:{digest}`.")
        lines.append("")
    return "\n".join(lines)

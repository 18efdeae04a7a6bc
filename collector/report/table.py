"""Human-facing views of a gate run: the terminal table and Markdown for pull requests and CI.

Every cell holds text from outside (check ids, label values in reasons, backend errors): each one goes
through :mod:`collector.report.safe`, so no control sequence or markup from a backend reaches a screen.
"""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text

from collector.report.layout import Column, fitted_table, plain_rows
from collector.report.safe import escape_controls, safe_text
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
    title = Text.assemble(
        escape_controls(f"{gate.id} · {gate.title} · "), (verdict.value.upper(), VERDICT_STYLE[verdict])
    )
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
            safe_text(_name(result)),
            Text(result.verdict.value, style=VERDICT_STYLE[result.verdict]),
            safe_text(_value(result)),
            safe_text(result.objective or ""),
            safe_text(result.reason),
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


_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


def markdown_cell(text: str) -> str:
    """One Markdown table cell: no line break, no column break, no control sequence, no raw HTML tag."""
    flat = text.replace("\r\n", " ").replace("\n", " ")
    return _HTML_START.sub("&lt;", escape_controls(flat)).replace("|", "\\|")


def markdown_code(text: str) -> str:
    """Text for inside a Markdown code span: a backtick would end the span early."""
    return markdown_cell(text).replace("`", "'")


def markdown(packets: list[EvidencePacket]) -> str:
    """A summary fit for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    lines: list[str] = []
    for packet in packets:
        gate, verdict = packet.gate, packet.verdict
        lines.append(
            f"### {VERDICT_ICON[verdict]} {markdown_cell(gate.id)} — {markdown_cell(gate.title)}: **{verdict.value.upper()}**"
        )
        lines.append("")
        subject = packet.subject
        facts = [f"evaluated at `{markdown_cell(packet.evaluation.time)}`"]
        facts += [
            f"{k} `{markdown_code(v)}`"
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
                f"| {markdown_cell(name)} | {VERDICT_ICON[result.verdict]} {result.verdict.value} | "
                f"{markdown_cell(_value(result))} | {markdown_cell(result.objective or '')} | {markdown_cell(result.reason)} |"
            )
        counts = ", ".join(f"{n} {k}" for k, n in packet.counts.items() if n)
        digest = packet.digest.value if packet.digest else ""
        lines.append("")
        lines.append(f"{counts}. Evidence digest `sha256:{markdown_cell(digest)}`.")
        lines.append("")
    return "\n".join(lines)

"""Human-facing views of a gate run: the terminal table and Markdown for pull requests and CI.

Every cell holds text from outside (check ids, label values in reasons, backend errors): each one goes
through :mod:`collector.report.safe`, so no control sequence or markup from a backend reaches a screen.
"""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text

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


def verdict_table(packet: EvidencePacket, limit: int = FULL_TABLE_LIMIT) -> Table:
    """The gate's checks as a table; a large gate shows only what needs a reviewer's eye."""
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
    table = Table(title=title, title_justify="left", show_lines=False, expand=False, caption=caption)
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("value", justify="right")
    table.add_column("objective")
    table.add_column("reason", overflow="fold", max_width=70)
    for result in shown:
        name = result.id if result.required else f"{result.id} (advisory)"
        table.add_row(
            safe_text(name),
            Text(result.verdict.value, style=VERDICT_STYLE[result.verdict]),
            safe_text(_value(result)),
            safe_text(result.objective or ""),
            safe_text(result.reason),
        )
    return table


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

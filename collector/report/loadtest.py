"""The per-label aggregate table of an ingest: for the terminal and for the Markdown summary.

Labels, threshold expressions and paths come from the result files: shown through
:mod:`collector.report.safe` and, in Markdown, escaped like the gate table's cells.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from collector.report.safe import safe_text
from collector.report.table import markdown_cell, markdown_code
from collector.sources.loadtest.measure import LoadtestData, table
from slo.formatting import number, percent

COLUMNS = (
    "count",
    "rps",
    "error_ratio",
    "min_ms",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p99.9_ms",
    "max_ms",
)
HEADINGS = ("requests", "req/s", "errors", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return "—"
    if column == "error_ratio":
        return percent(value)
    if column.endswith("_ms"):
        return f"{number(value)} ms"
    return number(value)


def rich_table(data: LoadtestData) -> Table | None:
    rows = table(data)
    if not rows:
        return None
    view = Table(title="load test (steady-state window)", title_justify="left")
    view.add_column("label")
    for heading in HEADINGS:
        view.add_column(heading, justify="right")
    for row in rows:
        view.add_row(safe_text(str(row["label"])), *(_cell(row, c) for c in COLUMNS))
    return view


def markdown_table(data: LoadtestData) -> str:
    rows = table(data)
    lines = ["#### Load test", ""]
    if rows:
        lines += ["| label | " + " | ".join(HEADINGS) + " |", "|---" * (len(HEADINGS) + 1) + "|"]
        for row in rows:
            label = markdown_cell(str(row["label"]))
            lines.append(f"| {label} | " + " | ".join(_cell(row, c) for c in COLUMNS) + " |")
        lines.append("")
    thresholds = [t for r in data.given or data.results for t in r.thresholds]
    if thresholds:
        shown = ", ".join(
            f"{'✅' if t.ok else '❌'} `{markdown_code(f'{t.metric}: {t.expression}')}`" for t in thresholds
        )
        lines += [f"The tool's own thresholds: {shown}.", ""]
    inputs = ", ".join(f"`{markdown_code(str(s['path']))}` ({markdown_cell(str(s['format']))})" for s in data.sources)
    lines.append(f"Inputs: {inputs}.")
    if data.precision:
        lines.append(f"Precision: {markdown_cell(str(data.precision))}.")
    lines.append("")
    return "\n".join(lines)

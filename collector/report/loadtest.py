"""The per-label aggregate table of an ingest: for the terminal and for the Markdown summary.

Labels, threshold expressions and paths come from the result files: shown through
:mod:`collector.report.safe` and, in Markdown, escaped like the gate table's cells.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from collector.report.layout import Cell, Column, fitted_table, plain_rows
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


PRIORITY = {"count": 0, "rps": 0, "error_ratio": 0, "p95_ms": 0, "p99_ms": 1, "p50_ms": 2, "max_ms": 3}
"""At narrow widths the least-read columns go first (k6's own summary leads with the same few)."""
TITLE = "load test (steady-state window)"


def rich_table(data: LoadtestData, width: int = 200) -> Table | None:
    """The per-label table fitted to ``width``: labels and numbers never cut, columns dropped by priority."""
    rows = table(data)
    if not rows:
        return None
    columns = [Column("label")] + [
        Column(h, priority=PRIORITY.get(c, 4 + i), justify="right")
        for i, (c, h) in enumerate(zip(COLUMNS, HEADINGS, strict=True))
    ]
    cells: list[list[Cell]] = [[safe_text(str(row["label"])), *(_cell(row, c) for c in COLUMNS)] for row in rows]
    return fitted_table(columns, cells, width, title=TITLE)


def plain_table(data: LoadtestData) -> str:
    """The same table as plain rows (one per label, every column, nothing cut): for pipes and CI logs."""
    rows = table(data)
    if not rows:
        return ""
    return plain_rows(["label", *HEADINGS], [[row["label"], *(_cell(row, c) for c in COLUMNS)] for row in rows])


def print_summary(data: LoadtestData, console: Console, terminal: bool) -> None:
    """The load-test summary on ``console``: a fitted table on a terminal, plain rows otherwise."""
    if terminal:
        view = rich_table(data, console.width)
        if view is not None:
            console.print(view)
    else:
        console.file.write(plain_table(data))


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

"""Tables that never cut an id: rich tables fitted to the terminal, plain rows for pipes and CI logs.

A column is either *whole* (ids, option names, paths, digests, numbers: never shortened, never
wrapped, because a reader copies them into the next command) or *free* text (titles, reasons: may
fold onto more lines). When the whole columns do not fit the terminal, columns are dropped by
priority (highest number first) and a caption names what was dropped; a table is never squeezed
into ``lab… │ req… │ 8.1…``. Off a terminal, :func:`plain_rows` prints one line per item,
space-aligned, with nothing cut, so ``grep`` and ``awk`` see the real values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from collector.report.safe import escape_controls

Cell = str | Text

FREE_MIN_WIDTH = 16
"""The narrowest a free-text column gets before columns are dropped instead."""


@dataclass(frozen=True)
class Column:
    heading: str
    priority: int = 0
    """0: always shown; higher numbers are dropped first when the terminal is too narrow."""
    whole: bool = True
    """Never shortened or wrapped (ids, numbers, digests); free text (False) may fold."""
    justify: str = "left"


def _text(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _natural(column: Column, rows: Sequence[Sequence[Cell]], index: int) -> int:
    widths = [cell_len(_text(row[index])) for row in rows]
    return max([cell_len(column.heading), *widths])


def _needed(widths: list[int]) -> int:
    """Width of a rich table with the default box and padding: 1 border + 3 per column."""
    return sum(widths) + 3 * len(widths) + 1


def fitted_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    width: int,
    title: Cell | None = None,
    caption: str | None = None,
) -> Table:
    """A rich table of ``rows`` that fits ``width`` without cutting any whole cell."""
    natural = [_natural(c, rows, i) for i, c in enumerate(columns)]
    minimum = [n if c.whole else min(n, FREE_MIN_WIDTH) for c, n in zip(columns, natural, strict=True)]
    shown = list(range(len(columns)))
    dropped: list[str] = []
    while _needed([minimum[i] for i in shown]) > width:
        droppable = [i for i in shown if columns[i].priority > 0]
        if not droppable:
            break  # nothing left to drop: the terminal wraps the line, which still cuts nothing
        victim = max(droppable, key=lambda i: (columns[i].priority, i))
        shown.remove(victim)
        dropped.append(columns[victim].heading)
    notes = [caption] if caption else []
    if dropped:
        notes.append(f"not shown at {width} columns: {', '.join(reversed(dropped))} (widen the terminal or pipe it)")
    table = Table(
        title=title, title_justify="left", caption="; ".join(notes) or None, caption_justify="left", expand=False
    )
    for i in shown:
        column = columns[i]
        if column.whole:
            table.add_column(column.heading, justify=column.justify, no_wrap=True, min_width=natural[i])  # type: ignore[arg-type]
        else:
            table.add_column(column.heading, justify=column.justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def plain_rows(headings: Sequence[str] | None, rows: Sequence[Sequence[Cell]]) -> str:
    """Space-aligned rows, one line per item, nothing cut; the last column is not padded.

    Whitespace runs (newlines, tabs) become one space, so one item is one line; control characters are shown
    as escapes (:func:`collector.report.safe.escape_controls`), never sent to the log viewer.
    """
    lines = [list(headings)] if headings else []
    lines += [[escape_controls(" ".join(_text(c).split())) or "-" for c in row] for row in rows]
    if not lines:
        return ""
    count = max(len(line) for line in lines)
    widths = [max((cell_len(line[i]) for line in lines if i < len(line)), default=0) for i in range(count)]
    out = []
    for line in lines:
        cells = [
            cell + " " * (widths[i] - cell_len(cell)) if i < len(line) - 1 else cell for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"

"""What the commands that decide gates print: a progress bar on a terminal, then the run as asked.

Results go to stdout in the chosen ``--output``: on a terminal a table fitted to its width (ids never
cut), in a pipe plain rows (one line per check, nothing cut), ``json`` (one canonical packet per line:
NDJSON when several gates ran) or ``markdown``. File locations and notes go to stderr, one line each,
so ``gatepack collect --output json | jq`` reads clean JSON. Under ``GITHUB_ACTIONS=true`` every
failing check also becomes an ``::error`` annotation.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collector.cli.common import note
from collector.report.annotations import github_annotations, in_github_actions
from collector.report.safe import SafeConsole
from collector.report.table import markdown, plain_verdicts, verdict_table
from collector.run import CollectOptions, CollectOutcome, collect
from collector.sinks.files import Placed
from collector.specs import LoadedGate
from slo.evidence import EvidencePacket, to_canonical_json


def progress_bar(console: Console, enabled: bool) -> Progress:
    """A transient progress bar on ``console``; disabled off a terminal so logs stay clean."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not enabled,
    )


def collect_with_progress(
    gates: list[LoadedGate], options: CollectOptions, console: Console, show_progress: bool
) -> CollectOutcome:
    """:func:`collector.run.collect` with a transient progress bar on ``console`` when asked."""
    total = sum(len(g.gate.checks) for g in gates)
    with progress_bar(console, show_progress and total >= 2) as progress:
        task = progress.add_task("evaluating checks", total=total)
        return collect(gates, options, on_result=lambda _r: progress.advance(task))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def show(
    packets: list[EvidencePacket],
    written: list[Path],
    output_format: str,
    *,
    quiet: bool = False,
    before_table: Callable[[Console, bool], None] | None = None,
    extra_markdown: str = "",
    placed: Sequence[Placed] = (),
) -> None:
    """Print the run in the chosen format on stdout; file locations go to stderr.

    ``before_table`` prints a command's own summary (the ingest load-test table) ahead of the verdicts
    in table form; it is told whether stdout is a terminal.
    """
    if output_format == "json":
        for packet in packets:
            sys.stdout.write(to_canonical_json(packet).decode("utf-8") + "\n")
    elif output_format == "markdown":
        sys.stdout.write(markdown(packets) + ("\n" + extra_markdown if extra_markdown else ""))
    elif not quiet:
        terminal = stdout_is_terminal()
        console = SafeConsole(soft_wrap=not terminal)
        if before_table is not None:
            before_table(console, terminal)
        if terminal:
            for packet in packets:
                console.print(verdict_table(packet, width=console.width))
        else:
            sys.stdout.write(plain_verdicts(packets))
    sys.stdout.flush()
    if in_github_actions(os.environ):
        target = sys.stderr if output_format == "json" else sys.stdout  # never inside a JSON stream
        for line in github_annotations(packets):
            target.write(line + "\n")
        target.flush()
    if placed:
        for placement in placed:
            note(placement.describe())
        return
    for path in written:
        note(f"evidence written: {path}")

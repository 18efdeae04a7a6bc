"""What the commands that decide gates print: a progress bar on a terminal, then the run as asked.

Results go to stdout in the chosen format; file locations and notes go to stderr, one line each, so
``gatepack collect -f json | jq`` reads clean JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collector.report.safe import SafeConsole
from collector.report.table import markdown, verdict_table
from collector.run import CollectOptions, CollectOutcome, collect
from collector.sinks.files import Placed
from collector.specs import LoadedGate
from slo.evidence import EvidencePacket, to_canonical_json


def collect_with_progress(
    gates: list[LoadedGate], options: CollectOptions, console: Console, show_progress: bool
) -> CollectOutcome:
    """:func:`collector.run.collect` with a transient progress bar on ``console`` when asked."""
    total = sum(len(g.gate.checks) for g in gates)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not show_progress or total < 2,
    )
    with progress:
        task = progress.add_task("evaluating checks", total=total)
        return collect(gates, options, on_result=lambda _r: progress.advance(task))


def show(packets: list[EvidencePacket], written: list[Path], output_format: str, placed: Sequence[Placed] = ()) -> None:
    """Print the run in the chosen format on stdout; file locations go to stderr."""
    stdout = SafeConsole(soft_wrap=output_format != "table")
    if output_format == "json":
        for packet in packets:
            sys.stdout.write(to_canonical_json(packet).decode("utf-8") + "\n")
    elif output_format == "markdown":
        sys.stdout.write(markdown(packets))
    else:
        for packet in packets:
            stdout.print(verdict_table(packet))
    console = SafeConsole(stderr=True, soft_wrap=True)  # one line per path: never wrapped mid-name
    if placed:
        for placement in placed:
            console.print(placement.describe())
        return
    for path in written:
        console.print(f"evidence written: {path}")

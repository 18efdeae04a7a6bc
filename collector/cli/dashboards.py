"""``gatepack dashboards``: write the Grafana dashboards of gate specs (one per gate and the gate board)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err, gates_from
from collector.cli.options import GateIds, OptionalSpecs
from collector.errors import UsageError
from collector.sinks.files import write_atomic


def dashboards_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the dashboard JSON files")] = Path(
        "dashboards"
    ),
    docs_url: Annotated[
        str | None, typer.Option("--docs-url", help="Page the panels link to for check docs (gate label 'docs' wins)")
    ] = None,
    overview: Annotated[bool, typer.Option(help="Also write the gate board (gate-board.json)")] = True,
) -> None:
    """Write one Grafana dashboard per gate plus the gate board; provision the directory or import the files."""
    from slo.generate.dashboards import DEFAULT_DOCS_URL, DashboardError, DashboardOptions, dashboard_files

    loaded = gates_from(specs, gate)
    options = DashboardOptions(docs_url=docs_url or DEFAULT_DOCS_URL)
    try:
        files = dashboard_files([g.gate for g in loaded], options, overview=overview)
    except DashboardError as exc:
        raise UsageError(str(exc)) from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    for name, data in files.items():
        write_atomic(out / name, data)
    err.print(f"wrote {len(files)} dashboard(s) to {out}/", highlight=False)

"""``gatepack collect``: query the backends for every check of the gates, write sealed evidence packets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err, gates_from, write_reports
from collector.cli.options import (
    BackendOptions,
    OutputFormat,
    ReportOptions,
    RunOptions,
    SubjectOptions,
    TraceOptions,
    uses,
)
from collector.cli.packet_options import EvidenceOptions
from collector.cli.sources import build_sources
from collector.errors import EXIT_UNREACHABLE

OptionalSpecs = Annotated[
    list[Path] | None,
    typer.Argument(help="Gate spec YAML files (default: the built-in catalog)", show_default=False, metavar="SPEC..."),
]
GateIds = Annotated[list[str], typer.Option("--gate", "-g", help="Only these gate ids")]


@uses(
    backend=BackendOptions,
    traces=TraceOptions,
    run=RunOptions,
    subject=SubjectOptions,
    report=ReportOptions,
    evidence=EvidenceOptions,
)
def collect_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout")] = (
        OutputFormat.table
    ),
    loadtest: Annotated[list[Path], typer.Option("--loadtest", help="Load-test result file for loadtest checks")] = [],
    attestations: Annotated[Path | None, typer.Option("--attestations", help="Attestations file")] = None,
    metrics_textfile: Annotated[
        Path | None, typer.Option(help="Write verdict metrics for the node-exporter textfile collector (file or dir/)")
    ] = None,
    push: Annotated[str | None, typer.Option("--push", help="Push verdict metrics to this Pushgateway URL")] = None,
    *,
    backend: BackendOptions,
    traces: TraceOptions,
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    evidence: EvidenceOptions,
) -> None:
    """Query the backend for every check of the gates and write sealed evidence packets."""
    from collector.cli.options import stderr_is_terminal
    from collector.cli.output import collect_with_progress, show
    from collector.run import CollectOptions

    loaded = gates_from(specs, gate)
    options = CollectOptions(
        at=run.time(),
        variables=run.variables(),
        sources=build_sources(
            loaded,
            backend=backend.config(),
            loadtest=loadtest,
            attestations=attestations,
            traces=traces.targets(),
        ),
        out_dir=report.out,
        fail_on=report.fail_on.value,
        environment=subject.environment,
        service=subject.service,
        release=subject.release,
        commit=subject.commit,
    )
    evidence.apply(options, loaded)
    outcome = collect_with_progress(loaded, options, err, stderr_is_terminal())
    show(outcome.packets, outcome.written, output_format.value, outcome.placed)
    evidence.record(outcome.written)
    write_reports(outcome.packets, report)
    if metrics_textfile is not None or push:
        from collector.sinks.metrics import publish

        publish(outcome.packets, metrics_textfile, push, err)
    if outcome.exit_code == EXIT_UNREACHABLE:
        err.print("no backend was reachable: every query failed to connect", style="bold red")
    raise typer.Exit(outcome.exit_code)

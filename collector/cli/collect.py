"""``gatepack collect``: query the backends for every check of the gates, write sealed evidence packets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err, gates_from, require_backend, set_quiet, write_reports
from collector.cli.deciding import TestsFiles, run_options
from collector.cli.options import (
    BackendOptions,
    ContextOptions,
    GateIds,
    OptionalSpecs,
    OutputFormat,
    OutputOptions,
    ReportOptions,
    RunOptions,
    SubjectOptions,
    TraceOptions,
    uses,
)
from collector.cli.packet_options import EvidenceOptions
from collector.cli.sources import build_sources
from collector.errors import EXIT_UNREACHABLE

DeprecatedFormat = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", hidden=True, help="Deprecated spelling of --output"),
]


def output_choice(output: OutputFormat, deprecated: OutputFormat | None) -> str:
    """``--output``, or the old ``--format`` with a notice on stderr (it keeps working)."""
    if deprecated is None:
        return output.value
    err.print(f"note: --format is deprecated here, use --output {deprecated.value}")
    return deprecated.value


@uses(
    backend=BackendOptions,
    traces=TraceOptions,
    run=RunOptions,
    subject=SubjectOptions,
    report=ReportOptions,
    show=OutputOptions,
    evidence=EvidenceOptions,
    history=ContextOptions,
)
def collect_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    output_format: DeprecatedFormat = None,
    loadtest: Annotated[
        list[Path], typer.Option("--loadtest", metavar="FILE", help="Load-test result file for loadtest checks")
    ] = [],
    tests: TestsFiles = [],
    attestations: Annotated[
        Path | None, typer.Option("--attestations", metavar="FILE", help="Attestations file")
    ] = None,
    metrics_textfile: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH", help="Write verdict metrics for the node-exporter textfile collector (file or dir/)"
        ),
    ] = None,
    push: Annotated[
        str | None, typer.Option("--push", metavar="URL", help="Push verdict metrics to this Pushgateway URL")
    ] = None,
    *,
    backend: BackendOptions,
    traces: TraceOptions,
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    show: OutputOptions,
    evidence: EvidenceOptions,
    history: ContextOptions,
) -> None:
    """Query the backend for every check of the gates and write sealed evidence packets."""
    from collector.run import fewer_collections

    with fewer_collections():  # loading a large spec allocates like the run does (collector/run.py)
        _collect(specs, gate, output_format, loadtest, tests, attestations, metrics_textfile, push, backend, traces,
                 run, subject, report, show, evidence, history)  # fmt: skip


def _collect(
    specs: list[Path] | None,
    gate: list[str],
    output_format: OutputFormat | None,
    loadtest: list[Path],
    tests: list[Path],
    attestations: Path | None,
    metrics_textfile: Path | None,
    push: str | None,
    backend: BackendOptions,
    traces: TraceOptions,
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    show: OutputOptions,
    evidence: EvidenceOptions,
    history: ContextOptions,
) -> None:
    from collector.cli.options import stderr_is_terminal
    from collector.cli.output import collect_with_progress
    from collector.cli.output import show as print_run
    from collector.cli.overrides import apply_overrides

    set_quiet(show.quiet)
    chosen = output_choice(show.output, output_format)
    variables = run.variables()
    loaded, overrides = apply_overrides(gates_from(specs, gate, variables), run.overrides())
    config = backend.config()
    sources = build_sources(
        loaded,
        backend=config,
        loadtest=loadtest,
        tests=tests,
        attestations=attestations,
        traces=traces.targets(),
        context=history.settings(),
    )
    require_backend(loaded, config is not None)  # after the sources: an unreadable input file is named first
    options = run_options(loaded, sources, variables, overrides, run, subject, report, evidence)
    outcome = collect_with_progress(loaded, options, err, stderr_is_terminal() and not show.quiet)
    if show.verbose:
        for packet in outcome.packets:
            for check in packet.checks:
                for query in check.queries:
                    err.print(f"query {packet.gate.id}/{check.id}: {query.query}")
    print_run(outcome.packets, outcome.written, chosen, quiet=show.quiet, placed=outcome.placed)
    evidence.record(outcome.written)
    write_reports(outcome.packets, report)
    if metrics_textfile is not None or push:
        from collector.sinks.metrics import publish

        publish(outcome.packets, metrics_textfile, push, err)
    if outcome.exit_code == EXIT_UNREACHABLE:
        err.print("no backend was reachable: every query failed to connect", style="bold red")
    raise typer.Exit(outcome.exit_code)

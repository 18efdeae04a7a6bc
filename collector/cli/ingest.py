"""``gatepack ingest``: load-test result files in, checks and a sealed evidence packet out, CI reports beside.

A CI job runs a load test, then ``gatepack ingest results.json --gate perf --spec gate.yaml --junit
report.xml --markdown "$GITHUB_STEP_SUMMARY"``; the exit code fails the build when the gate fails.
Also provides :func:`load_inputs`, which ``collect --loadtest`` uses to mix load-test checks with
Prometheus ones in one packet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err, gates_from, note, require_backend, set_quiet, write_reports
from collector.cli.deciding import TestsFiles
from collector.cli.options import (
    BackendOptions,
    OutputFormat,
    OutputOptions,
    ReportOptions,
    RunOptions,
    SubjectOptions,
    uses,
)
from collector.cli.packet_options import EvidenceOptions
from collector.errors import UsageError
from collector.sources.loadtest.formats import READERS

if TYPE_CHECKING:
    from collector.sources.loadtest.measure import LoadtestData, Window
    from collector.specs import LoadedGate

_SKIP = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


def parse_skip(text: str, option: str) -> float:
    """Seconds in ``30s``, ``1m30s``, ``1.5s``, ``500ms`` or a bare number of seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        match = _SKIP.match(text)
        if not text or not match or not any(match.groups()):
            raise UsageError(f"invalid {option} {text!r}: use e.g. 30s, 1m30s or 500ms") from None
        h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
        value = h * 3600 + m * 60 + s + ms / 1000
    if not math.isfinite(value):  # float() accepts nan and inf; nan would silently skip nothing
        raise UsageError(f"invalid {option} {text!r}: not a finite duration")
    if value < 0:
        raise UsageError(f"invalid {option} {text!r}: must not be negative")
    return value


def load_inputs(
    files: list[Path],
    forced: str | None = None,
    window: Window | None = None,
    gates: list[LoadedGate] | None = None,
    progress: Callable[[int], None] | None = None,
) -> LoadtestData:
    """Read the result files; a bad file is a usage error naming it (exit 2), never a traceback.

    With ``gates``, only the raw-point metrics their checks use are kept (a k6 NDJSON file of millions of
    points stays small in memory), and when no check needs a tag column or a sample metric the readers'
    lean read is used (k6 NDJSON: the aggregate scan plus timestamps; same values, about twice as fast);
    without ``gates``, everything is kept. ``progress`` gets the bytes consumed so far.
    """
    from collector.sources.loadtest.evaluator import lean_enough, load, sample_metrics
    from collector.sources.loadtest.model import LoadtestFormatError

    if forced is not None and forced not in READERS:
        raise UsageError(f"unknown --input-format {forced!r}: choose one of {', '.join(READERS)}")
    try:
        checks = None if gates is None else [c for g in gates for c in g.gate.checks]
        metrics = None if checks is None else sample_metrics(checks)
        lean = checks is not None and lean_enough(checks)
        return load(files, forced, window, metrics, lean=lean, progress=progress)
    except LoadtestFormatError as exc:
        raise UsageError(str(exc)) from None


def _gates(spec: list[Path], gate: str | None, variables: dict[str, str]) -> list[LoadedGate]:
    """The gate from ``--spec`` files (``--gate`` may be left out when they hold one), or from the catalog."""
    if gate is None:
        if not spec:
            raise UsageError("give --gate ID (with --spec FILE for your own gate, or a catalog gate id)")
        every = gates_from(spec, [], variables)
        if len(every) != 1:
            raise UsageError(
                f"the spec holds {len(every)} gates: choose one with --gate ({', '.join(g.gate.id for g in every)})"
            )
        return every
    return gates_from(spec, [gate], variables)


def _formats(input_format: str | None, deprecated: str | None) -> tuple[str | None, str | None]:
    """(input format, output format) from ``--input-format`` and the old, ambiguous ``--format``.

    ``--format`` meant the input format on ``ingest`` and the output on ``collect``; it keeps working
    here with a notice: a load-test format name is read as ``--input-format``, ``table``, ``json`` or
    ``markdown`` as ``--output``; anything else is an error listing both.
    """
    if deprecated is None:
        return input_format, None
    if deprecated in READERS:
        err.print(f"note: --format is deprecated on ingest, use --input-format {deprecated}")
        return deprecated, None
    if deprecated in {o.value for o in OutputFormat}:
        err.print(f"note: --format {deprecated} on ingest is read as --output {deprecated}; use --output")
        return input_format, deprecated
    raise UsageError(
        f"unknown --format {deprecated!r}: --input-format is one of {', '.join(READERS)}; "
        f"--output is one of {', '.join(o.value for o in OutputFormat)}"
    )


@uses(
    backend=BackendOptions,
    run=RunOptions,
    subject=SubjectOptions,
    report=ReportOptions,
    show=OutputOptions,
    evidence=EvidenceOptions,
)
def ingest_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Load-test result files (k6, Locust, hey, JMeter, Gatling) and JUnit XML test reports",
            metavar="FILE...",
            show_default=False,
        ),
    ],
    gate: Annotated[
        str | None,
        typer.Option(
            "--gate", "-g", metavar="ID", help="Gate id whose checks to decide (optional with a one-gate spec)"
        ),
    ] = None,
    spec: Annotated[
        list[Path],
        typer.Option("--spec", "-s", metavar="FILE", help="Gate spec YAML file(s); default: the built-in catalog"),
    ] = [],
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", metavar="FORMAT", help=f"Force the input format: {', '.join(READERS)}"),
    ] = None,
    deprecated_format: Annotated[
        str | None, typer.Option("--format", hidden=True, help="Deprecated: --input-format (or --output)")
    ] = None,
    tests: TestsFiles = [],
    skip_first: Annotated[str, typer.Option(metavar="DURATION", help="Ramp-up to leave out, e.g. 30s")] = "0s",
    skip_last: Annotated[str, typer.Option(metavar="DURATION", help="Ramp-down to leave out, e.g. 10s")] = "0s",
    *,
    backend: BackendOptions,
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    show: OutputOptions,
    evidence: EvidenceOptions,
) -> None:
    """Decide a gate's load-test (and tests) checks from result files and write a sealed evidence packet."""
    from collector.cli.deciding import run_options
    from collector.cli.output import collect_with_progress
    from collector.cli.output import show as print_run
    from collector.cli.overrides import apply_overrides
    from collector.cli.reading import reading_bar, wants_bar
    from collector.cli.sources import prometheus_source, tests_source
    from collector.report.loadtest import markdown_table, print_summary
    from collector.sources.loadtest.evaluator import LoadtestSource
    from collector.sources.loadtest.measure import Window
    from collector.sources.tests_junit import is_junit

    set_quiet(show.quiet)
    forced, output_override = _formats(input_format, deprecated_format)
    chosen = output_override or show.output.value
    variables = run.variables()
    loaded, overrides = apply_overrides(_gates(spec, gate, variables), run.overrides())
    config = backend.config()
    require_backend(loaded, config is not None)
    junit_files = [*tests, *(f for f in files if forced is None and is_junit(f))]
    load_files = [f for f in files if f not in junit_files]
    window = Window(parse_skip(skip_first, "--skip-first"), parse_skip(skip_last, "--skip-last"))
    sources = [*prometheus_source(config)]
    data = None
    if load_files:
        with reading_bar(err, load_files, wants_bar(show.quiet)) as progress:
            data = load_inputs(load_files, forced, window, loaded, progress)
        sources.append(LoadtestSource(data))
    if junit_files:
        sources.append(tests_source(junit_files))
    if data is not None:
        for item in data.notes:
            note(f"note: {item}")
    options = run_options(loaded, sources, variables, overrides, run, subject, report, evidence)
    outcome = collect_with_progress(loaded, options, err, show_progress=False)
    extra = markdown_table(data) if data is not None else ""
    before = (lambda console, terminal: print_summary(data, console, terminal)) if data is not None else None
    print_run(
        outcome.packets,
        outcome.written,
        chosen,
        quiet=show.quiet,
        before_table=before,
        extra_markdown=extra,
        placed=outcome.placed,
    )
    write_reports(outcome.packets, report, extra_markdown=extra)
    evidence.record(outcome.written)
    raise typer.Exit(outcome.exit_code)

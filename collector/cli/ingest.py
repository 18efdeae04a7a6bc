"""``gatepack ingest``: load-test result files in, checks and a sealed evidence packet out, CI reports beside.

A CI job runs a load test, then ``gatepack ingest results.json --gate perf --spec gate.yaml --junit
report.xml --markdown "$GITHUB_STEP_SUMMARY"``; the exit code fails the build when the gate fails.
Also provides :func:`load_inputs`, which ``collect --loadtest`` uses to mix load-test checks with
Prometheus ones in one packet.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err, gates_from, write_reports
from collector.cli.options import BackendOptions, ReportOptions, RunOptions, SubjectOptions, uses
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
) -> LoadtestData:
    """Read the result files; a bad file is a usage error naming it (exit 2), never a traceback.

    With ``gates``, only the raw-point metrics their checks use are kept (a k6 NDJSON file of millions of
    points stays small in memory); without, everything is kept.
    """
    from collector.sources.loadtest.evaluator import load, sample_metrics
    from collector.sources.loadtest.model import LoadtestFormatError

    if forced is not None and forced not in READERS:
        raise UsageError(f"unknown --format {forced!r}: choose one of {', '.join(READERS)}")
    try:
        metrics = None if gates is None else sample_metrics(c for g in gates for c in g.gate.checks)
        return load(files, forced, window, metrics)
    except LoadtestFormatError as exc:
        raise UsageError(str(exc)) from None


def _gates(spec: list[Path], gate: str) -> list[LoadedGate]:
    """The gate from ``--spec`` files, or from the built-in catalog when no spec is given."""
    return gates_from(spec, [gate])


@uses(backend=BackendOptions, run=RunOptions, subject=SubjectOptions, report=ReportOptions, evidence=EvidenceOptions)
def ingest_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="Load-test result files (k6, Locust, hey, JMeter, Gatling)", metavar="FILE..."),
    ],
    gate: Annotated[str, typer.Option("--gate", "-g", help="Gate id whose checks to decide")],
    spec: Annotated[
        list[Path], typer.Option("--spec", "-s", help="Gate spec YAML file(s); default: the built-in catalog")
    ] = [],
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", "--format", help=f"Force the input format: {', '.join(READERS)}"),
    ] = None,
    skip_first: Annotated[str, typer.Option(help="Ramp-up to leave out, e.g. 30s")] = "0s",
    skip_last: Annotated[str, typer.Option(help="Ramp-down to leave out, e.g. 10s")] = "0s",
    *,
    backend: BackendOptions,
    run: RunOptions,
    subject: SubjectOptions,
    report: ReportOptions,
    evidence: EvidenceOptions,
) -> None:
    """Decide a gate's load-test checks from result files and write a sealed evidence packet."""
    from collector.cli.output import collect_with_progress
    from collector.cli.sources import prometheus_source
    from collector.report.loadtest import markdown_table, rich_table
    from collector.run import CollectOptions
    from collector.sources.loadtest.evaluator import LoadtestSource
    from collector.sources.loadtest.measure import Window

    loaded = _gates(spec, gate)
    window = Window(parse_skip(skip_first, "--skip-first"), parse_skip(skip_last, "--skip-last"))
    data = load_inputs(files, input_format, window, loaded)
    options = CollectOptions(
        at=run.time(),
        variables=run.variables(),
        sources=[*prometheus_source(backend.config()), LoadtestSource(data)],
        out_dir=report.out,
        fail_on=report.fail_on.value,
        environment=subject.environment,
        service=subject.service,
        release=subject.release,
        commit=subject.commit,
    )
    view = rich_table(data)
    if view is not None:
        err.print(view)
    for note in data.notes:
        err.print(f"note: {note}")
    evidence.apply(options, loaded)
    outcome = collect_with_progress(loaded, options, err, show_progress=False)
    for placement in outcome.placed:
        err.print(placement.describe())
    write_reports(outcome.packets, report, extra_markdown=markdown_table(data))
    evidence.record(outcome.written)
    raise typer.Exit(outcome.exit_code)

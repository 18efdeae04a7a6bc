"""``gatepack ingest``: load-test result files in, checks and a sealed evidence packet out, CI reports beside.

A CI job runs a load test, then ``gatepack ingest results.json --gate perf --spec gate.yaml --junit
report.xml --markdown "$GITHUB_STEP_SUMMARY"``; the exit code fails the build when the gate fails.
Also provides :func:`loadtest_evaluators`, which ``collect --loadtest`` uses to mix load-test checks with
Prometheus ones in one packet.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli import packet_options
from collector.cli.app import FailOn, PrometheusOpt, UsageError, app, err, parse_vars, prometheus_config, select_gates
from collector.sources.loadtest.formats import READERS

if TYPE_CHECKING:
    from collector.run import CheckEvaluator
    from collector.sources.loadtest.measure import LoadtestData, Window
    from collector.specs import LoadedGate
    from slo.evidence import InputFile

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


def loadtest_evaluators(data: LoadtestData) -> tuple[dict[str, CheckEvaluator], list[InputFile]]:
    """The ``loadtest`` evaluator and the inputs' provenance for :class:`CollectOptions`."""
    from collector.sources.loadtest.evaluator import input_files, make_evaluator

    return {"loadtest": make_evaluator(data)}, input_files(data)


def _gates(spec: list[Path], gate: str) -> list[LoadedGate]:
    """The gate from ``--spec`` files, or from the built-in catalog when no spec is given."""
    from collector.specs import load_spec_files

    if spec:
        return select_gates(load_spec_files(spec), [gate])
    try:
        from collector.catalog import catalog_gates
    except ImportError:
        raise UsageError(f"give --spec: the gate spec file that defines gate {gate!r}") from None
    return catalog_gates([gate])


@app.command("ingest")
def ingest_command(
    files: Annotated[list[Path], typer.Argument(help="Load-test result files (k6, Locust, hey, JMeter, Gatling)")],
    gate: Annotated[str, typer.Option("--gate", "-g", help="Gate id whose checks to decide")],
    spec: Annotated[
        list[Path], typer.Option("--spec", "-s", help="Gate spec YAML file(s); default: the built-in catalog")
    ] = [],
    input_format: Annotated[
        str | None, typer.Option("--format", help=f"Force the input format: {', '.join(READERS)}")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the evidence packet")] = Path("evidence"),
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report here")] = None,
    markdown_file: Annotated[
        Path | None, typer.Option("--markdown", help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    ] = None,
    skip_first: Annotated[str, typer.Option(help="Ramp-up to leave out, e.g. 30s")] = "0s",
    skip_last: Annotated[str, typer.Option(help="Ramp-down to leave out, e.g. 10s")] = "0s",
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 on fail only, or on warn too")] = FailOn.fail,
    prometheus: PrometheusOpt = None,
    at: Annotated[str | None, typer.Option(help="Evaluation time: RFC 3339 or Unix seconds (default now)")] = None,
    var: Annotated[list[str], typer.Option("--var", help="Override a spec variable: name=value")] = [],
    environment: Annotated[str | None, typer.Option(help="Subject: environment")] = None,
    service: Annotated[str | None, typer.Option(help="Subject: service")] = None,
    release: Annotated[str | None, typer.Option(help="Subject: release (default from CI)")] = None,
    commit: Annotated[str | None, typer.Option(help="Subject: commit (default from CI, e.g. GITHUB_SHA)")] = None,
    sign: packet_options.SignOpt = None,
    envelope: packet_options.EnvelopeOpt = True,
    keep_responses: packet_options.KeepResponsesOpt = False,
) -> None:
    """Decide a gate's load-test checks from result files and write a sealed evidence packet."""
    from collector.report.junit import junit_xml
    from collector.report.loadtest import markdown_table, rich_table
    from collector.report.table import markdown
    from collector.runner import CollectOptions, collect
    from collector.sinks.files import write_atomic
    from collector.sources.loadtest.measure import Window
    from collector.timeutil import parse_time

    loaded = _gates(spec, gate)
    window = Window(parse_skip(skip_first, "--skip-first"), parse_skip(skip_last, "--skip-last"))
    data = load_inputs(files, input_format, window, loaded)
    evaluators, inputs = loadtest_evaluators(data)
    config = prometheus_config(prometheus)
    options = CollectOptions(
        at=parse_time(at),
        variables=parse_vars(var),
        prometheus=config,
        out_dir=out,
        fail_on=fail_on.value,
        environment=environment,
        service=service,
        release=release,
        commit=commit,
        evaluators=evaluators,
        inputs=inputs,
        show_progress=False,
    )
    packet_options.apply(options, sign=sign, envelope=envelope, keep_responses=keep_responses, gates=loaded)
    view = rich_table(data)
    if view is not None:
        err.print(view)
    for note in data.notes:
        err.print(f"note: {note}")
    outcome = collect(loaded, options, console=err)
    if junit is not None:
        write_atomic(junit, junit_xml(outcome.packets))
        err.print(f"junit written: {junit}")
    if markdown_file is not None:
        text = markdown(outcome.packets) + "\n" + markdown_table(data)
        _append(markdown_file, text)
        err.print(f"markdown written: {markdown_file}")
    raise typer.Exit(outcome.exit_code)


def _append(path: Path, text: str) -> None:
    """$GITHUB_STEP_SUMMARY is appended to by every step; other targets are written whole."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and Path(summary).resolve() == path.resolve():
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        return
    from collector.sinks.files import write_atomic

    write_atomic(path, text.encode("utf-8"))

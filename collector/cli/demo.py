"""``gatepack demo``: the demo world on a real local Prometheus, to try every command on.

Without ``--serve`` it is ``make demo`` (every catalog gate, both scenarios, one board). With
``--serve`` it backfills one scenario's 30 days of history into a Prometheus on a free loopback
port with the catalog's generated recording rules and alerts loaded (so the shipped dashboards, or
``gatepack dashboards``' output, show data in a Grafana pointed at it), writes that scenario's
attestations file and the AI agent's traces (OTLP JSON lines, for the AI gates' trace and cost checks),
prints the URL and commands to paste, and keeps the
server running until Ctrl-C (or ``--for SECONDS``), so a new user has a backend with data to point
``collect`` and ``validate`` at. The first line on stdout is the URL, so scripts can read it.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err
from collector.errors import UsageError


def demo_command(
    serve: Annotated[bool, typer.Option("--serve", help="Keep the demo Prometheus running until Ctrl-C")] = False,
    scenario: Annotated[
        str, typer.Option(metavar="NAME", help="healthy or degraded (--serve); both without --serve")
    ] = "healthy",
    attestations: Annotated[
        Path, typer.Option("--attestations", metavar="FILE", help="Where --serve writes the demo attestations")
    ] = Path("gatepack-attestations.json"),
    traces: Annotated[
        Path, typer.Option("--traces", metavar="FILE", help="Where --serve writes the demo agent's OTLP traces")
    ] = Path("gatepack-demo-traces.jsonl"),
    duration: Annotated[
        float | None, typer.Option("--for", metavar="SECONDS", help="Stop after this long (default: until Ctrl-C)")
    ] = None,
) -> None:
    """Run the demo (every catalog gate on a demo Prometheus), or --serve its Prometheus to try commands on."""
    from collector.demo.world import SCENARIOS

    if not serve:
        from collector.demo.__main__ import main as run_demo

        raise typer.Exit(run_demo(["--scenario", "both" if scenario == "healthy" else scenario]))
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown --scenario {scenario!r}: choose {' or '.join(SCENARIOS)}")
    serve_demo(scenario, attestations, duration, traces)


def serve_demo(
    scenario: str, attestations: Path, duration: float | None, traces: Path = Path("gatepack-demo-traces.jsonl")
) -> None:
    import tempfile

    from collector.demo.__main__ import PRICING
    from collector.demo.stack import RULES_FILE, write_rules
    from collector.demo.traces import write_traces
    from collector.demo.world import attestations as demo_attestations
    from collector.demo.world import build_world
    from collector.sinks.files import write_atomic
    from collector.sources.attestations import dump_attestations
    from collector.testing.promserver import PrometheusUnavailable, running_prometheus

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the server as Ctrl-C does, never leaving Prometheus behind

    signal.signal(signal.SIGTERM, stop)
    end = int(time.time()) // 60 * 60
    err.print(f"backfilling 30 days of the {scenario} demo world into a local Prometheus…")
    write_atomic(attestations, dump_attestations(demo_attestations(scenario, end)))
    write_traces(traces, scenario, end)
    scratch = tempfile.TemporaryDirectory(prefix="gatepack-demo-rules-")
    rules = write_rules(Path(scratch.name) / RULES_FILE)
    try:
        context = running_prometheus(build_world(scenario, end), rule_files=[rules])
        prometheus = context.__enter__()
    except PrometheusUnavailable as exc:
        scratch.cleanup()
        raise UsageError(f"cannot serve the demo: {exc}") from None
    try:
        print(prometheus.url, flush=True)
        err.print(f"demo Prometheus ({scenario}) at {prometheus.url}, data up to {end}; try:")
        err.print(f"  export GATEPACK_PROMETHEUS_URL={prometheus.url}")
        err.print(f"  gatepack collect --gate 04-core-workflow -p {prometheus.url} --at {end}")
        err.print(f"  gatepack collect --gate 00-architecture --attestations {attestations}")
        err.print(
            f"  gatepack collect --gate 06-ai-action -p {prometheus.url} --traces otlp:{traces} --pricing {PRICING} --at {end}"
        )
        err.print(f"  gatepack rules --check -p {prometheus.url}   # the catalog's rules are loaded")
        err.print(f"  Grafana: add a Prometheus data source at {prometheus.url}, import dashboards/*.json")
        err.print("Ctrl-C stops it")
        deadline = None if duration is None else time.monotonic() + duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        context.__exit__(None, None, None)
        scratch.cleanup()
        err.print("demo Prometheus stopped")
    sys.stdout.flush()

"""``make demo``: the gate catalog end to end on a real Prometheus, in under a minute.

For each scenario (``healthy`` and ``degraded`` by default) it writes the demo world's 30 days of
OpenMetrics history, backfills it into a fresh Prometheus on a free loopback port, writes the demo
team's attestations file and the agent's traces (an OTLP JSON lines file of real opentelemetry-sdk
spans, :mod:`collector.demo.traces`), runs the real ``gatepack collect`` command on all twelve catalog
gates with ``--traces otlp:FILE --pricing collector/demo/pricing.yaml`` (= ``examples/pricing.yaml``),
stops Prometheus, and finally prints one board with every gate's verdict and the checks that failed,
then the GenAI checks (trace and cost) with their values and where each number came from.
Evidence packets land in ``./evidence/<scenario>/``, each scenario's verdict metrics (textfile-collector
format, what the gate board reads) in ``./evidence/<scenario>-verdicts.prom`` and the catalog's Grafana
dashboards in ``./evidence/dashboards/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console

from collector.demo.board import board, genai_table
from collector.demo.stack import write_dashboards, write_verdict_metrics
from collector.demo.traces import write_traces
from collector.demo.world import SCENARIOS, attestations, build_world
from collector.sinks.files import write_atomic
from collector.sources.attestations import dump_attestations
from collector.testing.promserver import PrometheusUnavailable, running_prometheus
from slo.evidence import EvidencePacket

PRICING = Path(__file__).with_name("pricing.yaml")
"""The demo models' price table (gatepack's YAML; ``examples/pricing.yaml`` links to it)."""


def run_scenario(scenario: str, end: int, out_dir: Path, console: Console) -> list[EvidencePacket]:
    """Backfill, serve, collect every catalog gate with the CLI, stop; the packets it wrote."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.json"):
        old.unlink()
    attestation_file = out_dir.parent / f"{scenario}-attestations.json"
    write_atomic(attestation_file, dump_attestations(attestations(scenario, end)))
    traces_file = out_dir.parent / f"{scenario}-traces.jsonl"
    write_traces(traces_file, scenario, end)
    with running_prometheus(build_world(scenario, end)) as prometheus:
        ready = time.monotonic() - started
        command = [
            sys.executable,
            "-m",
            "collector.cli",
            "collect",
            "--prometheus",
            prometheus.url,
            "--at",
            str(end),
            "--attestations",
            str(attestation_file),
            "--traces",
            f"otlp:{traces_file}",
            "--pricing",
            str(PRICING),
            "--out",
            str(out_dir),
            "--output",
            "json",
            "--environment",
            f"demo-{scenario}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"gatepack collect failed ({result.returncode}): {result.stderr[-1500:]}")
    packets = [EvidencePacket.model_validate(json.loads(line)) for line in result.stdout.splitlines() if line]
    console.print(
        f"{scenario}: backfilled and served in {ready:.1f} s, {len(packets)} gates collected in "
        f"{time.monotonic() - started - ready:.1f} s → {out_dir}/",
        highlight=False,
    )
    return packets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "both"], default="both")
    parser.add_argument("--out", type=Path, default=Path("evidence"))
    args = parser.parse_args(argv)
    console = Console()
    began = time.monotonic()
    end = int(time.time()) // 60 * 60
    scenarios = list(SCENARIOS) if args.scenario == "both" else [args.scenario]
    try:
        # the scenarios are independent: while one backfills, the other's Prometheus answers queries
        with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
            futures = [pool.submit(run_scenario, s, end, args.out / s, console) for s in scenarios]
            packets = dict(zip(scenarios, (f.result() for f in futures), strict=True))
    except PrometheusUnavailable as exc:
        console.print(f"[bold red]cannot run the demo:[/] {exc}")
        return 2
    console.print(board(packets))
    console.print(genai_table(packets))
    for scenario, scenario_packets in packets.items():
        metrics = write_verdict_metrics(args.out / f"{scenario}-verdicts.prom", scenario_packets)
        console.print(f"verdict metrics ({scenario}): {metrics}", highlight=False)
    dashboards = write_dashboards(args.out / "dashboards")
    console.print(
        f"dashboards: {len(dashboards)} Grafana dashboards in {args.out / 'dashboards'}/ "
        "(import them, or see them with data: `gatepack demo --serve`)",
        highlight=False,
    )
    console.print(
        f"evidence: {args.out}/<scenario>/*.json (verify one with `gatepack verify FILE`); "
        f"total {time.monotonic() - began:.1f} s",
        highlight=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

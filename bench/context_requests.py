"""Benchmark: how many requests the context series add to ``collect`` at 100 and 1000 checks.

Context must not cost one request per check: per-service range queries are grouped like the instant
ones. This runs one gate of N per-service SLOs and N per-service threshold checks against a real local
Prometheus twice, with and without context, in process, and prints the requests each run sent (the
client's own count) and the wall time. Run: ``.venv/bin/python bench/context_requests.py [--sizes 100,1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.run import evaluate_gate
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.context import ContextSettings
from collector.sources.prometheus.source import PrometheusSource
from collector.testing.openmetrics import Family, Series
from collector.testing.promserver import running_prometheus
from slo.loader import load_gates

END = 1767225600
STAMPS = np.arange(END - 2 * 3600, END + 1, 60)


def families(n: int) -> list[Family]:
    family = Family("requests", "counter")
    steps = np.arange(len(STAMPS), dtype=float)
    for i in range(n):
        family.series.append(Series("requests_total", {"service": f"s{i}", "outcome": "all"}, STAMPS, steps * 100))
        family.series.append(Series("requests_total", {"service": f"s{i}", "outcome": "bad"}, STAMPS, steps * 0.05))
    return [family]


def gate(n: int) -> str:
    lines = ["apiVersion: gatepack/v1", "kind: Gate", "id: bench", "title: bench", "checks:"]
    for i in range(n // 2):
        lines += [
            f"  - id: slo-{i}",
            "    kind: slo",
            f'    bad: \'sum(increase(requests_total{{service="s{i}",outcome="bad"}}[{{{{ window }}}}]))\'',
            f'    total: \'sum(increase(requests_total{{service="s{i}",outcome="all"}}[{{{{ window }}}}]))\'',
            "    objective: 99.9",
            "    period: 30d",
            f"  - id: errors-{i}",
            "    kind: threshold",
            f'    query: \'sum(rate(requests_total{{service="s{i}",outcome="bad"}}[5m]))\'',
            "    op: '<'",
            "    target: 1",
        ]
    return "\n".join(lines) + "\n"


def measure(url: str, text: str, context: ContextSettings | None) -> tuple[int, float, int]:
    """Requests sent, seconds, and the bytes of the checks' JSON (what the context adds to a packet)."""
    checks = load_gates(text, "bench.yaml")[0]

    async def go() -> tuple[int, int]:
        async with PrometheusClient(PrometheusConfig(url=url, concurrency=8)) as client:
            source = PrometheusSource(client, owns_client=False, context=context)
            run = await evaluate_gate(checks, at=END, sources=[source])
            return client.requests_sent, sum(len(r.model_dump_json()) for r in run.results)

    started = time.monotonic()
    sent, size = asyncio.run(go())
    return sent, time.monotonic() - started, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    with running_prometheus(families(max(sizes) // 2)) as server:
        print("| checks | requests without context | with | added | seconds without | with | KiB without | with |")
        print("|---|---|---|---|---|---|---|---|")
        for n in sizes:
            text = gate(n)
            without, t0, b0 = measure(server.url, text, None)
            with_context, t1, b1 = measure(server.url, text, ContextSettings())
            print(
                f"| {n} | {without} | {with_context} | {with_context - without} | {t0:.1f} | {t1:.1f} "
                f"| {b0 / 1024:.0f} | {b1 / 1024:.0f} |"
            )


if __name__ == "__main__":
    main()

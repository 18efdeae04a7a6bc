"""Requests sent by a 1000-SLO gate with and without selector presence checks, on one real Prometheus.

Why this exists: every selector of every query is now checked for series (an ``or vector(0)`` must not
hide a typo). Done naively that is one extra request per selector and window, sixteen thousand for
the benchmark gate; done as gatepack does it (answers that prove a selector present are not asked
again, the rest are grouped ``count by (service)`` queries) it should be a handful. This script counts
what the client really sent for three gates of 1000 checks, built on ``bench/collect.py``'s data:

* ``slo``: the benchmark gate itself (good/total, 8 windows, 16 000 queries grouped by service);
* ``slo-or-vector``: the same SLOs written with ``bad: … or vector(0)`` (an ``or`` is never grouped);
* ``threshold-typo``: 1000 ``sum(rate(…)) or vector(0)`` thresholds, one in ten with a misspelt service.

Run ``.venv/bin/python bench/presence.py`` for the current code, and ``--code DIR`` to import gatepack
from another checkout (e.g. ``/work/main`` before the change) against the same data.

Measured 2026-12-01 on the shared 2-core machine (Prometheus 2.42, 1000 services, requests counted by
the client; wall times depend on the machine's load and are not the point):

| gate | before | after | what the extra requests are |
|---|---|---|---|
| slo (16 000 queries) | 160 | 160 | none: every grouped answer proves its selector present |
| slo-or-vector | 8 080 | 8 090 | 10 grouped presence queries (bad selector over 5m, 100 per query) |
| threshold-typo | 1 000 (all pass) | 1 010 (100 no_data) | 10 grouped presence queries |
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _gate(kind: str, size: int) -> str:
    from bench.collect import good_query, service, valid_query

    lines = ["apiVersion: gatepack/v1", "kind: Gate", f"id: presence-{kind}", "title: Presence", "checks:"]
    for index in range(size):
        name = service(index)
        if kind == "slo":
            lines += [
                f"  - id: {name}",
                "    kind: slo",
                f"    good: 'sum(increase({good_query(index)}[{{{{ window }}}}]))'",
                f"    total: 'sum(increase({valid_query(index)}[{{{{ window }}}}]))'",
                "    objective: 99.9",
            ]
        elif kind == "slo-or-vector":
            bad = f'bench_requests_total{{service="{name}",outcome="bad"}}'
            lines += [
                f"  - id: {name}",
                "    kind: slo",
                f"    bad: 'sum(increase({bad}[{{{{ window }}}}])) or vector(0)'",
                f"    total: 'sum(increase({valid_query(index)}[{{{{ window }}}}]))'",
                "    objective: 99.9",
            ]
        else:
            spelt = name if index % 10 else name.replace("svc", "scv")
            bad = f'bench_requests_total{{service="{spelt}",outcome="bad"}}'
            lines += [
                f"  - id: {name}",
                "    kind: threshold",
                f"    query: 'sum(rate({bad}[5m])) or vector(0)'",
                "    op: '<'",
                "    target: 1",
            ]
    return "\n".join(lines) + "\n"


async def _run(url: str, text: str, at: float) -> tuple[int, float, dict[str, int]]:
    from collector.run import evaluate_gate
    from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
    from collector.sources.prometheus.source import PrometheusSource
    from slo.loader import load_gates

    gate = load_gates(text, "presence.yaml")[0]
    started = time.perf_counter()
    async with PrometheusClient(PrometheusConfig(url=url)) as client:
        run = await evaluate_gate(gate, at=at, variables={}, sources=[PrometheusSource(client)])
        sent = client.requests_sent
    verdicts: dict[str, int] = {}
    for result in run.results:
        verdicts[result.verdict.value] = verdicts.get(result.verdict.value, 0) + 1
    return sent, time.perf_counter() - started, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="gatepack checkout to import (default: this one)")
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    sys.path.insert(1, str(ROOT))
    from bench.collect import build_families
    from collector.testing.promserver import running_prometheus

    now = int(time.time()) // 60 * 60
    import collector

    print(f"code: {Path(collector.__file__).resolve().parent.parent}  size: {args.size}")
    with running_prometheus(build_families(args.size, now)) as server:
        for kind in ("slo", "slo-or-vector", "threshold-typo"):
            sent, wall, verdicts = asyncio.run(_run(server.url, _gate(kind, args.size), float(now)))
            print(f"{kind:15s} requests {sent:6d}  wall {wall:6.1f} s  verdicts {dict(sorted(verdicts.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Peak RSS of ``gatepack collect --no-context`` at N SLOs against one long-running Prometheus (issue 16).

Why a script of its own: ``bench/collect.py`` backfills 30 days of history (about 3 minutes) for every run;
memory work needs many runs against one server. ``--serve`` backfills once with bench/collect.py's data and
keeps Prometheus running (it prints the ``--url``/``--at`` to pass later); a measuring run then reuses it.

Peak RSS is the child's own ``ru_maxrss`` read with ``os.wait4`` (as in bench/collect.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import collect as bench  # noqa: E402  (bench/collect.py: the data and the gate)

from collector.testing.promserver import running_prometheus  # noqa: E402


def serve(size: int, state: Path) -> None:
    """Backfill bench/collect.py's history for ``size`` services, serve it, write URL and time to ``state``."""
    now = int(time.time()) // 60 * 60
    families = bench.build_families(size, now)
    with running_prometheus(families) as prometheus:
        del families
        bench.wait_for_compaction(prometheus.url)
        httpx.post(
            f"{prometheus.url}/api/v1/query",
            data={"query": "sum(increase(bench_requests_total[30d]))", "time": str(now)},
            timeout=300,
        )
        state.write_text(json.dumps({"url": prometheus.url, "at": now, "size": size}), encoding="utf-8")
        print(f"serving: --url {prometheus.url} --at {now} (stop with Ctrl-C or SIGTERM)", flush=True)
        while True:
            time.sleep(60)


def peak_rss(command: list[str]) -> tuple[float, int]:
    """The child's peak RSS in MiB and its exit code."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="SLOs in the gate (and services to serve)")
    parser.add_argument("--serve", action="store_true", help="backfill, serve, and keep serving")
    parser.add_argument("--state", type=Path, default=BENCH / "out" / "memory-server.json")
    parser.add_argument("--url", help="a Prometheus started with --serve (default: read from --state)")
    parser.add_argument("--at", type=int, help="its evaluation time (default: read from --state)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    args.state.parent.mkdir(parents=True, exist_ok=True)
    if args.serve:
        serve(args.size, args.state)
        return 0
    if args.url is None or args.at is None:
        state = json.loads(args.state.read_text(encoding="utf-8"))
        args.url, args.at = args.url or state["url"], args.at or state["at"]
    work = BENCH / "out" / f"memory-{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    spec = bench.write_gatepack_spec(args.size, work)
    gatepack = str(Path(sys.executable).parent / "gatepack")
    for rep in range(args.reps):
        out = work / f"evidence-{rep}"
        command = [
            gatepack,
            "collect",
            str(spec),
            "-p",
            args.url,
            "--at",
            str(args.at),
            "--out",
            str(out),
            "--no-context",
        ]
        rss, code = peak_rss(command)
        print(
            f"{args.size} SLOs, run {rep + 1}: peak RSS {rss:.1f} MiB ({rss * 1024 / args.size:.1f} KiB/SLO), exit {code}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

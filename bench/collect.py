"""Benchmark: ``gatepack collect`` against Google's slo-generator 2.6.0 on one real local Prometheus.

Why this exists: gatepack claims that pinning one evaluation time, sending each distinct query once,
reusing one connection pool and running a bounded number of requests at once makes a gate of many
SLOs cheap to evaluate. This script measures that claim against the tool people would otherwise use,
on the same data, the same server and equivalent SLO definitions (same PromQL, same 30-day period,
the same eight burn-rate windows), and writes the figures to ``bench/RESULTS.md``.

How it measures, and why that way:

* Both tools run as separate processes, so wall time includes start-up, parsing and output, as a
  user would see it; peak memory is each child's own ``ru_maxrss`` read with ``os.wait4``.
* HTTP requests and TCP connections are counted by the Prometheus server itself
  (``prometheus_http_requests_total`` and ``net_conntrack_listener_conn_accepted_total`` read from
  its ``/metrics`` before and after each run). No proxy sits in the path, so counting costs neither
  tool any time and both are counted the same way.
* slo-generator's Prometheus backend sends no ``time`` parameter (its queries run at wall-clock
  "now", whatever ``--timestamp`` says), so the generated history extends a few hours past the
  benchmark's start and every counter grows at a constant rate: both tools then see the same ratios
  even though only gatepack's evaluation time is pinned.

Run with ``make bench`` or ``.venv/bin/python bench/collect.py [--sizes 10,100,1000]``. It installs
slo-generator into ``bench/.venv-slogen`` when that is missing, and needs ``prometheus``/``promtool``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.testing.openmetrics import Family, Series  # noqa: E402
from collector.testing.promserver import running_prometheus  # noqa: E402
from slo.wire import outcomes_of  # noqa: E402

BENCH = ROOT / "bench"
OUT = BENCH / "out"
SLOGEN_VENV = BENCH / ".venv-slogen"
SLOGEN_BIN = SLOGEN_VENV / "bin" / "slo-generator"
SLOGEN_REQUIREMENTS = ("setuptools<81", "slo-generator[prometheus]==2.6.0")
GATEPACK_BIN = Path(sys.executable).parent / "gatepack"

PERIOD = "30d"
OBJECTIVE = 99.9
# gatepack's default windows for a 30-day SLO (workbook conditions 1h/5m, 6h/30m, 1d/2h, 3d/6h plus
# the period) with the burn-rate factor each belongs to; slo-generator gets one policy step per window.
WINDOWS: tuple[tuple[str, int, float], ...] = (
    ("5m", 300, 14.4),
    ("30m", 1800, 6.0),
    ("1h", 3600, 14.4),
    ("2h", 7200, 3.0),
    ("6h", 21600, 6.0),
    ("1d", 86400, 3.0),
    ("3d", 259200, 1.0),
    ("30d", 2592000, 1.0),
)
DENSE_BEFORE = 8 * 3600  # 1-minute samples for the last 8 hours (the 5m..6h windows)
AHEAD = 3 * 3600  # history runs this far past "now": slo-generator evaluates at its own wall clock
SPARSE_STEP = 3600  # hourly samples further back (the 1d, 3d and 30d windows)
HISTORY = 31 * 86400


@dataclass
class Run:
    """One tool at one size: the best wall time of its repetitions and what the server saw."""

    tool: str
    size: int
    walls: list[float] = field(default_factory=list)
    peak_rss_kib: int = 0
    requests: int = 0
    connections: int = 0
    exit_codes: list[int] = field(default_factory=list)
    evals: list[float] = field(default_factory=list)
    """Per repetition, the seconds Prometheus itself spent evaluating this run's queries (its query log)."""
    estimated: bool = False

    @property
    def wall(self) -> float:
        return min(self.walls)

    @property
    def server_eval(self) -> float:
        """Prometheus' evaluation seconds in the repetition whose wall time is reported."""
        return self.evals[self.walls.index(self.wall)] if self.evals else 0.0

    @property
    def checks_per_second(self) -> float:
        return self.size / self.wall

    @property
    def requests_per_check(self) -> float:
        return self.requests / self.size


def ensure_slogen() -> None:
    """Install slo-generator into its own venv once; later runs reuse it (``make bench`` on a fresh machine)."""
    if SLOGEN_BIN.exists():
        return
    print(f"installing slo-generator into {SLOGEN_VENV.relative_to(ROOT)} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(SLOGEN_VENV)], check=True)
    pip = SLOGEN_VENV / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", "--disable-pip-version-check", *SLOGEN_REQUIREMENTS], check=True)


def service(index: int) -> str:
    return f"svc-{index:04d}"


def rates(index: int) -> tuple[float, float]:
    """Requests per second and bad fraction of service ``index``: fixed, so any evaluation time agrees."""
    return 2.0 + index % 13, 0.0002 * (1 + index % 9)


def build_families(services: int, now: int) -> list[Family]:
    """Counters ``bench_requests_total{service, outcome=good|bad}`` for ``services`` services."""
    sparse = np.arange(now - HISTORY, now - DENSE_BEFORE, SPARSE_STEP, dtype=np.float64)
    dense = np.arange(now - DENSE_BEFORE, now + AHEAD + 1, 60, dtype=np.float64)
    stamps = np.concatenate([sparse, dense])
    elapsed = stamps - stamps[0]
    family = Family("bench_requests", "counter", "Requests served by a generated service")
    for index in range(services):
        per_second, bad = rates(index)
        for outcome, share in (("good", 1.0 - bad), ("bad", bad)):
            values = np.round(elapsed * per_second * share, 3)
            family.series.append(
                Series("bench_requests_total", {"service": service(index), "outcome": outcome}, stamps, values)
            )
    return [family]


def good_query(index: int) -> str:
    return f'bench_requests_total{{service="{service(index)}",outcome="good"}}'


def valid_query(index: int) -> str:
    return f'bench_requests_total{{service="{service(index)}"}}'


def write_gatepack_spec(size: int, directory: Path) -> Path:
    """One gate of ``size`` ratio SLOs; default burn-rate conditions give the eight windows above."""
    lines = [
        "apiVersion: gatepack/v1",
        "kind: Gate",
        f"id: bench-{size}",
        f"title: Benchmark gate with {size} SLOs",
        "checks:",
    ]
    for index in range(size):
        lines += [
            f"  - id: {service(index)}-availability",
            "    kind: slo",
            f"    good: 'sum(increase({good_query(index)}[{{{{ window }}}}]))'",
            f"    total: 'sum(increase({valid_query(index)}[{{{{ window }}}}]))'",
            f"    objective: {OBJECTIVE}",
            f"    period: {PERIOD}",
        ]
    path = directory / "gate.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_slogen_configs(size: int, directory: Path, url: str) -> tuple[Path, Path]:
    """slo-generator's shared config (backend, one policy step per window) and one SLO file per service.

    ``good_bad_ratio`` with ``filter_good``/``filter_valid`` and its default operators
    (``increase`` then ``sum``) sends exactly gatepack's ``good`` and ``total`` queries.
    """
    steps = "".join(
        f"      - name: w{name}\n"
        f"        window: {seconds}\n"
        f"        burn_rate_threshold: {factor}\n"
        "        alert: false\n"
        "        message_alert: burning\n"
        "        message_ok: fine\n"
        for name, seconds, factor in WINDOWS
    )
    shared = directory / "shared_config.yaml"
    shared.write_text(
        f"backends:\n  prometheus:\n    url: {url}\n"
        f"exporters: {{}}\nerror_budget_policies:\n  default:\n    steps:\n{steps}",
        encoding="utf-8",
    )
    slo_dir = directory / "slo_configs"
    slo_dir.mkdir(parents=True, exist_ok=True)
    for index in range(size):
        (slo_dir / f"{service(index)}.yaml").write_text(
            "apiVersion: sre.google.com/v2\n"
            "kind: ServiceLevelObjective\n"
            "metadata:\n"
            f"  name: {service(index)}-availability\n"
            f"  labels: {{service_name: {service(index)}, feature_name: api, slo_name: availability}}\n"
            "spec:\n"
            f"  description: Availability of {service(index)}\n"
            "  backend: prometheus\n"
            "  method: good_bad_ratio\n"
            "  exporters: []\n"
            "  service_level_indicator:\n"
            f"    filter_good: '{good_query(index)}'\n"
            f"    filter_valid: '{valid_query(index)}'\n"
            f"  goal: {OBJECTIVE / 100}\n",
            encoding="utf-8",
        )
    return slo_dir, shared


def server_counters(url: str) -> tuple[int, int]:
    """Query-API requests and accepted TCP connections so far, from the server's own metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    requests = 0.0
    connections = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line:
            requests += float(line.rsplit(" ", 1)[1])
        elif line.startswith("net_conntrack_listener_conn_accepted_total{") and 'listener_name="http"' in line:
            connections += float(line.rsplit(" ", 1)[1])
    return int(requests), int(connections)


# Started from this (large) process, a child would inherit its peak RSS across exec, so each tool is
# spawned by a small launcher whose own footprint is a few MiB; it reports the tool's wall time,
# peak RSS and exit code from wait4.
_LAUNCHER = """
import json, os, subprocess, sys, time
out, cwd, log, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(log, "wb") as sink:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=os.environ)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
with open(out, "w") as handle:
    json.dump({"wall": wall, "maxrss": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, handle)
"""


def read_query_log(log: Path, offset: int) -> tuple[float, int, int]:
    """Prometheus' own ``evalTotalTime`` summed over the queries logged after ``offset``, their count, new offset.

    The server writes one JSON line per query with the timings it measured itself (``query_log_file``);
    summing them gives the time the backend needed for exactly the queries a tool sent.
    """
    if not log.exists():
        return 0.0, 0, offset
    with log.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    complete = data[: data.rfind(b"\n") + 1]
    seconds, count = 0.0, 0
    for line in complete.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        timings = entry.get("stats", {}).get("timings", {})
        seconds += float(timings.get("evalTotalTime", 0.0))
        count += 1
    return seconds, count, offset + len(complete)


def run_child(command: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one run of ``command``, measured by the launcher."""
    report = log.with_suffix(".rusage.json")
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(report), str(cwd), str(log), *command],
        env={**os.environ, **(env or {})},
    )
    try:
        launcher.wait()
    except BaseException:
        launcher.terminate()
        launcher.wait()
        raise
    figures = json.loads(report.read_text(encoding="utf-8"))
    return figures["wall"], figures["maxrss"], figures["code"]


def wait_for_compaction(url: str, quiet_seconds: float = 75.0, limit: float = 900.0) -> float:
    """Wait until Prometheus has merged the backfilled 2-hour blocks (its compaction runs every minute).

    Uncompacted, a 30-day query reads hundreds of small blocks and the server, not the client, sets the
    pace; the benchmark is about request handling, so it starts once the block count stops changing.
    """
    started = time.monotonic()
    last, changed = -1, started
    while time.monotonic() - started < limit:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        blocks = next(
            (
                int(float(line.split()[1]))
                for line in text.splitlines()
                if line.startswith("prometheus_tsdb_blocks_loaded ")
            ),
            -1,
        )
        if blocks != last:
            print(f"  Prometheus has {blocks} blocks loaded", flush=True)
            last, changed = blocks, time.monotonic()
        elif time.monotonic() - changed >= quiet_seconds:
            break
        time.sleep(5)
    return time.monotonic() - started


def measure(
    tool: str,
    size: int,
    command: list[str],
    cwd: Path,
    reps: int,
    url: str,
    env: dict[str, str] | None = None,
    query_log: Path | None = None,
) -> Run:
    run = Run(tool, size)
    slug = tool.replace(" ", "-").replace("(", "").replace(")", "")
    for rep in range(reps):
        offset = query_log.stat().st_size if query_log is not None and query_log.exists() else 0
        before = server_counters(url)
        wall, rss, code = run_child(command, cwd, cwd / f"{slug}-{rep}.log", env)
        after = server_counters(url)
        if query_log is not None:
            time.sleep(0.5)  # the server appends its last lines just after answering
            seconds, _, _ = read_query_log(query_log, offset)
            run.evals.append(seconds)
        run.walls.append(wall)
        run.peak_rss_kib = max(run.peak_rss_kib, rss)
        run.exit_codes.append(code)
        if rep == 0:
            # the connection that reads the "after" figures is itself counted in them
            run.requests, run.connections = after[0] - before[0], after[1] - before[1] - 1
        evaluation = f", Prometheus evaluated for {run.evals[-1]:.2f} s" if run.evals else ""
        print(
            f"  {tool:<24} {size:>5} SLOs  run {rep + 1}/{reps}: {wall:7.2f} s  (exit {code}){evaluation}", flush=True
        )
    return run


def gatepack_sli(directory: Path, index: int) -> float | None:
    """The 30-day good/total ratio gatepack recorded for one service, read from its evidence."""
    packets = sorted((directory / "evidence").glob("*.json"))
    if not packets:
        return None
    packet = json.loads(packets[-1].read_text(encoding="utf-8"))
    check = packet["checks"][index]
    values = {q["role"]: q["value"] for q in outcomes_of(check, packet) if q["window"] == PERIOD}
    if not values.get("total"):
        return None
    return values["good"] / values["total"]


def slogen_sli(log: Path, index: int) -> float | None:
    """The 30-day SLI slo-generator logged for one service (``SLI: 99.87 %`` on its w30d step line)."""
    pattern = re.compile(rf"{re.escape(service(index))}-availability\s*\|\s*w{PERIOD}\s*\|.*?SLI:\s*([0-9.]+)\s*%")
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = pattern.search(line)
        if match:
            return float(match.group(1)) / 100
    return None


GATEPACK = "gatepack"
UNGROUPED = "gatepack (no grouping)"
SLOGEN = "slo-generator"
BASELINE = "gatepack (baseline build)"
CONTEXT = "gatepack (with context series)"
TOOLS = (GATEPACK, CONTEXT, BASELINE, UNGROUPED, SLOGEN)


def table(runs: list[Run]) -> list[str]:
    """Markdown rows; the last column is slo-generator's wall time divided by that gatepack row's."""
    rows = [
        "| SLOs | tool | wall s (best) | ms/SLO | checks/s | HTTP requests/check | TCP connections | peak RSS MiB "
        "| KiB/SLO | Prometheus eval s | wall ÷ eval | slo-generator time ÷ this |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_size: dict[int, dict[str, Run]] = {}
    for run in runs:
        by_size.setdefault(run.size, {})[run.tool] = run
    for size, tools in sorted(by_size.items()):
        for name in TOOLS:
            if name not in tools:
                continue
            run = tools[name]
            theirs = tools.get(SLOGEN)
            ratio = ""
            if theirs is not None and name != SLOGEN:
                ratio = f"{theirs.wall / run.wall:.1f}×" + (" (est.)" if theirs.estimated else "")
            if run.estimated:
                rows.append(
                    f"| {size} | {name} (estimated: {size // 1000}× its 1000-SLO time) | {run.wall:.0f} | "
                    f"{1000 * run.wall / size:.1f} | | | | | | | | |"
                )
                continue
            evaluation = f"{run.server_eval:.2f}" if run.evals else ""
            over = f"{run.wall / run.server_eval:.2f}×" if run.evals and run.server_eval > 0 else ""
            rows.append(
                f"| {size} | {name} | {run.wall:.2f} | {1000 * run.wall / size:.2f} | {run.checks_per_second:.1f} | "
                f"{run.requests_per_check:.2f} | {run.connections} | {run.peak_rss_kib / 1024:.0f} | "
                f"{run.peak_rss_kib / size:.1f} | {evaluation} | {over} | {ratio} |"
            )
    return rows


def growth(runs: list[Run]) -> list[str]:
    """How wall time and peak RSS grow from 1000 SLOs to each larger size, per tool (linear is ×size/1000)."""
    lines = []
    base = {run.tool: run for run in runs if run.size == 1000 and not run.estimated}
    for run in sorted(runs, key=lambda r: (r.tool, r.size)):
        start = base.get(run.tool)
        if start is None or run.size <= 1000 or run.estimated:
            continue
        factor = run.size / 1000
        lines.append(
            f"{run.tool}, 1000 → {run.size} SLOs ({factor:.0f}× the SLOs): wall ×{run.wall / start.wall:.2f}, "
            f"peak RSS ×{run.peak_rss_kib / start.peak_rss_kib:.2f}; per SLO {1000 * start.wall / 1000:.2f} → "
            f"{1000 * run.wall / run.size:.2f} ms and {start.peak_rss_kib / 1000:.1f} → {run.peak_rss_kib / run.size:.1f} KiB"
        )
    return lines


def compile_bytecode() -> None:
    """Byte-compile gatepack's own modules once, as installing a wheel does (slo-generator's were by pip).

    The checkout is an editable install: with ``PYTHONDONTWRITEBYTECODE`` set (the Dockerfile and these
    machines set it) no ``.pyc`` is ever written for it, so every timed run would compile every module
    again (about 0.1 s of CPU per run); existing ``.pyc`` files are read whatever that variable says.
    """
    sources = [str(ROOT / "slo"), str(ROOT / "collector")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=True, stdout=subprocess.DEVNULL)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through running_prometheus, which stops the server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated SLO counts")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per tool and size (best is kept)")
    parser.add_argument(
        "--reps-large",
        type=int,
        default=1,
        help="repetitions at >= 1000 SLOs for the two slow rows (grouped gatepack keeps --reps)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not rewrite bench/RESULTS.md")
    parser.add_argument(
        "--baseline-bin",
        type=Path,
        help="another gatepack executable (e.g. an older checkout's .venv/bin/gatepack) measured in the same run",
    )
    parser.add_argument(
        "--gatepack-only", action="store_true", help="skip slo-generator and the ungrouped row (before/after runs)"
    )
    parser.add_argument(
        "--slow-max",
        type=int,
        default=1000,
        help="largest size at which slo-generator, the ungrouped row and the baseline build run; above it "
        "slo-generator's time is estimated linearly from its largest measured size (it sends one query at a time) "
        "and gatepack runs --reps-large times",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    if not args.gatepack_only:
        ensure_slogen()
    compile_bytecode()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    now = int(time.time()) // 60 * 60
    started = time.perf_counter()
    families = build_families(max(sizes), now)
    samples = sum(len(s.timestamps) for f in families for s in f.series)
    series = sum(len(f.series) for f in families)
    print(f"generated {series} series, {samples} samples over {HISTORY // 86400} days", flush=True)
    runs: list[Run] = []
    checks: list[str] = []
    query_log = OUT / "prometheus-query.log"
    with running_prometheus(families, query_log=query_log) as prometheus:
        del families
        backfill_seconds = time.perf_counter() - started
        print(f"backfilled and started Prometheus at {prometheus.url} in {backfill_seconds:.1f} s", flush=True)
        compaction_seconds = wait_for_compaction(prometheus.url)
        # touch every chunk once so neither tool pays for the first read from disk
        httpx.post(
            f"{prometheus.url}/api/v1/query",
            data={"query": "sum(increase(bench_requests_total[30d]))", "time": str(now)},
            timeout=300,
        )
        for size in sizes:
            directory = OUT / str(size)
            directory.mkdir(parents=True)
            spec = write_gatepack_spec(size, directory)
            slo_dir, shared = write_slogen_configs(size, directory, prometheus.url)
            gatepack_cmd = [
                str(GATEPACK_BIN),
                "collect",
                str(spec),
                "-p",
                prometheus.url,
                "--at",
                str(now),
                "--out",
                str(directory / "evidence"),
            ]
            slogen_cmd = [str(SLOGEN_BIN), "compute", "-f", str(slo_dir), "-c", str(shared), "-t", str(now)]
            slow_reps = args.reps_large if size >= 1000 else args.reps
            url = prometheus.url
            reps = args.reps if size <= args.slow_max else args.reps_large
            if args.baseline_bin and size <= args.slow_max:
                # interleaved with ours rep by rep would be fairer still; one after the other on the same server
                baseline_cmd = [str(args.baseline_bin), *gatepack_cmd[1:-1], str(directory / "evidence-baseline")]
                runs.append(measure(BASELINE, size, baseline_cmd, directory, reps, url, query_log=query_log))
            # the comparison rows send the same PromQL as slo-generator: no context ranges (issue 15's charts);
            # the context row shows what the charts cost on top
            plain_cmd = [*gatepack_cmd, "--no-context"]
            runs.append(measure(GATEPACK, size, plain_cmd, directory, reps, url, query_log=query_log))
            if size <= args.slow_max:
                runs.append(measure(CONTEXT, size, gatepack_cmd, directory, slow_reps, url, query_log=query_log))
            ours = gatepack_sli(directory, size - 1)
            measured = [r for r in runs if r.tool == SLOGEN and not r.estimated]
            if args.gatepack_only or size > args.slow_max:
                checks.append(f"{size} SLOs: 30d SLI of {service(size - 1)}: gatepack {ours}")
                if not args.gatepack_only and measured:
                    largest = max(measured, key=lambda r: r.size)
                    guess = Run(SLOGEN, size, walls=[largest.wall * size / largest.size], estimated=True)
                    runs.append(guess)
                continue
            ungrouped_env = {"GATEPACK_GROUP_MAX": "0"}
            runs.append(measure(UNGROUPED, size, plain_cmd, directory, slow_reps, url, ungrouped_env, query_log))
            runs.append(measure(SLOGEN, size, slogen_cmd, directory, slow_reps, url, query_log=query_log))
            theirs = slogen_sli(directory / "slo-generator-0.log", size - 1)
            agree = ours is not None and theirs is not None and abs(ours - theirs) <= 5e-5
            checks.append(
                f"{size} SLOs: 30d SLI of {service(size - 1)}: gatepack {ours}, slo-generator {theirs} "
                f"({'agree' if agree else 'DIFFER'} to slo-generator's 0.01 % rounding; "
                f"expected {1 - rates(size - 1)[1]:.6f})"
            )
    rows = table(runs)
    grown = growth(runs)
    print()
    print("\n".join(rows))
    print()
    print("\n".join(grown))
    print()
    print("\n".join(checks))
    if not args.no_results:
        write_results(rows, grown, checks, series, samples, backfill_seconds, compaction_seconds, args)
    return 0


def write_results(
    rows: list[str],
    grown: list[str],
    checks: list[str],
    series: int,
    samples: int,
    backfill: float,
    compaction: float,
    args: argparse.Namespace,
) -> None:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    prometheus_version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, check=False)
    text = [
        "# Benchmark: gatepack collect vs slo-generator 2.6.0",
        "",
        f"Generated by `bench/collect.py` on {when}; machine: {os.cpu_count()} cores, "
        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"{(prometheus_version.stdout or '').splitlines()[0] if prometheus_version.stdout else 'prometheus'}.",
        "",
        f"Data: {series} counter series ({samples} samples, {HISTORY // 86400} days, hourly then 1-minute "
        f"for the last 8 hours), backfilled with promtool into one local Prometheus in {backfill:.0f} s; timing starts once its "
        f"compaction has settled ({compaction:.0f} s later). "
        f"Each SLO is a good/total ratio with objective {OBJECTIVE} % over {PERIOD}, queried over the windows "
        f"{', '.join(w for w, *_ in WINDOWS)} (gatepack's defaults; one slo-generator policy step per window), "
        "so both tools need 16 instant queries per SLO and send the same PromQL.",
        "",
        f"Wall time is the best of {args.reps} runs ({args.reps_large} at 1000 for the two slow rows, and for every "
        f"row above {args.slow_max} SLOs), as a whole process; peak RSS is the process's own `ru_maxrss`. "
        "`gatepack (no grouping)` is the same command with `GATEPACK_GROUP_MAX=0`: one request per distinct query, "
        "as slo-generator sends. Requests and TCP connections are counted by Prometheus itself "
        "(`prometheus_http_requests_total`, `net_conntrack_listener_conn_accepted_total`). `Prometheus eval s` is the "
        "server's own `evalTotalTime` summed over every query that run sent (its `query_log_file`, one JSON line per "
        "query); `wall ÷ eval` is the tool's wall time over it: 1.0× would mean the tool costs nothing beyond the "
        "backend's own work (queries run 8 at a time, so below 1× is possible). `ms/SLO` and `KiB/SLO` are wall "
        "time and peak RSS divided by the number of SLOs.",
        "",
        f"Above {args.slow_max} SLOs slo-generator is not run: it sends its queries one at a time, each on a new "
        "connection, so its time grows linearly; its row there is its largest measured time scaled by the number "
        "of SLOs, marked estimated, and so is the ratio against it. The ungrouped and baseline rows are not run "
        "there either.",
        "",
        *rows,
        "",
        *(
            ["Growth from 1000 SLOs (linear would be ×10 for 10 000):", "", *(f"- {line}" for line in grown), ""]
            if grown
            else []
        ),
        "Agreement (same series, same ratio):",
        "",
        *(f"- {line}" for line in checks),
        "",
        "slo-generator's Prometheus backend sends no `time` parameter, so it evaluates at its own wall clock;",
        "the data extends past that time with constant rates, so its ratios match gatepack's pinned ones.",
        "",
        "Reading the figures:",
        "",
        "- slo-generator sends its 16 queries per SLO one after another, each on a new TCP connection.",
        "- `gatepack (no grouping)` sends the same 16 distinct queries per SLO over one pool of 8 keep-alive",
        "  connections, 8 at a time. On this 2-core machine it is bound by the HTTP client's own CPU per request",
        "  (httpx/httpcore, a few ms each, sharing the cores with Prometheus), so concurrency and connection",
        "  reuse alone give well under 10×.",
        '- `gatepack` (the default) also notices that the SLOs\' queries differ only in `service="…"` and asks',
        '  one `sum by (service) (…{service=~"a|b|…"}…)` query per role and window for up to 1000 services',
        "  (`collector/sources/prometheus/grouping.py`), reading each check's value from its own series. Each outcome in the",
        "  evidence records the grouped query really sent, the digest of its response and the `selected`",
        "  series labels; the values are identical to the ungrouped run's (tests/test_grouping.py).",
        "- Its own CPU per SLO is kept low by analysing each query *form* once (`slo/promql/facts.py`: the 16 000",
        "  queries of 1000 SLOs have 16 forms; each query's facts are its form's with its label values put back),",
        "  reading all answers of a batch at once, and building outcomes without re-validation.",
        "- The machine is shared with other jobs, so absolute times vary from run to run; the ratios between rows",
        "  of one run are what this file is for.",
        "",
    ]
    results = BENCH / "RESULTS.md"
    results.write_text("\n".join(text) + _other_benchmarks(results), encoding="utf-8")
    print(f"\nwrote {results}")


def _other_benchmarks(results: Path) -> str:
    """The sections other bench scripts wrote (each starts ``# Benchmark:``): a collect run replaces only its own."""
    if not results.exists():
        return ""
    old = results.read_text(encoding="utf-8")
    marker = "\n# Benchmark:"
    start = old.find(marker, 1)
    return "\n" + old[start:] if start >= 0 else ""


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: gatepack's k6 NDJSON aggregate against the plain orjson loop and pandas.read_json.

    .venv/bin/python bench/loadtest_ndjson.py [--points 10000000] [--pandas-lines 1000000] [--workers 2]

Generates a k6 ``--out json`` file of N lines (Metric declarations + Points with k6's tags) in a temp dir,
then runs each contender in its own process so peak RSS is that process's own (plus its workers):

* gatepack: ``collector.sources.loadtest.k6_ndjson.aggregate`` → exact p95/p99 and error ratio per ``name``
  (``--workers`` processes, 2 by default, and once in one process);
* gatepack ingest: the real CLI end to end, ``gatepack ingest FILE --gate perf --spec SPEC --out DIR``
  with p95/p99 latency checks per ``name`` and an overall error_rate check (what users run; as no check
  selects by another tag nor reads a sample metric, it takes the lean read: the aggregate scan plus
  timestamps); peak memory is the CLI's whole process tree, polled: PSS summed (forked workers' shared
  pages once) and VmRSS summed (an upper bound); its CPU time is the kernel's for it and its workers;
  its ``value``s are read back from the evidence packet;
* floor: one loop, ``orjson.loads`` per line, floats appended to lists, numpy percentiles at the end;
* pandas: ``pd.read_json(lines=True)`` on the first M lines (what users try first).

gatepack's figures (aggregate's and the packet's) must equal the floor's exactly (same float64 values,
same numpy percentile), or the run fails. The temp dir is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NAMES = {  # name → (median ms, spread, failure probability, method, status when ok, status when failed)
    "fast": (12.0, 0.25, 0.001, "GET", "200", "500"),
    "slow": (160.0, 0.35, 0.01, "GET", "200", "504"),
    "flaky": (25.0, 0.3, 0.15, "GET", "200", "500"),
    "missing": (1.5, 0.2, 1.0, "GET", "404", "404"),
    "create": (35.0, 0.2, 0.02, "POST", "201", "500"),
    "redirect": (14.0, 0.25, 0.0, "GET", "200", "500"),
}
TRENDS = ("http_req_blocked", "http_req_connecting", "http_req_tls_handshaking", "http_req_sending")
TRENDS_AFTER = ("http_req_waiting", "http_req_receiving")


def _metric(name: str, kind: str, contains: str) -> str:
    data = {"name": name, "type": kind, "contains": contains, "thresholds": [], "submetrics": None}
    return json.dumps({"type": "Metric", "data": data, "metric": name}, separators=(",", ":"))


def generate(path: Path, points: int, seed: int = 7) -> int:
    """Write about ``points`` lines as k6 v1 writes them: a request's points back to back, same time/tags."""
    rng = random.Random(seed)
    names = list(NAMES)
    declared: set[str] = set()
    written = 0
    ns = 1_795_483_925_000_000_000
    buf: list[str] = []
    with path.open("w", encoding="utf-8") as out:

        def point(metric: str, kind: str, contains: str, value: str, tags: str, stamp: str) -> None:
            nonlocal written
            if metric not in declared:
                declared.add(metric)
                buf.append(_metric(metric, kind, contains))
                written += 1
            buf.append(
                f'{{"metric":"{metric}","type":"Point","data":{{"time":"{stamp}","value":{value},"tags":{tags}}}}}'
            )
            written += 1

        iteration = 0
        while written < points:
            iteration += 1
            ns += rng.randrange(50_000, 2_000_000)
            secs, frac = divmod(ns, 1_000_000_000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"
            name = names[iteration % len(names)]
            median, spread, p_fail, method, ok_status, bad_status = NAMES[name]
            failed = rng.random() < p_fail
            status = bad_status if failed else ok_status
            expected = "false" if failed else "true"
            tags = (
                f'{{"expected_response":"{expected}","group":"::api","method":"{method}","name":"{name}",'
                f'"proto":"HTTP/1.1","scenario":"steady","status":"{status}","tls_version":"tls1.3",'
                f'"url":"https://test.example/{name}"}}'
            )
            duration = round(rng.lognormvariate(0, spread) * median, 6)
            point("http_reqs", "counter", "default", "1", tags, stamp)
            point("http_req_duration", "trend", "time", repr(duration), tags, stamp)
            for metric in TRENDS:
                point(metric, "trend", "time", repr(round(rng.random() * 0.3, 6)), tags, stamp)
            for metric in TRENDS_AFTER:
                point(metric, "trend", "time", repr(round(duration * rng.random(), 6)), tags, stamp)
            point("http_req_failed", "rate", "default", "1" if failed else "0", tags, stamp)
            plain = '{"group":"","scenario":"steady"}'
            point("data_sent", "counter", "data", str(rng.randrange(80, 400)), plain, stamp)
            point("data_received", "counter", "data", str(rng.randrange(200, 5000)), plain, stamp)
            point("iterations", "counter", "default", "1", plain, stamp)
            if iteration % 100 == 0:
                point("vus", "gauge", "default", str(rng.randrange(1, 50)), "{}", stamp)
            if len(buf) > 50_000:
                out.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            out.write("\n".join(buf) + "\n")
    return written


# ------------------------------------------------------------------------------ contenders (subprocesses)


def _peak_mib(workers: int = 0) -> float:
    """Own peak RSS plus ``workers`` times the largest reaped worker's (an upper bound of the sum, as the
    kernel only reports the largest child): ru_maxrss is KiB on Linux."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if workers > 1 else 0
    return (own + workers * kids) / 1024.0


def run_gatepack(path: Path, workers: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from collector.sources.loadtest.k6_ndjson import aggregate

    start = time.perf_counter()
    agg = aggregate(path, workers=workers)
    table = agg.per_name()
    seconds = time.perf_counter() - start
    figures = {
        name: [row["p(95)"], row["p(99)"], row["error_ratio"], int(row["count"])] for name, row in table.iterrows()
    }
    peak = _peak_mib(workers)
    return {"lines": agg.lines, "seconds": seconds, "peak_mib": peak, "figures": figures, "notes": agg.notes}


def run_floor(path: Path) -> dict:
    import numpy as np
    import orjson

    start, cpu_start = time.perf_counter(), time.process_time()
    durations: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    lines = 0
    with path.open("rb") as fh:
        for line in fh:
            lines += 1
            obj = orjson.loads(line)
            if obj["type"] != "Point":
                continue
            metric = obj["metric"]
            if metric == "http_req_duration":
                data = obj["data"]
                durations.setdefault(data["tags"]["name"], []).append(data["value"])
            elif metric == "http_req_failed":
                data = obj["data"]
                if data["value"]:
                    name = data["tags"]["name"]
                    failed[name] = failed.get(name, 0) + 1
    figures = {}
    for name, values in durations.items():
        arr = np.asarray(values, dtype=np.float64)
        p95, p99 = np.percentile(arr, [95.0, 99.0])
        figures[name] = [float(p95), float(p99), failed.get(name, 0) / len(values), len(values)]
    overall = sum(failed.values()) / sum(len(v) for v in durations.values())
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "lines": lines,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mib": _peak_mib(),
        "figures": figures,
        "error_ratio": overall,
    }


def ingest_spec(names: list[str]) -> str:
    """A gate whose checks are what the requirement names: p95 and p99 per ``name``, overall error ratio.

    Bounds are loose on purpose: the verdicts do not matter here, the measured values do.
    """
    checks = [
        f'  - {{id: {stat}-{name}, kind: loadtest, metric: latency, label: {name}, threshold: "{stat[0]}({stat[1:]})<1e9"}}'
        for name in names
        for stat in ("p95", "p99")
    ]
    checks.append('  - {id: errors, kind: loadtest, metric: error_rate, threshold: "rate<=1"}')
    return "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: ingest bench\nchecks:\n" + "\n".join(checks) + "\n"


def _pss_kib(pid: int) -> int:
    """Proportional set size (KiB): pages shared with the forked workers counted once across the tree."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_kib(root: int) -> tuple[int, int]:
    """(sum of VmRSS, sum of PSS) of ``root`` and all its descendants (KiB), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields["PPid"])
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, total, pss = {root}, 0, 0
    for pid in sorted(parents):  # children have higher pids than parents, except after pid wrap
        if pid in tree or parents[pid] in tree:
            tree.add(pid)
    for pid in tree:
        total += rss.get(pid, 0)
        pss += _pss_kib(pid)
    return total, pss


def run_ingest(path: Path) -> dict:
    gatepack = Path(sys.executable).with_name("gatepack")
    with tempfile.TemporaryDirectory(prefix="gatepack-ingest-") as tmp:
        spec = Path(tmp) / "gate.yaml"
        spec.write_text(ingest_spec(sorted(NAMES)))
        out = Path(tmp) / "ev"
        cmd = [str(gatepack), "ingest", str(path), "--gate", "perf", "--spec", str(spec), "--out", str(out)]
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = peak_pss = 0
        while proc.poll() is None:
            rss, pss = _tree_kib(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.returncode not in (0, 1):  # 1: the gate failed, still a packet
            raise SystemExit(f"gatepack ingest exit {proc.returncode}: {stderr.strip()[-500:]}")
        [packet] = list(out.glob("perf-*.json"))
        checks = {c["id"]: c.get("value") for c in json.loads(packet.read_text())["checks"]}
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest single process, KiB
    figures = {name: [checks[f"p95-{name}"], checks[f"p99-{name}"]] for name in NAMES}
    notes = [line.split("note:", 1)[1].strip() for line in stderr.splitlines() if "note:" in line]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_pss_mib": peak_pss / 1024.0,
        "peak_mib": max(peak, kids) / 1024.0,
        "largest_process_mib": kids / 1024.0,
        "figures": figures,
        "error_ratio": checks["errors"],
        "notes": notes,
    }


def run_pandas(path: Path) -> dict:
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_json(path, lines=True)
    seconds = time.perf_counter() - start
    return {"lines": len(frame), "seconds": seconds, "peak_mib": _peak_mib()}


def measure(kind: str, path: Path, workers: int) -> dict:
    cmd = [sys.executable, __file__, "--run", kind, "--file", str(path), "--workers", str(workers)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--pandas-lines", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="write the generated file here instead of a deleted temp dir")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the file already there")
    parser.add_argument("--run", choices=["gatepack", "ingest", "floor", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        runner = {
            "gatepack": lambda p: run_gatepack(p, args.workers),
            "ingest": run_ingest,
            "floor": run_floor,
            "pandas": run_pandas,
        }
        print(json.dumps(runner[args.run](Path(args.file))))
        return 0

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gatepack-ndjson-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        path = tmp / "metrics.ndjson"
        started = time.perf_counter()
        if args.keep and path.exists() and args.reuse:
            lines = sum(1 for _ in path.open("rb"))
            print(f"reusing {path}: {lines:,} lines")
        else:
            lines = generate(path, args.points)
        size = path.stat().st_size
        print(f"generated {lines:,} lines, {size / 2**30:.2f} GiB in {time.perf_counter() - started:.0f} s")
        sliced = tmp / "slice.ndjson"
        with path.open("rb") as src, sliced.open("wb") as dst:
            for number, line in enumerate(src):
                if number >= args.pandas_lines:
                    break
                dst.write(line)
        results: dict[str, dict] = {
            "gatepack": measure("gatepack", path, args.workers),
            "gatepack (1 process)": measure("gatepack", path, 1),
            "gatepack ingest (CLI, end to end)": measure("ingest", path, args.workers),
            "floor (orjson loop)": measure("floor", path, 1),
            f"pandas.read_json ({args.pandas_lines:,} lines)": measure("pandas", sliced, 1),
        }
        return report(results)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[str, dict]) -> int:
    print(f"\n{'contender':<36} {'lines':>12} {'seconds':>9} {'lines/s':>12} {'peak RSS MiB':>13}")
    rates = {}
    lines = results["floor (orjson loop)"].get("lines")
    for name, res in results.items():
        if "error" in res:
            print(f"{name:<36} failed: {res['error']}")
            continue
        res.setdefault("lines", lines)  # the CLI does not print how many lines it read: the same file
        rates[name] = res["lines"] / res["seconds"]
        print(f"{name:<36} {res['lines']:>12,} {res['seconds']:>9.2f} {rates[name]:>12,.0f} {res['peak_mib']:>13,.0f}")
    gate, floor = results["gatepack"], results["floor (orjson loop)"]
    if "error" in gate or "error" in floor:
        return 1
    print()
    for name, rate in rates.items():
        if name == "gatepack":
            continue
        print(f"gatepack / {name:<30} throughput ratio {rates['gatepack'] / rate:6.2f}x")
    equal = gate["figures"] == floor["figures"]
    print(f"\nper-name p95/p99/error ratio identical to the floor's numpy result: {equal}")
    for name in sorted(gate["figures"]):
        p95, p99, ratio, count = gate["figures"][name]
        print(f"  {name:<10} n={count:>9,} p95={p95:10.6f} ms p99={p99:10.6f} ms errors={ratio:.6f}")
    if gate.get("notes"):
        print("notes:", "; ".join(gate["notes"]))
    ok = equal and gate["peak_mib"] < 1024 and rates["gatepack"] >= rates["floor (orjson loop)"]
    print(f"\naggregate() requirement (exact, < 1 GiB, >= floor): {'met' if ok else 'NOT met'}")
    return 0 if ok and _report_ingest(results, rates) else 1


def _report_ingest(results: dict[str, dict], rates: dict[str, float]) -> bool:
    """The CLI end to end: the packet's p95/p99 per name and error ratio against the floor's numpy figures."""
    name = "gatepack ingest (CLI, end to end)"
    ingest, floor = results.get(name, {"error": "not run"}), results["floor (orjson loop)"]
    if "error" in ingest:
        return False
    ratio = rates[name] / rates["floor (orjson loop)"]
    cpu_ratio = floor["cpu_seconds"] / ingest["cpu_seconds"]
    print(f"\n{name}: {rates[name]:,.0f} lines/s = {ratio:.2f}x the floor (wall)")
    print(
        f"  CPU: ingest {ingest['cpu_seconds']:.1f} s (process and workers), floor {floor['cpu_seconds']:.1f} s: "
        f"the floor spends {cpu_ratio:.2f}x the CPU ingest does"
    )
    print(
        f"  peak memory: {ingest['peak_pss_mib']:,.0f} MiB PSS over the process tree (shared pages once), "
        f"{ingest['peak_mib']:,.0f} MiB VmRSS summed (an upper bound); largest single process "
        f"{ingest['largest_process_mib']:,.0f} MiB"
    )
    worst = 0.0
    for label, (p95, p99) in sorted(ingest["figures"].items()):
        want = floor["figures"][label][:2]
        worst = max(worst, *(abs(g - w) / abs(w) for g, w in zip((p95, p99), want, strict=True)))
        print(f"  {label:<10} packet p95={p95!r} p99={p99!r}  floor p95={want[0]!r} p99={want[1]!r}")
    print(f"  errors     packet {ingest['error_ratio']!r}  floor {floor['error_ratio']!r}")
    equal = {k: v[:2] for k, v in floor["figures"].items()} == ingest["figures"]
    equal = equal and ingest["error_ratio"] == floor["error_ratio"]
    print(f"  packet values identical to the floor's numpy result: {equal} (largest relative difference {worst:.1e})")
    if ingest.get("notes"):
        print("  notes:", "; ".join(ingest["notes"]))
    ok = equal and ingest["peak_pss_mib"] <= 512 and ratio >= 2.0
    print(f"ingest requirement (issue 16: exact, <= 512 MiB, >= 2x the floor): {'met' if ok else 'NOT met'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())

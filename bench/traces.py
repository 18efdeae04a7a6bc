"""Three trace checks over an OTLP JSON-lines file of ~1M spans, next to a plain ``json.loads`` pass (the floor).

Why this exists: issue 11 asks that evaluating a gate's trace checks from an OTLP file be at least as
fast as merely parsing the file with ``json.loads`` line by line, with peak memory under 200 MiB
whatever the file's size. This script

* writes the file: a template of real opentelemetry-sdk spans (``tests/test_traces_otlp.generate``:
  GenAI chat calls with token counts, tool calls with errors, decoys outside the window, of another
  service and of another span kind), encoded as the Collector's file exporter writes it, then
  repeated with a new trace-id prefix per copy until the size is reached (the SDK alone would keep
  every span in memory);
* runs, each in a fresh child process, the floor (``json.loads`` of every line, nothing else) and
  ``gatepack``'s OTLP file source evaluating one gate of three checks (an ``error_ratio`` trace check,
  a ``p95`` trace check and an ``ai_cost`` per-run check) in one pass;
* reports spans/s from wall time (what a user waits; gatepack scans a large plain file with two
  worker processes) and from CPU time of all processes (the child and its workers: on a shared
  machine wall time depends on the neighbours), the peak memory of the whole process tree (the sum
  of the processes' proportional set sizes, sampled every 50 ms, or the child's own peak RSS if
  larger; the floor: its peak RSS), and both ratios to the floor;
* checks the three values against the generator's own record (numpy), so a fast wrong answer fails.

Run ``.venv/bin/python bench/traces.py`` (``--sizes 1000000,3000000``; ``--code DIR`` imports gatepack
from another checkout, e.g. ``/work/main`` before the change, against the same files).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATE = """
apiVersion: gatepack/v1
kind: Gate
id: ai-traces
title: AI traces
checks:
  - {id: tool-errors, kind: trace, window: 24h, filter: {service: agent, span_name: execute_tool search, attributes: {gen_ai.tool.name: search}}, aggregate: error_ratio, op: "<=", target: 0.25}
  - {id: chat-p95, kind: trace, window: 24h, filter: {service: agent, span_kind: client, span_name_regex: "^chat "}, aggregate: p95, op: "<=", target: 4, unit: s}
  - {id: cost-per-run, kind: ai_cost, window: 24h, filter: {service: agent}, per: run, aggregate: avg, op: "<=", target: 0.05, unit: USD}
"""
TEMPLATE_RUNS = 2000

FLOOR = """
import json, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
lines = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        json.loads(line)
        lines += 1
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "lines": lines,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

GATEPACK = """
import asyncio, json, os, resource, sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from collector.run import evaluate_gate
from collector.sources.traces.otlp_file import OtlpFileSource
from collector.sources.traces.pricing_file import load_pricing
from slo.loader import load_gates

def tree_kib():
    # proportional set size of this process and its children (forked workers share pages: PSS splits them)
    pids, total = [os.getpid()], 0
    for task in os.listdir("/proc/self/task"):
        try:
            pids += [int(p) for p in open(f"/proc/self/task/{task}/children").read().split()]
        except OSError:
            pass
    for pid in pids:
        try:
            for row in open(f"/proc/{pid}/smaps_rollup"):
                if row.startswith("Pss:"):
                    total += int(row.split()[1])
        except OSError:
            pass
    return total

peak, sampler_cpu = [0], [0.0]
done = threading.Event()
def sample():
    while not done.wait(0.05):
        peak[0] = max(peak[0], tree_kib())
    sampler_cpu[0] = time.thread_time()  # reading smaps_rollup costs kernel time: not gatepack's
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
table, pricing_input = load_pricing(Path(sys.argv[2]))
gate = load_gates(sys.argv[3], "bench.yaml")[0]
at = float(sys.argv[5])
t0, c0 = time.perf_counter(), time.process_time()
run = asyncio.run(evaluate_gate(gate, at=at, sources=[OtlpFileSource([Path(sys.argv[1])], table, pricing_input)]))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
done.set()
sampler.join()
cpu -= sampler_cpu[0]
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": cpu + children.ru_utime + children.ru_stime, "workers_cpu": children.ru_utime + children.ru_stime,
                  "peak_kib": max(peak[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
                  "values": {r.id: r.value for r in run.results}, "reasons": {r.id: r.reason for r in run.results}}))
"""


def _template(folder: Path) -> tuple[list[bytes], list[dict]]:
    """SDK spans written as the file exporter does, and the generator's record of each."""
    sys.path.insert(0, str(ROOT))
    from tests.test_traces_otlp import generate

    path = folder / "template.jsonl"
    record = generate(path, runs=TEMPLATE_RUNS, seed=11)
    return path.read_bytes().splitlines(), record


def write_file(path: Path, spans: int, template: list[bytes], per_copy: int) -> int:
    """Copies of the template, each with its own trace ids (a new 8-hex-digit prefix); returns the span count."""
    import orjson

    documents = [orjson.loads(line) for line in template]
    copies = math.ceil(spans / per_copy)
    tmp = path.with_suffix(".partial")
    with tmp.open("wb") as out:
        for copy in range(copies):
            prefix = f"{copy:08x}"
            for document in documents:
                for resource_spans in document["resourceSpans"]:
                    for scope in resource_spans["scopeSpans"]:
                        for span in scope["spans"]:
                            span["traceId"] = prefix + span["traceId"][8:]
                out.write(orjson.dumps(document) + b"\n")
    tmp.rename(path)
    return copies * per_copy


def expected(record: list[dict], copies: int) -> dict[str, float]:
    """The three values computed from the generator's record (numpy), independently of gatepack."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from tests.test_traces_otlp import price

    mine = [r for r in record if r["service"] == "agent" and r["inside"]]
    tools = [r for r in mine if r["name"] == "tool"]
    chats = [r for r in mine if r["name"] == "chat" and r["kind"] == "client"]
    runs = sorted({r["run"] for r in mine})
    per_run = {run: sum(price(r) for r in chats if r["run"] == run) for run in runs}
    durations = np.tile([r["duration"] for r in chats], copies)
    return {
        "tool-errors": sum(r["error"] for r in tools) / len(tools),
        "chat-p95": float(np.percentile(durations, 95)),
        "cost-per-run": float(np.mean(list(per_run.values()))),
    }


def _child(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(runs: list[dict]) -> dict:
    """The run with the least wall time (the neighbours slowed it least); its CPU and peak are its own."""
    return min(runs, key=lambda r: r["wall"])


def make(folder: Path, size: int) -> dict:
    """Child mode: template, file and expected values (the SDK and numpy stay out of the measuring parent)."""
    template, record = _template(folder)
    per_copy = len(record)
    copies = math.ceil(size / per_copy)
    path = folder / f"spans-{size}.jsonl"
    if not path.exists():
        write_file(path, size, template, per_copy)
    import yaml

    from tests.test_traces_otlp import AT, PRICE_YAML

    prices = folder / "prices.yaml"
    prices.write_text(yaml.safe_dump(PRICE_YAML))
    return {
        "path": str(path),
        "prices": str(prices),
        "at": AT,
        "spans": copies * per_copy,
        "template_spans": per_copy,
        "template_lines": len(template),
        "expected": expected(record, copies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000", help="spans per file, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the best CPU time is kept")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "gatepack-bench-traces")
    parser.add_argument("--code", type=Path, default=ROOT, help="import gatepack from this checkout")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.make:
        print(json.dumps(make(args.dir, args.make)))
        return 0
    # The parent stays small (stdlib only): a child's ru_maxrss starts from its parent's at fork.
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]}")
    print(f"code: {args.code}")
    print()
    print(
        "| spans | file MiB | pass | spans/s (wall) | spans/s (CPU) | CPU s (all processes) | wall s | peak MiB | ÷ floor (wall) | ÷ floor (CPU) |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    failures = []
    notes = []
    for size in (int(s) for s in args.sizes.split(",")):
        made = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--dir", str(args.dir), "--make", str(size)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
        path, spans = Path(made["path"]), made["spans"]
        mib = path.stat().st_size / 2**20
        floor = best([_child(FLOOR, str(path)) for _ in range(args.runs)])
        mine = best(
            [
                _child(GATEPACK, str(path), made["prices"], GATE, str(args.code), str(made["at"]))
                for _ in range(args.runs)
            ]
        )
        for name, row in (("json.loads floor", floor), ("gatepack 3 checks", mine)):
            walls = f"{floor['wall'] / mine['wall']:.2f}×" if row is mine else ""
            cpus = f"{floor['cpu'] / mine['cpu']:.2f}×" if row is mine else ""
            print(
                f"| {spans:,} | {mib:,.0f} | {name} | {spans / row['wall']:,.0f} | {spans / row['cpu']:,.0f} "
                f"| {row['cpu']:.2f} | {row['wall']:.2f} | {row['peak_kib'] / 1024:.0f} | {walls} | {cpus} |"
            )
        for check, value in made["expected"].items():
            got = mine["values"].get(check)
            if got is None or not math.isclose(got, value, rel_tol=1e-9):
                failures.append(f"{size}: {check} = {got}, expected {value} ({mine['reasons'].get(check)})")
        workers = mine.get("workers_cpu", 0.0)
        notes.append(
            f"{spans:,} spans: gatepack CPU {mine['cpu']:.2f} s = workers {workers:.2f} s + parent "
            f"{mine['cpu'] - workers:.2f} s (on idle cores the wall time is about the parent's plus half the workers')"
        )
        notes.append(
            f"{spans:,} spans: template of {made['template_spans']} SDK spans in {made['template_lines']} lines; "
            + ", ".join(f"{k}={v:.6g}" for k, v in made["expected"].items())
        )
        if not args.keep:
            path.unlink()
    print()
    print("\n".join(notes))
    if failures:
        print("WRONG VALUES:\n" + "\n".join(failures))
        return 1
    print("values agree with the generator's record (numpy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

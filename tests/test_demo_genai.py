"""``make demo`` evaluates the AI gates from its OTLP trace file next to Prometheus, checked against the truth.

The truth of every trace check is recomputed from the demo generator's own record of the spans it
emitted (:class:`collector.demo.traces.TraceRecord`) and from the numbers in the demo's price file
(read here as plain YAML); the cost from the metric is the closed form of the metric world's rates.
Nothing is read back from gatepack's output to build an expected number.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from collector.demo.traces import TraceRecord, build_spans
from collector.demo.world import GENAI_CALLS
from collector.timeutil import parse_time
from tests.conftest import ROOT

DAY = 86400
PRICE_FILE = ROOT / "examples" / "pricing.yaml"
AGENT_RUNS_PER_SECOND = 0.05  # collector/demo/world.py: the metric world's agent runs


def prices() -> dict[str, tuple[float, float]]:
    """model name -> USD per 1M (input, output), straight from the YAML (exact names and regexes)."""
    document = yaml.safe_load(PRICE_FILE.read_text(encoding="utf-8"))
    return {entry.get("model") or entry["match"]: (entry["input"], entry["output"]) for entry in document["models"]}


def price_of(model: str, response_model: str) -> tuple[float, float]:
    table = prices()
    if response_model in table:
        return table[response_model]
    if model in table:
        return table[model]
    [found] = [rates for name, rates in table.items() if name.startswith("^") and model.startswith(name[1:])]
    return found


def trace_truth(record: TraceRecord, end: int) -> dict[str, float]:
    """Every trace check of gates 06 and 07 over the day ending at ``end``, from the generator's record."""
    start, stop = (end - DAY) * 10**9, end * 10**9
    runs = {run for run, at in record.runs.items() if start <= at < stop}
    tools = [t for t in record.tools if start <= t.start_ns < stop]
    chats = [c for c in record.chats if start <= c.start_ns < stop]
    cost_by_run = dict.fromkeys(runs, 0.0)
    for chat in chats:
        p_in, p_out = price_of(chat.model, chat.response_model)
        cost_by_run[chat.run] = (
            cost_by_run.get(chat.run, 0.0) + (chat.input_tokens * p_in + chat.output_tokens * p_out) / 1e6
        )
    return {
        "tool-failure-ratio": sum(t.error is not None for t in tools) / len(tools),
        "tool-timeouts": float(sum(t.error == "timeout" for t in tools)),
        "cost-per-run": float(np.mean(list(cost_by_run.values()))),
        "runs-traced": float(len(runs)),
        "chat-latency-p95": float(np.percentile([c.duration_s for c in chats], 95)),
    }


def metric_cost_per_day(scenario: str) -> float:
    """Closed form of the metric world: runs/s × 1 day × per-run tokens × price (× 3 for the prompt loop)."""
    loop = 3.0 if scenario == "degraded" else 1.0
    runs = AGENT_RUNS_PER_SECOND * DAY
    total = 0.0
    for model, response_model, tokens_in, tokens_out in GENAI_CALLS:
        p_in, p_out = price_of(model, response_model)
        total += runs * loop * (tokens_in * p_in + tokens_out * p_out) / 1e6
    return total


def test_truth_is_what_the_catalog_targets_expect():
    """The healthy world passes every GenAI target with a margin, the degraded one breaks the cost ones."""
    end = 1_790_000_040
    healthy = trace_truth(build_spans("healthy", end)[1], end)
    degraded = trace_truth(build_spans("degraded", end)[1], end)
    assert healthy["tool-failure-ratio"] < 0.02 and healthy["chat-latency-p95"] < 2.5
    assert healthy["cost-per-run"] < 0.015 < degraded["cost-per-run"]
    assert metric_cost_per_day("healthy") < 50 < metric_cost_per_day("degraded")
    assert healthy["runs-traced"] == 288  # one run every 5 minutes; the older ones are outside the window


@pytest.mark.integration
@pytest.mark.parametrize("scenario", ["degraded"])
def test_make_demo_evaluates_the_ai_gates_from_its_trace_file(prometheus_binaries, tmp_path, scenario):
    out = tmp_path / "evidence"
    ran = subprocess.run(
        [sys.executable, "-m", "collector.demo", "--scenario", scenario, "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "GenAI checks" in ran.stdout
    packets = {p["gate"]["id"]: p for p in map(json.loads, map(Path.read_text, (out / scenario).glob("*.json")))}
    end = int(parse_time(packets["06-ai-action"]["evaluation"]["time"]))
    spans, record = build_spans(scenario, end)
    truth = trace_truth(record, end)
    traces_file = out / f"{scenario}-traces.jsonl"
    for gate_id in ("06-ai-action", "07-ai-quality"):
        packet = packets[gate_id]
        inputs = {i["role"]: i for i in packet["inputs"]}
        assert inputs["traces"]["sha256"] == hashlib.sha256(traces_file.read_bytes()).hexdigest()
        assert inputs["pricing"]["sha256"] == hashlib.sha256(PRICE_FILE.read_bytes()).hexdigest()
        for check in packet["checks"]:
            if check["id"] in truth:
                assert check["value"] == pytest.approx(truth[check["id"]], rel=1e-9), (gate_id, check["id"])
    checks = {c["id"]: c for c in packets["06-ai-action"]["checks"]}
    assert checks["cost-per-day"]["details"]["cost_source"] == "prometheus"
    assert checks["cost-per-day"]["value"] == pytest.approx(metric_cost_per_day(scenario), rel=1e-6)
    assert checks["cost-per-run"]["details"]["cost_source"].startswith("traces")
    assert checks["cost-per-run"]["details"]["spans_seen"] == len(spans)
    expected = {"degraded": "fail", "healthy": "pass"}[scenario]
    assert (checks["cost-per-day"]["verdict"], checks["cost-per-run"]["verdict"]) == (expected, expected)
    for check_id in ("tool-failure-ratio", "tool-timeouts", "runs-traced"):
        assert checks[check_id]["verdict"] == "pass", checks[check_id]["reason"]

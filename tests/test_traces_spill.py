"""Bounded memory on the real OTLP file path: spilled aggregates equal the in-memory ones, temp files go.

With the budgets lowered, a gate's trace and cost checks over a generated file (one process and two
workers) must give exactly the results of the unspilled scan; the spill directory must have held
files during the scan and be gone afterwards, also when a malformed line stops it; and peak traced
memory of a percentile check over a file must stay under what the unspilled scan needs.
"""

from __future__ import annotations

import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from collector.sources.base import RunContext
from collector.sources.traces import otlp_file
from collector.sources.traces import spill as file_spill
from collector.sources.traces.local import SpanBatch
from collector.sources.traces.otlp_file import OtlpFileSource, scan_file
from slo import packedruns, spill
from slo.aicost import CostAggregator
from slo.loader import load_gates
from tests.test_traces_otlp import AT, GATE, S, generate
from tests.test_traces_scan import EXTRA_CHECKS, _table

P99 = '  - {id: p99-all, kind: trace, window: 24h, aggregate: p99, op: "<=", target: 9}\n'
RUN_P95 = '  - {id: run-p95, kind: ai_cost, window: 24h, per: run, aggregate: p95, op: "<=", target: 9, unit: USD}\n'
TEXT = GATE + EXTRA_CHECKS + P99 + RUN_P95


def _results(path: Path, tmp_path: Path, spill_to: file_spill.SpillDir | None, workers: int) -> list[tuple]:
    gate = load_gates(TEXT, "g.yaml")[0]
    batch = SpanBatch(gate.checks, AT, _table(tmp_path), spill=spill_to.store if spill_to else None)
    spans = scan_file(path, batch, workers=workers)
    return [(spans, r.id, r.verdict, r.value, r.reason, r.details) for r in batch.results("2026-01-01T00:00:00Z")]


@pytest.fixture
def small_budgets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Budgets of a few values, and the system temp dir pointed at an empty folder this test can list."""
    monkeypatch.setattr(spill, "DURATION_BUDGET", 5)
    monkeypatch.setattr(spill, "SELECT_BUDGET", 3)
    monkeypatch.setattr(spill, "CHUNK", 8)
    monkeypatch.setattr(packedruns, "RUN_BUDGET", 4)
    monkeypatch.setattr(CostAggregator, "PACK_LIMIT", 2)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


@pytest.mark.parametrize("workers", [1, 2])
def test_spilled_scan_equals_the_in_memory_scan(tmp_path: Path, small_budgets: Path, workers: int):
    path = tmp_path / "spans.jsonl"
    generate(path, runs=120)
    plain = _results(path, tmp_path, None, workers)
    with file_spill.SpillDir() as where:
        spilled = _results(path, tmp_path, where, workers)
        assert where.path is not None and len(os.listdir(where.path)) > 2, "the budgets were passed: files expected"
    assert spilled == plain
    assert os.listdir(small_budgets) == []


def _context() -> RunContext:
    gate = load_gates(TEXT, "g.yaml")[0]
    return RunContext(gate=gate, at=AT, evaluated_at="2026-01-01T00:00:00Z", variables={})


def test_the_file_source_removes_its_spill_files_also_on_a_bad_line(
    tmp_path: Path, small_budgets: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "spans.jsonl"
    generate(path, runs=60)
    context = _context()
    spilled: list[str] = []
    real_store = file_spill.SpillDir.store

    def counted(self: file_spill.SpillDir, dtype: str) -> spill.SpillStore:
        store = real_store(self, dtype)
        spilled.append(dtype)
        return store

    monkeypatch.setattr(file_spill.SpillDir, "store", counted)
    good = OtlpFileSource([path], _table(tmp_path))._scan(context.gate.checks, context)
    assert {r.id: r.verdict.value for r in good}["p99-all"] in {"pass", "fail"}
    assert "f8" in spilled and "u8" in spilled, "the budgets were passed: both kinds of store expected"
    assert os.listdir(small_budgets) == []
    with path.open("a") as out:
        out.write('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}\n')
    lines = len(path.read_text().splitlines())
    real_scan = otlp_file.scan_file
    for workers in (1, 2):

        def forced(
            p: Path, batch: SpanBatch, stats: dict | None = None, _w: int | None = None, n: int = workers
        ) -> int:
            return real_scan(p, batch, stats, workers=n)

        monkeypatch.setattr(otlp_file, "scan_file", forced)
        results = OtlpFileSource([path], _table(tmp_path))._scan(context.gate.checks, context)
        assert all(r.verdict.value == "error" and f":{lines}:" in (r.reason or "") for r in results), results[0].reason
        assert os.listdir(small_budgets) == []


def _write_file(path: Path, lines: int, per_line: int) -> np.ndarray:
    """``lines`` lines of ``per_line`` server spans with known durations; returns the durations (seconds)."""
    rng = np.random.default_rng(11)
    durations = rng.integers(1, 5_000_000_000, lines * per_line)
    start = (AT - 3600) * S
    with path.open("w") as out:
        for line in range(lines):
            spans = [
                {
                    "traceId": f"{line * per_line + i:032x}",
                    "spanId": f"{i + 1:016x}",
                    "name": "GET /",
                    "kind": 2,
                    "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(start + int(durations[line * per_line + i])),
                }
                for i in range(per_line)
            ]
            out.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n")
    return durations / 1e9


def _peak(path: Path, where: file_spill.SpillDir | None) -> tuple[float, int]:
    check = load_gates(GATE.split("checks:")[0] + "checks:\n" + P99, "g.yaml")[0].checks
    tracemalloc.start()
    try:
        batch = SpanBatch(check, AT, spill=where.store if where else None)
        scan_file(path, batch, workers=1)
        value = batch.results("2026-01-01T00:00:00Z")[0].value
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_under_what_keeping_every_duration_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "spans.jsonl"
    durations = _write_file(path, lines=2000, per_line=200)  # 400k spans: 3.2 MB of float64 durations
    monkeypatch.setattr(spill, "DURATION_BUDGET", 20_000)
    monkeypatch.setattr(spill, "SELECT_BUDGET", 20_000)
    monkeypatch.setattr(spill, "CHUNK", 8192)
    expected = float(np.percentile(durations, 99))
    kept, kept_peak = _peak(path, None)
    with file_spill.SpillDir() as where:
        spilled, spilled_peak = _peak(path, where)
    assert kept == spilled == expected
    bound = durations.nbytes
    assert kept_peak > bound > spilled_peak, (kept_peak, bound, spilled_peak)

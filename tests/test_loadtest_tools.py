"""Real k6, Locust and hey runs against a local server; ingested numbers checked against ground truth.

Ground truth is independent of gatepack's code: the server's own request log (counts, statuses), the
Locust request listener's per-request record, the raw per-request files parsed here with the csv
module and numpy, and k6's own summary numbers for its percentiles.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from collector.sources.loadtest.evaluator import evaluate, load
from collector.sources.loadtest.measure import Window, table
from slo.spec import LoadtestCheck
from tests.conftest import unavailable
from tests.loadtest.server import LoggedRequest, running_server

HERE = Path(__file__).parent / "loadtest"
VENV_BIN = Path(sys.executable).parent
PERCENTILES = (50, 90, 95, 99, 99.9)


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        unavailable(f"{name} is not installed (pip install -e '.[dev]'; apt-get install hey)")
    assert found is not None
    return found


def check(**fields: object) -> LoadtestCheck:
    return LoadtestCheck(kind="loadtest", id=str(fields.pop("id", "c")), **fields)


def value_of(data, **fields: object) -> float:
    result = evaluate(data, check(**fields), "2026-01-01T00:00:00Z")
    assert result.value is not None, result.reason
    return result.value


@dataclass
class K6Run:
    log: list[LoggedRequest]
    summary_export: Path
    handle_summary: Path
    csv: Path


@pytest.fixture(scope="module")
def k6_run(tmp_path_factory: pytest.TempPathFactory) -> K6Run:
    k6 = _tool("k6")
    out = tmp_path_factory.mktemp("k6")
    with running_server(seed=11) as server:
        env = {
            **os.environ,
            "BASE": server.url,
            "HANDLE_SUMMARY": str(out / "handle-summary.json"),
            "K6_NO_USAGE_REPORT": "true",
            "K6_CSV_TIME_FORMAT": "unix_milli",  # whole seconds (the default) cannot show a 0.5 s trim
        }
        done = subprocess.run(
            [
                *(
                    k6,
                    "run",
                    "--quiet",
                    "--no-usage-report",
                    "--address",
                    "",
                    "--summary-export",
                    str(out / "summary.json"),
                ),
                *("--out", f"csv={out / 'k6.csv'}", str(HERE / "k6_script.js")),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        log = list(server.log.entries)
    # 99: k6's own http_req_failed threshold (rate<0.01) fails, as the server returns 404s and 500s
    assert done.returncode in (0, 99), done.stderr
    return K6Run(log, out / "summary.json", out / "handle-summary.json", out / "k6.csv")


def _failed(log: list[LoggedRequest]) -> int:
    return sum(1 for entry in log if entry.status >= 400)


def test_k6_counts_and_error_ratio_match_the_server_log(k6_run: K6Run) -> None:
    total, failed = len(k6_run.log), _failed(k6_run.log)
    assert total == 60 * 5  # 4 requests per iteration, the redirect is two
    for path in (k6_run.csv, k6_run.summary_export, k6_run.handle_summary):
        data = load([path])
        assert value_of(data, metric="requests", threshold="count>=1") == total, path
        assert value_of(data, metric="error_rate", threshold="rate<1") == pytest.approx(failed / total, abs=0), path
    per_path = Counter(e.path for e in k6_run.log)
    csv_data = load([k6_run.csv])
    assert value_of(csv_data, metric="requests", label="slow", threshold="count>0") == per_path["/slow"]
    slow_failed = sum(1 for e in k6_run.log if e.path == "/slow" and e.status >= 400)
    assert value_of(csv_data, metric="error_rate", label="slow", threshold="rate<1") == slow_failed / per_path["/slow"]


def _csv_durations(path: Path, name: str | None = None) -> np.ndarray:
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric_name"] == "http_req_duration"]
    return np.array([float(r["metric_value"]) for r in rows if name is None or r["name"] == name])


def test_k6_percentiles_equal_k6s_own_numbers(k6_run: K6Run) -> None:
    """Our percentiles over k6's raw CSV samples equal k6's summary (k6 prints 6 decimals in CSV)."""
    summary = json.loads(k6_run.summary_export.read_text())["metrics"]
    csv_data = load([k6_run.csv])
    for label, key in ((None, "http_req_duration"), ("fast", "http_req_duration{name:fast}")):
        raw = _csv_durations(k6_run.csv, label)
        for aggregation in ("p(90)", "p(95)", "p(99)", "p(99.9)", "med", "avg", "min", "max"):
            ours = value_of(csv_data, metric="latency", label=label, threshold=f"{aggregation}<1e9")
            assert ours == pytest.approx(summary[key][aggregation], abs=2e-6), (label, aggregation)
        for p in PERCENTILES:
            expected = float(np.percentile(raw, p, method="linear"))
            assert value_of(csv_data, metric="latency", label=label, threshold=f"p({p})<1e9") == pytest.approx(
                expected, rel=1e-12
            )
    # the summary readers hand back k6's own numbers untouched
    for path in (k6_run.summary_export, k6_run.handle_summary):
        assert value_of(load([path]), metric="latency", threshold="p(95)<1e9") == summary["http_req_duration"]["p(95)"]


def test_k6_custom_trend_and_submetrics(k6_run: K6Run) -> None:
    with k6_run.csv.open(newline="") as handle:
        waits = np.array(
            [float(r["metric_value"]) for r in csv.DictReader(handle) if r["metric_name"] == "custom_wait"]
        )
    assert waits.size == 60
    data = load([k6_run.csv])
    assert value_of(data, metric="custom_wait", threshold="p(90)<1e9") == pytest.approx(
        float(np.percentile(waits, 90)), rel=1e-12
    )
    summary = json.loads(k6_run.summary_export.read_text())["metrics"]
    assert (
        value_of(load([k6_run.summary_export]), metric="custom_wait", threshold="avg<1e9")
        == summary["custom_wait"]["avg"]
    )


def test_k6_thresholds_are_carried_with_the_right_polarity(k6_run: K6Run) -> None:
    """--summary-export says true for a *failed* threshold, handleSummary says ok: false; both mean failed."""
    for path in (k6_run.summary_export, k6_run.handle_summary):
        result = evaluate(load([path]), check(metric="error_rate", threshold="rate<0.5"), "t")
        carried = {t["threshold"]: t["ok"] for t in result.details["tool_thresholds"]}
        assert carried == {"rate<0.01": False}, path  # the server returns 404s and 500s
        latency = evaluate(load([path]), check(metric="latency", threshold="p(95)<2000"), "t")
        assert {t["metric"]: t["ok"] for t in latency.details["tool_thresholds"]} == {
            "http_req_duration": True,
            "http_req_duration{name:fast}": True,
        }


def test_k6_trimming_keeps_the_steady_state(k6_run: K6Run) -> None:
    with k6_run.csv.open(newline="") as handle:
        stamps = (
            np.array([float(r["timestamp"]) for r in csv.DictReader(handle) if r["metric_name"] == "http_req_duration"])
            / 1000.0  # K6_CSV_TIME_FORMAT=unix_milli
        )
    # a quarter of a short run, plus half a millisecond so that no millisecond timestamp lies on a boundary
    # (a sample exactly on it would be decided by float rounding, not by the trimming rule)
    skip = float(stamps.max() - stamps.min()) / 4 + 0.0005
    assert skip > 0.01, "k6 wrote whole-second timestamps"
    data = load([k6_run.csv], window=Window(skip_first=skip, skip_last=skip))
    expected = int(np.sum((stamps >= stamps.min() + skip) & (stamps <= stamps.max() - skip)))
    assert 0 < expected < stamps.size
    assert value_of(data, metric="requests", threshold="count>=0", min_samples=0) == expected


@pytest.fixture(scope="module")
def hey_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[LoggedRequest], Path]:
    hey = _tool("hey")
    out = tmp_path_factory.mktemp("hey") / "hey.csv"
    with running_server(seed=5) as server:
        done = subprocess.run(
            [hey, "-n", "240", "-c", "4", "-o", "csv", f"{server.url}/mixed"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        log = list(server.log.entries)
    assert done.returncode == 0, done.stderr
    out.write_text(done.stdout)
    return log, out


def test_hey_counts_errors_and_percentiles_are_exact(hey_run: tuple[list[LoggedRequest], Path]) -> None:
    log, path = hey_run
    data = load([path])
    assert data.results[0].format == "hey-csv"
    assert value_of(data, metric="requests", threshold="count>0") == len(log) == 240
    statuses = Counter(e.status for e in log)
    assert statuses[404] and statuses[500]  # the run saw both kinds of failure
    assert value_of(data, metric="error_rate", threshold="rate<1") == (statuses[404] + statuses[500]) / 240
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert Counter(int(r["status-code"]) for r in rows) == statuses
    ms = np.array([float(r["response-time"]) for r in rows]) * 1000.0
    for p in PERCENTILES:
        assert value_of(data, metric="latency", threshold=f"p({p})<1e9") == pytest.approx(
            float(np.percentile(ms, p, method="linear")), rel=1e-12
        )
    # hey measures at the client, so latency can only be longer than the delay the server injected
    assert value_of(data, metric="latency", threshold="p(50)<1e9") >= float(np.median([e.delay for e in log])) * 1000


@dataclass
class LocustRun:
    record: list[dict]
    json: Path
    stats_csv: Path


@pytest.fixture(scope="module")
def locust_run(tmp_path_factory: pytest.TempPathFactory) -> LocustRun:
    _tool("locust")
    out = tmp_path_factory.mktemp("locust")
    record = out / "record.jsonl"
    # a loaded machine (the suite runs on 2 workers) can start Locust's users late: run longer, never skip
    for seconds in (3, 8, 15):
        record.unlink(missing_ok=True)
        with running_server(seed=3) as server:
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "-u", "3"),
                    *("-r", "10", "-t", f"{seconds}s", "-H", server.url, "--json-file", str(out / "report")),
                    *("--csv", str(out / "run"), "--only-summary", "--skip-log", "--loglevel", "ERROR"),
                ],
                env={**os.environ, "RECORD_FILE": str(record)},
                capture_output=True,
                text=True,
                timeout=60 + seconds,
            )
        assert done.returncode in (0, 1), done.stderr  # 1: the run had failures (the 404s and 500s)
        lines = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        if len(lines) > 100:
            break
    assert len(lines) > 100, f"locust made only {len(lines)} requests in {seconds} s: {done.stderr[-500:]}"
    return LocustRun(lines, out / "report.json", out / "run_stats.csv")


LOCUST_FRACTIONS = {50.0: 0.5, 90.0: 0.9, 95.0: 0.95, 99.0: 0.99, 99.9: 0.999}
"""The fractions Locust's report uses for these percentiles."""


def locusts_own_percentiles(ms: list[float]) -> dict[float, float]:
    """Locust's bucketing and percentile function (locust/stats.py) over ``ms``, run by Locust itself.

    In a child process: importing locust monkey-patches the standard library (gevent) for the whole process.
    """
    code = (
        "import json, sys\n"
        "from collections import Counter\n"
        "from locust.stats import bucket_response_time, calculate_response_time_percentile\n"
        "ms, fractions = json.load(sys.stdin)\n"
        "buckets = Counter(bucket_response_time(m) for m in ms)\n"
        "print(json.dumps([calculate_response_time_percentile(buckets, len(ms), f) for f in fractions]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([ms, list(LOCUST_FRACTIONS.values())]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(zip(LOCUST_FRACTIONS, json.loads(done.stdout), strict=True))


def _rounding_bound(ms: float) -> float:
    """Locust's documented histogram rounding: whole ms below 100, then 2 significant digits."""
    return 0.5 if ms < 100 else 5.0 if ms < 1000 else 50.0 if ms < 10000 else 500.0  # locust/stats.py


def test_locust_json_matches_the_request_listener(locust_run: LocustRun) -> None:
    record = locust_run.record
    data = load([locust_run.json])
    assert data.results[0].format == "locust-json"
    assert value_of(data, metric="requests", threshold="count>0") == len(record)
    failed = sum(1 for r in record if r["failed"])
    assert failed > 0
    assert value_of(data, metric="error_rate", threshold="rate<1") == failed / len(record)
    for label in (None, "fast", "slow"):
        ms = np.array([r["ms"] for r in record if label is None or r["name"] == label])
        assert value_of(data, metric="requests", label=label, threshold="count>0") == ms.size
        # the truth is Locust's own figure: its bucketing and its percentile function (locust/stats.py) over
        # the requests the listener saw, with the fractions its report prints (0.95, 0.999 …)
        own = locusts_own_percentiles([float(m) for m in ms])
        for p in PERCENTILES:
            fraction = LOCUST_FRACTIONS[p]
            expected = own[p]
            ours = value_of(data, metric="latency", label=label, threshold=f"p({p})<1e9")
            assert ours == expected, (label, p, ours, expected)
            # a bucket value: within Locust's rounding of a real request time at its rank, never interpolated
            rank_value = float(np.sort(ms)[min(int(ms.size * fraction), ms.size - 1)])
            assert abs(ours - rank_value) <= _rounding_bound(rank_value), (label, p, ours, rank_value)
    result = evaluate(data, check(metric="latency", threshold="p(95)<1000"), "t")
    assert "rounded" in result.details["precision"]


def test_locust_json_wins_over_the_csv_snapshot(locust_run: LocustRun) -> None:
    csv_only = load([locust_run.stats_csv])
    snapshot = evaluate(csv_only, check(metric="requests", threshold="count>0"), "t")
    csv_count = snapshot.value if snapshot.value is not None else 0  # no_data: the snapshot had no requests yet
    assert csv_count <= len(locust_run.record)  # the 1 s snapshot can miss the last second
    both = load([locust_run.stats_csv, locust_run.json])
    assert [r.format for r in both.results] == ["locust-json"]
    assert any("ignored" in note and "_stats.csv" in note for note in both.notes)
    assert value_of(both, metric="requests", threshold="count>0") == len(locust_run.record)


def test_aggregate_table_lists_every_label(k6_run: K6Run) -> None:
    rows = {row["label"]: row for row in table(load([k6_run.csv]))}
    assert set(rows) == {"(all)", "fast", "slow", "redirect", "missing"}
    assert rows["missing"]["error_ratio"] == 1.0
    assert rows["(all)"]["count"] == len(k6_run.log)


def test_k6_csv_and_summary_together(k6_run: K6Run) -> None:
    """Per-request CSV decides (and can be trimmed); the summary's own thresholds still reach the evidence."""
    data = load([k6_run.csv, k6_run.summary_export])
    result = evaluate(data, check(metric="error_rate", threshold="rate<0.5"), "t")
    assert result.details["samples"] == len(k6_run.log)
    assert result.details["tool_thresholds"] == [
        {"metric": "http_req_failed", "threshold": "rate<0.01", "ok": False, "source": str(k6_run.summary_export)}
    ]
    trimmed = load([k6_run.csv, k6_run.summary_export], window=Window(skip_first=0.0, skip_last=0.01))
    assert any("totals over the whole test not used" in note for note in trimmed.notes)

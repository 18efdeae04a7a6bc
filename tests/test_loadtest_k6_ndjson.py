"""k6 NDJSON reader against real ``k6 run --out json`` files; expectations recomputed with json + numpy."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collector.sources.loadtest import k6_ndjson
from collector.sources.loadtest.model import LoadtestFormatError

RUNS = ["generated-v1.1.0", "generated-v1.1.0-abortOnFail", "generated-v2.2.0-14-g87883075c"]


@pytest.fixture(scope="module")
def k6dir(contract_fixtures: Path) -> Path:
    return contract_fixtures / "loadtest" / "k6"


def truth(path: Path) -> dict:
    """Per name: durations (ms) and failed count, from json.loads of every line."""
    durations: dict[str, list[float]] = defaultdict(list)
    failed: Counter[str] = Counter()
    points: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if obj["type"] != "Point":
            continue
        points[obj["metric"]] += 1
        tags = obj["data"]["tags"]
        if obj["metric"] == "http_req_duration":
            durations[tags.get("name") or tags["url"]].append(obj["data"]["value"])
        elif obj["metric"] == "http_req_failed" and obj["data"]["value"]:
            failed[tags.get("name") or tags["url"]] += 1
    return {"durations": durations, "failed": failed, "points": points}


@pytest.fixture(scope="module")
def parsed(k6dir: Path) -> dict[str, tuple[dict, object]]:
    return {
        run: (truth(k6dir / run / "metrics.ndjson"), k6_ndjson.read(k6dir / run / "metrics.ndjson")) for run in RUNS
    }


@pytest.mark.parametrize("run", RUNS)
def test_requests_match_json_module(k6dir: Path, parsed: dict, run: str) -> None:
    want, result = parsed[run]
    path = k6dir / run / "metrics.ndjson"
    assert k6_ndjson.sniff(path.read_bytes()[:4096], path)
    req = result.requests
    assert result.tool == "k6" and result.format == "k6-ndjson" and not result.notes
    assert len(req) == sum(len(v) for v in want["durations"].values())
    for name, values in want["durations"].items():
        got = req[req["label"] == name]
        assert len(got) == len(values)
        assert int((~got["ok"]).sum()) == want["failed"][name]
        np.testing.assert_array_equal(np.sort(got["duration"] * 1000), np.sort(np.asarray(values) / 1000 * 1000))
    # every other metric's raw points are kept
    for metric, count in want["points"].items():
        if metric != "http_req_duration":
            assert len(result.samples[metric]) == count, metric
    assert {"scenario", "group", "expected_response", "url", "name"} <= set(req.columns)
    waiting = result.samples["http_req_waiting"]
    assert waiting["timestamp"].between(1.79e9, 1.80e9).all() and "scenario" in waiting.columns


@pytest.mark.parametrize("run", RUNS)
def test_aggregate_exact_and_agrees_with_k6_summary(k6dir: Path, parsed: dict, run: str) -> None:
    want, _ = parsed[run]
    agg = k6_ndjson.aggregate(k6dir / run / "metrics.ndjson").per_name((90.0, 95.0, 99.0))
    for name, values in want["durations"].items():
        row = agg.loc[name]
        assert row["count"] == len(values) and row["failed"] == want["failed"][name]
        # exact: the same float64 values through the same numpy percentile, compared with ==
        assert [row["p(90)"], row["p(95)"], row["p(99)"]] == list(np.percentile(values, [90, 95, 99]))
    summary = json.loads((k6dir / run / "summary_export.json").read_text())["metrics"]
    # k6's own end-of-test numbers: same request count, failures and (linear-interpolated) percentiles
    assert agg["count"].sum() == summary["http_reqs"]["count"]
    assert agg["failed"].sum() == summary["http_req_failed"]["passes"]
    all_values = np.concatenate([np.asarray(v) for v in want["durations"].values()])
    assert np.percentile(all_values, 95) == pytest.approx(summary["http_req_duration"]["p(95)"], rel=1e-12)
    if "http_req_duration{name:slow}" in summary:
        slow = summary["http_req_duration{name:slow}"]
        assert agg.loc["slow", "p(95)"] == pytest.approx(slow["p(95)"], rel=1e-12)


def test_failure_comes_from_http_req_failed_not_status(k6dir: Path, parsed: dict) -> None:
    """404 on /missing is a failure (not an expected response), and redirects' 302s are not."""
    _, result = parsed["generated-v1.1.0"]
    req = result.requests
    with (k6dir / "generated-v1.1.0/server_access_log.csv").open() as fh:
        server = Counter((r["path"], r["status"]) for r in csv.DictReader(fh))
    flaky = req[req["label"] == "flaky"]
    assert len(flaky) == server["/flaky", "200"] + server["/flaky", "500"]
    assert int((~flaky["ok"]).sum()) == server["/flaky", "500"]
    assert (~req.loc[req["label"] == "missing", "ok"]).sum() == server["/missing", "404"]
    redirect = req[req["label"] == "redirect"]
    assert (redirect["status"] == "302").sum() == server["/redirect", "302"] and redirect["ok"].all()
    assert req["timestamp"].between(1.79e9, 1.80e9).all()


def test_workers_and_block_boundaries(k6dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks and two processes: pairs split across ranges and blocks are still joined."""
    path = k6dir / "generated-v1.1.0/metrics.ndjson"
    whole = k6_ndjson.aggregate(path, workers=1)
    monkeypatch.setattr(k6_ndjson, "BLOCK", 4096)
    split = k6_ndjson.aggregate(path, workers=2)
    assert split.lines == whole.lines and not split.notes
    assert split.per_name().equals(whole.per_name())
    assert np.array_equal(np.sort(split.duration_ms), np.sort(whole.duration_ms))


def test_other_key_order_goes_line_by_line(k6dir: Path, tmp_path: Path) -> None:
    """Older k6 wrote {"type":"Point","data":…,"metric":…}: same results, just without the fast path."""
    source = k6dir / "generated-v1.1.0/metrics.ndjson"
    lines = source.read_text().splitlines()
    path = tmp_path / "reordered.ndjson"
    path.write_text(
        "\n".join(json.dumps({k: json.loads(line)[k] for k in ("type", "data", "metric")}) for line in lines) + "\n"
    )
    assert k6_ndjson.aggregate(path).per_name().equals(k6_ndjson.aggregate(source).per_name())


def test_truncated_last_line_is_skipped_with_note(k6dir: Path, tmp_path: Path) -> None:
    data = (k6dir / "generated-v1.1.0/metrics.ndjson").read_bytes()
    lines = data.count(b"\n")
    path = tmp_path / "cut.ndjson"
    path.write_bytes(data[:-40])  # k6 killed mid-write: the last line is cut, no newline
    for result_notes in (k6_ndjson.read(path).notes, k6_ndjson.aggregate(path).notes):
        assert any(f"line {lines} (the last) is cut mid-write" in n for n in result_notes), result_notes
    assert k6_ndjson.aggregate(path).per_name()["count"].sum() == 1303


def test_corrupt_line_in_the_middle_is_an_error(k6dir: Path, tmp_path: Path) -> None:
    lines = (k6dir / "generated-v1.1.0/metrics.ndjson").read_text().splitlines()
    target = next(
        i for i, line in enumerate(lines) if '"metric":"http_req_duration","type":"Point"' in line and i > 500
    )
    broken = [*lines]
    broken[target] = broken[target][:-30]
    path = tmp_path / "corrupt.ndjson"
    path.write_text("\n".join(broken) + "\n")
    for reader in (k6_ndjson.read, k6_ndjson.aggregate):
        with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(path))}:{target + 1}:"):
            reader(path)
    # a line the aggregate does not decode is still checked: a spliced http_reqs point
    other = next(i for i, line in enumerate(lines) if line.startswith('{"metric":"http_reqs"') and i > 700)
    broken = [*lines]
    broken[other] = broken[other][:50]
    path.write_text("\n".join(broken) + "\n")
    with pytest.raises(LoadtestFormatError, match=rf":{other + 1}: "):
        k6_ndjson.aggregate(path)


def test_empty_and_foreign_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"")
    with pytest.raises(LoadtestFormatError, match="empty file"):
        k6_ndjson.read(empty)
    foreign = tmp_path / "foreign.ndjson"
    foreign.write_text('{"a": 1}\n{"b": 2}\n')
    with pytest.raises(LoadtestFormatError, match=r":1: not a k6"):
        k6_ndjson.read(foreign)
    metrics_only = tmp_path / "metrics-only.ndjson"
    metrics_only.write_text('{"type":"Metric","data":{"name":"vus","type":"gauge"},"metric":"vus"}\n')
    result = k6_ndjson.read(metrics_only)
    assert result.requests is not None and result.requests.empty
    assert any("no http_req_duration" in n for n in result.notes)


def test_pairing_out_of_order_and_missing_failure_points(k6dir: Path, tmp_path: Path) -> None:
    """Failure points before their duration still pair by time+tags; without any, expected_response decides."""
    source = k6dir / "generated-v1.1.0/metrics.ndjson"
    lines = source.read_text().splitlines()
    want = k6_ndjson.aggregate(source).per_name()
    swapped = [*lines]
    failed_at = [i for i, line in enumerate(lines) if line.startswith('{"metric":"http_req_failed"')]
    for n, i in enumerate(failed_at):
        if n % 3 == 0:  # move this failure point to the start of its request's points
            start = max(j for j in range(i) if lines[j].startswith('{"metric":"http_reqs"'))
            swapped.insert(start, swapped.pop(i))
    path = tmp_path / "swapped.ndjson"
    path.write_text("\n".join(swapped) + "\n")
    got = k6_ndjson.aggregate(path)
    assert not got.notes and got.per_name().equals(want)

    path.write_text("\n".join(line for line in lines if '"metric":"http_req_failed"' not in line) + "\n")
    got = k6_ndjson.aggregate(path)
    assert any("without an http_req_failed point" in n for n in got.notes)
    assert got.per_name()["failed"].equals(want["failed"])


def independent_parse(path: Path) -> tuple[list[dict], dict[str, list[dict]]]:
    """Requests (file order, failure paired by time + tags) and other metrics' points, with json only."""
    durations, failures, samples = [], {}, defaultdict(list)
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if obj["type"] != "Point":
            continue
        data, tags = obj["data"], obj["data"].get("tags") or {}
        key = (data["time"], json.dumps(tags, sort_keys=True))
        if obj["metric"] == "http_req_duration":
            durations.append((key, data, tags))
        else:
            samples[obj["metric"]].append({"value": data["value"], "time": data["time"], **tags})
            if obj["metric"] == "http_req_failed":
                failures[key] = data["value"]
    requests = [
        {
            "label": tags.get("name") or tags.get("url") or "",
            "duration": data["value"] / 1000.0,
            "ok": not failures[key],
            "time": data["time"],
            **tags,
        }
        for key, data, tags in durations
    ]
    return requests, samples


def epoch(times: list[str]) -> np.ndarray:
    """k6's RFC 3339 nanosecond UTC times as float seconds, via numpy (not pandas, which read() uses)."""
    ns = np.array([t.rstrip("Z") for t in times], dtype="datetime64[ns]").astype(np.int64)
    return ns / 1e9


def test_read_over_blocks_and_workers_equals_an_independent_parse(k6dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks, two worker processes, time strings parsed in small batches: every column still equals
    json + numpy, row for row in file order (durations exactly, times to the nanosecond's float)."""
    path = k6dir / "generated-v1.1.0/metrics.ndjson"
    want_requests, want_samples = independent_parse(path)
    monkeypatch.setattr(k6_ndjson, "BLOCK", 4096)
    monkeypatch.setattr(k6_ndjson, "STAMP_BATCH", 100)
    assert len(k6_ndjson._ranges(path, 2)) == 2
    result = k6_ndjson.read(path, workers=2)
    req = result.requests
    assert not result.notes and len(req) == len(want_requests) == 1303
    assert req["label"].astype(str).tolist() == [r["label"] for r in want_requests]
    assert req["ok"].tolist() == [r["ok"] for r in want_requests]
    assert np.array_equal(req["duration"].to_numpy(), np.array([r["duration"] for r in want_requests]))
    np.testing.assert_allclose(req["timestamp"], epoch([r["time"] for r in want_requests]), rtol=0, atol=1e-6)
    for column in ("method", "status", "name", "url", "scenario", "group", "expected_response"):
        assert req[column].dtype == "category"
        assert req[column].astype(str).tolist() == [str(r.get(column, "")) for r in want_requests], column
    assert set(result.samples) == set(want_samples)
    for metric, points in want_samples.items():
        frame = result.samples[metric]
        assert np.array_equal(frame["value"].to_numpy(), np.array([p["value"] for p in points], dtype=float))
        np.testing.assert_allclose(frame["timestamp"], epoch([p["time"] for p in points]), rtol=0, atol=1e-6)
        keys = sorted({k for p in points for k in p} - {"value", "time"})
        assert [c for c in frame.columns if c not in ("value", "timestamp")] == keys, metric
        for key in keys:
            assert frame[key].astype(str).tolist() == [str(p.get(key, "")) for p in points], (metric, key)


def test_read_keeps_only_the_asked_sample_metrics(k6dir: Path) -> None:
    """``metrics`` leaves the requests table untouched and keeps just those metrics' points."""
    path = k6dir / "generated-v1.1.0/metrics.ndjson"
    full = k6_ndjson.read(path, workers=1)
    some = k6_ndjson.read(path, workers=2, metrics=["http_req_waiting", "http_req_failed", "vus"])
    none = k6_ndjson.read(path, metrics=())
    assert set(some.samples) == {"http_req_waiting", "http_req_failed", "vus"} and none.samples == {}
    for result in (some, none):
        pd.testing.assert_frame_equal(result.requests, full.requests)
        assert result.notes == full.notes and result.duration_seconds == full.duration_seconds
    for metric, frame in some.samples.items():
        pd.testing.assert_frame_equal(frame, full.samples[metric])


def test_read_line_by_line_layout_equals_fast_path(k6dir: Path, tmp_path: Path) -> None:
    """Another key order goes through the per-line path; read() gives the same frames."""
    source = k6dir / "generated-v1.1.0/metrics.ndjson"
    path = tmp_path / "reordered.ndjson"
    path.write_text(
        "\n".join(
            json.dumps({k: json.loads(line)[k] for k in ("type", "data", "metric")})
            for line in source.read_text().splitlines()
        )
        + "\n"
    )
    fast, slow = k6_ndjson.read(source), k6_ndjson.read(path)
    pd.testing.assert_frame_equal(slow.requests, fast.requests)
    assert set(slow.samples) == set(fast.samples)
    for metric, frame in fast.samples.items():
        pd.testing.assert_frame_equal(slow.samples[metric], frame)
    only = k6_ndjson.read(path, metrics=["http_req_waiting"])
    pd.testing.assert_frame_equal(only.samples["http_req_waiting"], fast.samples["http_req_waiting"])


def test_a_bad_kept_sample_point_is_an_error(k6dir: Path, tmp_path: Path) -> None:
    """A sample point with a non-numeric value is named when kept, and only framing-checked when not."""
    lines = (k6dir / "generated-v1.1.0/metrics.ndjson").read_text().splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith('{"metric":"http_req_waiting"') and i > 900)
    lines[target] = re.sub(r'"value":[0-9.e-]+', '"value":"slow"', lines[target])
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join(lines) + "\n")
    for metrics in (None, ["http_req_waiting"]):
        with pytest.raises(LoadtestFormatError, match=rf"{re.escape(str(path))}:{target + 1}: "):
            k6_ndjson.read(path, metrics=metrics)
    assert "http_req_waiting" not in k6_ndjson.read(path, metrics=["vus"]).samples


def test_ingest_keeps_only_what_the_gate_reads(k6dir: Path) -> None:
    """load() with a gate's checks: the requests table plus just the custom metric a check names."""
    from collector.sources.loadtest.evaluator import load, sample_metrics
    from slo.spec import LoadtestCheck

    checks = [
        LoadtestCheck(kind="loadtest", id="p95", metric="latency", label="fast", threshold="p(95)<100"),
        LoadtestCheck(kind="loadtest", id="err", metric="error_rate", threshold="rate<0.05"),
        LoadtestCheck(kind="loadtest", id="wait", metric="http_req_waiting", threshold="p(95)<100"),
    ]
    assert sample_metrics(checks) == {"http_req_waiting"}
    data = load([k6dir / "generated-v1.1.0/metrics.ndjson"], metrics=sample_metrics(checks))
    assert set(data.samples) == {"http_req_waiting"} and len(data.requests) == 1303

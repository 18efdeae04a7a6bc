"""Locust results: the ``--json-file`` report and the ``--csv`` files.

The JSON report keeps each request name's response-time histogram; Locust rounds times into it (whole
ms below 100 ms, then two significant digits), so percentiles computed from it are exact over the
rounded values and carry that rounding (stated in ``precision``). ``_stats.csv`` is rewritten by a
one-second timer rather than at shutdown, so it can miss the last second of requests: when both are
given, the JSON report wins (see :func:`collector.sources.loadtest.detect.reconcile`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collector.sources.loadtest.common import read_bytes, read_csv, request_table
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult, SummaryMetric

PRECISION = (
    "locust histogram: response times rounded into buckets: whole ms below 100 ms (a bucket v holds "
    "[v-0.5, v+0.5) ms), 10 ms buckets to 1 s ([v-5, v+5)), 100 ms buckets to 10 s ([v-50, v+50)), 1 s buckets "
    "above ([v-500, v+500)); percentiles are Locust's own (the bucket value at rank int(n*p) counted from "
    "the top, as its report prints them), never interpolated between buckets"
)
CSV_PRECISION = "locust _stats.csv: percentiles as printed by Locust (bucket-rounded, nearest-rank)"
STATS_HEADER = b"Type,Name,Request Count"
HISTORY_HEADER = b"Timestamp,User Count,Type,Name"
FAILURES_HEADER = b"Method,Name,Error,Occurrences"
EXCEPTIONS_HEADER = b"Count,Message,Traceback"
_ENTRY_KEYS = ("name", "method", "num_requests", "num_failures", "response_times")


def bucket_bounds(value_ms: float) -> tuple[float, float]:
    """The response times Locust rounds into the bucket ``value_ms`` (its 2-significant-digit buckets)."""
    half = 0.5 if value_ms < 100 else 5.0 if value_ms < 1000 else 50.0 if value_ms < 10000 else 500.0
    return value_ms - half, value_ms + half


def locust_percentile(values_ms: np.ndarray, weights: np.ndarray, p: float) -> float:
    """Locust's percentile over its histogram, so gatepack reports the number Locust's own report shows.

    Locust (``stats.calculate_response_time_percentile``) takes ``k = int(n × p)`` over the requests that
    have a response time and walks the buckets from the slowest down until at most ``k`` requests are
    left below: the answer is always a bucket value, the one at 0-based rank ``min(k, n - 1)`` in
    ascending order. Interpolating between buckets (k6's method) can land below every bucket the slow
    requests are in (117 ms where Locust reports 120 ms). ``p`` is in percent; it is turned into the
    fraction Locust is called with (``95`` → ``0.95``, ``99.9`` → ``0.999``) exactly.
    """
    timed = ~np.isnan(values_ms)
    values, counts = values_ms[timed], weights[timed].astype("int64")
    n = int(counts.sum())
    if n <= 0:
        return math.nan
    fraction = float(f"{float(p)!r}e-2")
    k = min(int(n * fraction), n - 1)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(counts[order])
    return float(values[order][int(np.searchsorted(cumulative, k, side="right"))])


def sniff(head: bytes, path: Path) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return b'"response_times"' in head or b'"num_requests"' in head or text.rstrip() == b"[]"
    return text.startswith((STATS_HEADER, HISTORY_HEADER, FAILURES_HEADER, EXCEPTIONS_HEADER))


def read(path: Path) -> LoadtestResult:
    data = read_bytes(path)
    head = data[:256].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"["):
        return _read_json(path, data)
    if head.startswith(STATS_HEADER):
        return _read_stats(path, data)
    if head.startswith(HISTORY_HEADER):
        return _read_history(path, data)
    if head.startswith(FAILURES_HEADER):
        return _read_failures(path, data)
    if head.startswith(EXCEPTIONS_HEADER):
        return _read_exceptions(path, data)
    raise LoadtestFormatError(f"{path}: not a Locust report (JSON list or one of Locust's --csv files)")


def _read_json(path: Path, data: bytes) -> LoadtestResult:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadtestFormatError(f"{path}: line {getattr(exc, 'lineno', '?')}: not valid JSON: {exc}") from None
    if not isinstance(document, list):
        raise LoadtestFormatError(f"{path}: a Locust JSON report is a list of stats entries")
    columns: dict[str, list[Any]] = {c: [] for c in ("label", "method", "ok", "duration", "count")}
    starts, ends = [], []
    for number, entry in enumerate(document, start=1):
        if not isinstance(entry, dict) or any(k not in entry for k in _ENTRY_KEYS):
            raise LoadtestFormatError(f"{path}: entry {number} lacks one of {', '.join(_ENTRY_KEYS)}")
        _json_entry(path, number, entry, columns)
        if isinstance(entry.get("start_time"), int | float) and entry.get("num_requests"):
            starts.append(float(entry["start_time"]))
        if isinstance(entry.get("last_request_timestamp"), int | float):
            ends.append(float(entry["last_request_timestamp"]))
    n = len(columns["label"])
    requests = request_table(
        {
            "timestamp": np.full(n, np.nan),
            "label": columns["label"],
            "method": columns["method"],
            "status": [""] * n,
            "ok": columns["ok"],
            "duration": np.asarray(columns["duration"], dtype=float) / 1000.0,
            "bytes": np.full(n, np.nan),
            "count": columns["count"],
        }
    )
    span = max(ends) - min(starts) if starts and ends else None
    return LoadtestResult(
        tool="locust",
        format="locust-json",
        source=path,
        requests=requests,
        duration_seconds=span if span and span > 0 else None,
        precision=PRECISION,
        notes=[
            "locust json: one row per histogram bucket; failures are counted per request name, not per bucket",
            "locust json: no per-request timestamps (steady-state trimming is not possible)",
        ],
    )


def _json_entry(path: Path, number: int, entry: dict[str, Any], columns: dict[str, list[Any]]) -> None:
    """Histogram buckets as weighted rows; the entry's failures are split off the lowest buckets."""
    total, failures = entry["num_requests"], entry["num_failures"]
    histogram = entry["response_times"]
    if (
        not isinstance(histogram, dict)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in (total, failures))
        or total < 0
        or not 0 <= failures <= max(total, 0)
    ):
        raise LoadtestFormatError(f"{path}: entry {number} ({entry['name']!r}) has malformed counts")
    buckets: list[tuple[float, int]] = []
    for key, count in histogram.items():
        try:
            if isinstance(count, bool) or not isinstance(count, int):
                raise TypeError(count)
            value = float(key)
        except (TypeError, ValueError, OverflowError):
            raise LoadtestFormatError(
                f"{path}: entry {number}: bad histogram bucket {str(key)[:40]!r}: {str(count)[:40]!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise LoadtestFormatError(
                f"{path}: entry {number} ({str(entry['name'])[:80]!r}): histogram bucket {str(key)[:40]!r} ms is "
                "negative or not finite: not a duration"
            )
        if count < 0:
            raise LoadtestFormatError(f"{path}: entry {number}: histogram bucket {key!r} has a negative count")
        buckets.append((value, count))
    buckets.sort()
    none_requests = entry.get("num_none_requests") or 0
    if isinstance(none_requests, bool) or not isinstance(none_requests, int) or none_requests < 0:
        raise LoadtestFormatError(f"{path}: entry {number}: num_none_requests is not a count: {none_requests!r}")
    if sum(c for _, c in buckets) + none_requests != total:
        raise LoadtestFormatError(
            f"{path}: entry {number} ({entry['name']!r}): histogram holds {sum(c for _, c in buckets)} requests "
            f"but num_requests is {total}"
        )
    if none_requests:
        buckets.append((math.nan, none_requests))
    left = failures
    for value, count in buckets:
        failed = min(left, count)
        left -= failed
        for ok, weight in ((False, failed), (True, count - failed)):
            if weight:
                columns["label"].append(str(entry["name"]))
                columns["method"].append(str(entry["method"] or ""))
                columns["ok"].append(ok)
                columns["duration"].append(value)
                columns["count"].append(weight)


def _read_stats(path: Path, data: bytes) -> LoadtestResult:
    required = ("Type", "Name", "Request Count", "Failure Count", "Average Response Time", "Min Response Time")
    frame = read_csv(path, (*required, "Max Response Time", "Requests/s", "Median Response Time"), data)
    if frame.empty:
        raise LoadtestFormatError(f"{path}: no rows after the header")
    percent_columns = [c for c in frame.columns if c.endswith("%")]
    metrics: dict[str, SummaryMetric] = {}
    for line, row in enumerate(frame.to_dict("records"), start=2):
        count = _number(path, line, row, "Request Count")
        failures = _number(path, line, row, "Failure Count")
        suffix = "" if row["Name"] == "Aggregated" and not row["Type"] else _selector(row["Name"], row["Type"])
        trend = {"count": count}
        if count:
            trend.update(
                avg=_number(path, line, row, "Average Response Time"),
                min=_number(path, line, row, "Min Response Time"),
                max=_number(path, line, row, "Max Response Time"),
                med=_number(path, line, row, "Median Response Time"),
            )
            for column in percent_columns:
                if row[column] not in ("", "N/A"):
                    trend[f"p({column[:-1]})"] = _number(path, line, row, column)
        metrics[f"http_req_duration{suffix}"] = SummaryMetric(
            f"http_req_duration{suffix}", "trend", {k: v for k, v in trend.items() if k != "count"}, "ms"
        )
        metrics[f"http_reqs{suffix}"] = SummaryMetric(
            f"http_reqs{suffix}", "counter", {"count": count, "rate": _number(path, line, row, "Requests/s")}
        )
        metrics[f"http_req_failed{suffix}"] = SummaryMetric(
            f"http_req_failed{suffix}",
            "rate",
            {"passes": failures, "fails": count - failures, "rate": failures / count if count else math.nan},
        )
    return LoadtestResult(
        tool="locust",
        format="locust-stats-csv",
        source=path,
        metrics=metrics,
        precision=CSV_PRECISION,
        notes=["locust _stats.csv is rewritten every second, not at shutdown: it can miss the last second"],
    )


def _read_history(path: Path, data: bytes) -> LoadtestResult:
    frame = read_csv(path, ("Timestamp", "Name", "Total Request Count", "Total Failure Count"), data)
    rows = frame[frame["Name"] == "Aggregated"]
    if rows.empty:
        raise LoadtestFormatError(f"{path}: no Aggregated rows: the test recorded no history")
    stamps = pd.to_numeric(rows["Timestamp"], errors="coerce")
    last = rows.iloc[-1].to_dict()
    count = _number(path, len(frame) + 1, last, "Total Request Count")
    failures = _number(path, len(frame) + 1, last, "Total Failure Count")
    span = float(stamps.max() - stamps[pd.to_numeric(rows["Total Request Count"], errors="coerce") > 0].min())
    return LoadtestResult(
        tool="locust",
        format="locust-history-csv",
        source=path,
        metrics={
            "http_reqs": SummaryMetric("http_reqs", "counter", {"count": count}),
            "http_req_failed": SummaryMetric(
                "http_req_failed",
                "rate",
                {"passes": failures, "fails": count - failures, "rate": failures / count if count else math.nan},
            ),
        },
        duration_seconds=span if span > 0 else None,
        notes=["locust _stats_history.csv: totals of its last row (written once a second)"],
    )


def _read_failures(path: Path, data: bytes) -> LoadtestResult:
    frame = read_csv(path, ("Method", "Name", "Error", "Occurrences"), data)
    notes = [f"failure: {r['Method']} {r['Name']}: {r['Error']} ×{r['Occurrences']}" for r in frame.to_dict("records")]
    return LoadtestResult(tool="locust", format="locust-failures-csv", source=path, notes=notes)


def _read_exceptions(path: Path, data: bytes) -> LoadtestResult:
    frame = read_csv(path, ("Count", "Message"), data)
    notes = [f"exception ×{r['Count']}: {r['Message']}" for r in frame.to_dict("records")]
    return LoadtestResult(tool="locust", format="locust-exceptions-csv", source=path, notes=notes)


def _selector(name: str, method: str) -> str:
    return f"{{name:{name},method:{method}}}" if method else f"{{name:{name}}}"


def _number(path: Path, line: int, row: dict[str, Any], column: str) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        raise LoadtestFormatError(f"{path}: line {line}: column {column!r} is not a number: {row[column]!r}") from None
    if math.isnan(value):
        raise LoadtestFormatError(f"{path}: line {line}: column {column!r} is not a number")
    return value

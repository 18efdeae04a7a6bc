"""k6 ``--out csv``: one row per metric sample, tags as columns.

Each HTTP request writes one ``http_req_duration`` and one ``http_req_failed`` row (k6 emits them in
the same sample container, so the n-th of each belong to the same request); those become the request
table. Every other metric (``http_req_waiting``, custom Trends …) is kept raw in ``samples``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from collector.sources.loadtest.common import check_durations, numbers, read_csv, request_table
from collector.sources.loadtest.k6_summary import is_time_metric
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult

HEADER = b"metric_name,timestamp,metric_value"
FIXED = ("metric_name", "timestamp", "metric_value")
NOT_TAGS = {*FIXED, "extra_tags", "metadata"}


def sniff(head: bytes, path: Path) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(HEADER)


def read(path: Path) -> LoadtestResult:
    frame = read_csv(path, FIXED, numeric=("metric_value",))
    if frame.empty:
        raise LoadtestFormatError(f"{path}: no samples after the header: the test wrote no metrics")
    value = numbers(frame, "metric_value", path)
    timed = frame["metric_name"].map(is_time_metric).to_numpy(dtype=bool)
    check_durations(path, value[timed], np.flatnonzero(timed) + 2, "metric_value of a time metric")
    timestamp = _timestamps(frame, path)
    tags = _tags(frame)
    durations = (frame["metric_name"] == "http_req_duration").to_numpy()
    failed = (frame["metric_name"] == "http_req_failed").to_numpy()
    requests = None
    notes = ["k6 csv: timestamps have the resolution k6 wrote (whole seconds by default)"]
    if durations.any():
        if failed.sum() not in (0, durations.sum()):
            raise LoadtestFormatError(
                f"{path}: {durations.sum()} http_req_duration rows but {failed.sum()} http_req_failed rows"
            )
        request_tags = tags[durations].reset_index(drop=True)
        ok = value[failed] == 0 if failed.any() else _expected(request_tags)
        if not failed.any():
            notes.append("no http_req_failed samples: failure taken from the expected_response tag")
        _same_requests(path, request_tags, tags[failed].reset_index(drop=True), frame.index[durations])
        requests = request_table(
            {
                "timestamp": timestamp[durations],
                "label": request_tags.get("name", pd.Series([""] * len(request_tags))),
                "method": request_tags.get("method", pd.Series([""] * len(request_tags))),
                "status": request_tags.get("status", pd.Series([""] * len(request_tags))).replace("0", ""),
                "ok": ok,
                "duration": value[durations] / 1000.0,
                "bytes": np.full(int(durations.sum()), np.nan),
                "count": np.ones(int(durations.sum()), dtype="int64"),
            },
            {c: request_tags[c] for c in request_tags.columns if c not in {"name", "method", "status"}},
        )
    samples: dict[str, pd.DataFrame] = {}
    for name, index in frame.groupby("metric_name", sort=False).indices.items():
        if name in {"http_req_duration", "http_req_failed"}:
            continue
        part = tags.iloc[index].reset_index(drop=True)
        part.insert(0, "value", value[index])
        part.insert(1, "timestamp", timestamp[index])
        samples[str(name)] = part
    stamps = timestamp[durations] if durations.any() else timestamp  # setup/teardown samples are not the test
    span = float(np.nanmax(stamps) - np.nanmin(stamps)) if len(stamps) else None
    return LoadtestResult(
        tool="k6",
        format="k6-csv",
        source=path,
        requests=requests,
        samples=samples,
        duration_seconds=span if span and span > 0 else None,
        notes=notes,
    )


def _timestamps(frame: pd.DataFrame, path: Path) -> np.ndarray:
    column = frame["timestamp"]
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        raw = numeric.to_numpy(dtype=float)
        scale = 1.0
        largest = np.nanmax(np.abs(raw)) if raw.size else 0
        for factor, bound in ((1e9, 1e17), (1e6, 1e14), (1e3, 1e11)):  # unix_nano, unix_micro, unix_milli
            if largest >= bound:
                scale = factor
                break
        return raw / scale
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        line = int(np.argmax(parsed.isna().to_numpy())) + 2
        raise LoadtestFormatError(f"{path}: line {line}: timestamp {column.iloc[line - 2]!r} is not a time")
    return (parsed.astype("int64") / 1e9).to_numpy(dtype=float)


def _tags(frame: pd.DataFrame) -> pd.DataFrame:
    tags = frame[[c for c in frame.columns if c not in NOT_TAGS]].copy()
    if "extra_tags" in frame.columns:
        extra = frame["extra_tags"]
        for i, text in extra[extra != ""].items():
            for pair in str(text).split("&"):
                key, _, val = pair.partition("=")
                if key and key not in NOT_TAGS:
                    if key not in tags.columns:
                        tags[key] = ""
                    tags.at[i, key] = val
    return tags.reset_index(drop=True)


def _expected(tags: pd.DataFrame) -> np.ndarray:
    if "expected_response" in tags.columns:
        return (tags["expected_response"] == "true").to_numpy()
    status = pd.to_numeric(tags.get("status", pd.Series(["0"] * len(tags))), errors="coerce").fillna(0)
    return ((status > 0) & (status < 400)).to_numpy()


def _same_requests(path: Path, durations: pd.DataFrame, failed: pd.DataFrame, rows: pd.Index) -> None:
    """The n-th http_req_failed row must carry the n-th http_req_duration's tags, or pairing is wrong."""
    if failed.empty:
        return
    for column in ("name", "status", "method"):
        if column in durations.columns and column in failed.columns:
            mismatch = durations[column].to_numpy() != failed[column].to_numpy()
            if mismatch.any():
                line = int(rows[int(np.argmax(mismatch))]) + 2
                raise LoadtestFormatError(
                    f"{path}: line {line}: http_req_duration and http_req_failed samples are not in request order"
                )

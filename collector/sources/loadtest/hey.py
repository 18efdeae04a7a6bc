"""hey ``-o csv``: one row per request that got a response, times in seconds with 0.1 ms resolution.

hey has no failure flag, so a request failed when its status is >= 400 (or 0: no response). hey leaves
requests that got no response at all (connection errors, timeouts) out of its CSV, which we cannot
see; a note says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from collector.sources.loadtest.common import check_durations, numbers, read_csv, request_table
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult

HEADER = b"response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset"
REQUIRED = ("response-time", "status-code", "offset")


def sniff(head: bytes, path: Path) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"response-time,")


def read(path: Path) -> LoadtestResult:
    frame = read_csv(path, REQUIRED, numeric=REQUIRED)
    if frame.empty:
        raise LoadtestFormatError(f"{path}: no requests after the header")
    duration = numbers(frame, "response-time", path)
    check_durations(path, duration, None, "response-time")
    status = numbers(frame, "status-code", path).astype(int)
    offset = numbers(frame, "offset", path)
    n = len(frame)
    requests = request_table(
        {
            "timestamp": offset,
            "label": [""] * n,
            "method": [""] * n,
            "status": np.where(status > 0, status.astype(str), ""),
            "ok": (status > 0) & (status < 400),
            "duration": duration,
            "bytes": np.full(n, np.nan),
            "count": np.ones(n, dtype="int64"),
        }
    )
    span = float(np.max(offset + duration) - np.min(offset))
    return LoadtestResult(
        tool="hey",
        format="hey-csv",
        source=path,
        requests=requests,
        duration_seconds=span if span > 0 else None,
        precision="hey csv: times rounded to 0.1 ms",
        notes=[
            "hey: timestamps are seconds since the test started",
            "hey leaves requests without a response (connection errors) out of its CSV",
        ],
    )

"""Gatling reader: ``simulation.log`` (text up to 3.11, binary from 3.12) and the HTML report's stats.json.

The log layout changed across versions, so the text reader locates fields by shape, not position: the
status is the first ``OK``/``KO`` field, the run of integers before it are timestamps (two in 2.0 and
3.x, four in 2.1/2.2 — first is the request start, last the response end), the field before them is the
request name and the one before that the group path. GROUP records (group timings) are not requests.

The binary log (Gatling >= 3.12) is big-endian: a record-type byte, then fields. Strings in the header
are ``int32 length + bytes + coder byte`` (Java's internal form: coder 0 = Latin-1, 1 = UTF-16; no bytes
and no coder when empty). Strings in records are cached: a positive id introduces a new string (id then
string), a negative id refers back to one already seen. Record timestamps are int32 milliseconds since
the run start written in the header.

stats.json is pre-aggregated (integer milliseconds; percentiles1-4 are Gatling's configured indicators,
50/75/95/99 by default), so it fills ``metrics`` only.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import pandas as pd

from collector.sources.loadtest.common import MAX_LINE_BYTES, ensure_regular, iter_lines, read_bytes
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult, SummaryMetric

HEAD_BYTES = 4096
BINARY_BLOCK = 1 << 20

RUN, REQUEST, USER, GROUP, ERROR = 0, 1, 2, 3, 4
DEFAULT_PERCENTILES = (50, 75, 95, 99)
"""gatling.conf charting.indicators.percentile1..4 defaults; a changed config cannot be seen in stats.json."""


def sniff(head: bytes, path: Path) -> bool:
    if head.startswith(b"RUN\t"):
        return True
    if _looks_binary(head):
        return True
    stripped = head.lstrip()
    return stripped.startswith(b"{") and b'"numberOfRequests"' in head and b'"percentiles1"' in head


def _looks_binary(head: bytes) -> bool:
    """Run record: type byte 0, then the Gatling version as a short length-prefixed string "3.x…"."""
    if len(head) < 8 or head[0] != RUN:
        return False
    (length,) = struct.unpack_from(">i", head, 1)
    return 0 < length < 32 and head[5:7] in (b"3.", b"4.", b"5.")


def read(path: Path) -> LoadtestResult:
    path = Path(path)
    ensure_regular(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror}") from None
    if not head.strip():
        raise LoadtestFormatError(f"{path}: empty file, no Gatling records")
    if head.startswith(b"RUN\t"):
        return read_text(path)
    if _looks_binary(head):
        return read_binary(path)
    if head.lstrip().startswith(b"{"):
        return read_stats_json(path, read_bytes(path))
    raise LoadtestFormatError(f"{path}:1: not a Gatling simulation.log (text or binary) nor a stats.json")


# ---------------------------------------------------------------------------------------------- text


def _lookahead(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, is the last line) of a text log, streamed with bounded line length."""
    previous: tuple[int, bytes] | None = None
    for item in iter_lines(path):
        if previous is not None:
            yield previous[0], previous[1].decode("utf-8", "replace").rstrip("\r"), False
        previous = item
    if previous is not None:
        yield previous[0], previous[1].decode("utf-8", "replace").rstrip("\r"), True


def read_text(path: Path, data: bytes | None = None) -> LoadtestResult:
    """Text simulation.log, streamed line by line (``data`` is accepted for callers holding the bytes)."""
    rows: list[tuple[float, str, bool, float, str, str]] = []
    groups = errors = 0
    version = ""
    if data is not None:
        text = data.decode("utf-8", "replace").split("\n")
        lines: Iterable[tuple[int, str, bool]] = (
            (n, line.rstrip("\r"), n == len(text)) for n, line in enumerate(text, start=1)
        )
    else:
        lines = _lookahead(path)
    for number, line, last in lines:
        if not line:
            continue
        fields = line.split("\t")
        kind = fields[0]
        if kind == "RUN":
            version = fields[-1].strip()
        elif kind == "REQUEST":
            rows.append(_text_request(path, number, fields, last=last))
        elif kind == "GROUP":
            groups += 1
        elif kind == "ERROR":
            errors += 1
        elif kind not in ("USER", "ASSERTION"):
            raise LoadtestFormatError(f"{path}:{number}: unknown Gatling record {kind[:40]!r}")
    notes = _notes(groups, errors)
    return _result(path, "gatling-log", rows, notes, f"text log, Gatling {version or 'unknown version'}")


def _text_request(path: Path, number: int, fields: list[str], last: bool) -> tuple[float, str, bool, float, str, str]:
    status_at = next((i for i in range(2, len(fields)) if fields[i] in ("OK", "KO")), None)
    if status_at is None:
        hint = " (file cut mid-write?)" if last else ""
        raise LoadtestFormatError(f"{path}:{number}: REQUEST record without OK/KO status{hint}")
    first = status_at
    while first - 1 >= 1 and fields[first - 1].strip().lstrip("-").isdigit():
        first -= 1
    stamps = [int(f) for f in fields[first:status_at]]
    if len(stamps) < 2 or first < 2:
        raise LoadtestFormatError(f"{path}:{number}: REQUEST record without start/end timestamps")
    name = fields[first - 1]
    group = fields[first - 2] if first - 2 >= 1 else ""
    message = fields[status_at + 1] if len(fields) > status_at + 1 else ""
    start, end = stamps[0], stamps[-1]
    if end < start:
        raise LoadtestFormatError(
            f"{path}:{number}: response end {end} is before request start {start}: negative duration"
        )
    return (start / 1000.0, name, fields[status_at] == "OK", (end - start) / 1000.0, group, message)


# -------------------------------------------------------------------------------------------- binary


class _Binary:
    """Cursor over a binary simulation.log, streamed from the file in blocks.

    Every read checks bounds, so a cut file is named, not crashed on, and a hostile length field cannot
    make it read more than :data:`MAX_LINE_BYTES` at once: memory follows the records, not the file.
    """

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path, self.handle = path, handle
        self.buf, self.base, self.pos = b"", 0, 0  # buf holds the file from offset base; pos is absolute
        self.cache: dict[int, str] = {}

    def _need(self, size: int) -> None:
        if self.pos - self.base + size <= len(self.buf):
            return
        if size > MAX_LINE_BYTES:
            raise LoadtestFormatError(f"{self.path}: byte {self.pos}: a {size}-byte field: not a Gatling log")
        self.buf = self.buf[self.pos - self.base :] + self.handle.read(max(size, BINARY_BLOCK))
        self.base = self.pos
        if size > len(self.buf):
            raise LoadtestFormatError(f"{self.path}: binary log cut short at byte {self.pos} (file cut mid-write?)")

    def at_end(self) -> bool:
        if self.pos - self.base < len(self.buf):
            return False
        self.buf, self.base = self.handle.read(BINARY_BLOCK), self.pos
        return not self.buf

    def _take(self, size: int) -> bytes:
        self._need(size)
        at = self.pos - self.base
        self.pos += size
        return self.buf[at : at + size]

    def byte(self) -> int:
        return self._take(1)[0]

    def int32(self) -> int:
        (value,) = struct.unpack(">i", self._take(4))
        return value

    def int64(self) -> int:
        (value,) = struct.unpack(">q", self._take(8))
        return value

    def string(self) -> str:
        length = self.int32()
        if length <= 0:
            return ""
        raw = self._take(length + 1)
        coder = raw[-1]
        return raw[:-1].decode("latin-1" if coder == 0 else "utf-16-le", "replace")

    def cached(self) -> str:
        key = self.int32()
        if key < 0:
            if -key not in self.cache:
                raise LoadtestFormatError(f"{self.path}: byte {self.pos}: reference to unknown string #{-key}")
            return self.cache[-key]
        if key in self.cache:
            return self.cache[key]
        value = self.string()
        self.cache[key] = value
        return value


def read_binary(path: Path, data: bytes | None = None) -> LoadtestResult:
    """Binary simulation.log (Gatling >= 3.12), streamed; ``data`` is accepted for callers holding the bytes."""
    with io.BytesIO(data) if data is not None else path.open("rb") as handle:
        return _read_binary(path, _Binary(path, handle))


def _read_binary(path: Path, cur: _Binary) -> LoadtestResult:
    cur.byte()
    version = cur.string()
    cur.string()  # simulation class
    run_start = cur.int64()
    cur.string()  # description
    for _ in range(cur.int32()):
        cur.string()  # scenario names
    for _ in range(cur.int32()):
        cur.string()  # assertions
    rows: list[tuple[float, str, bool, float, str, str]] = []
    groups = errors = 0
    while not cur.at_end():
        at = cur.pos
        kind = cur.byte()
        if kind == REQUEST:
            path_groups = [cur.cached() for _ in range(cur.int32())]
            name = cur.cached()
            start, end = cur.int32(), cur.int32()
            ok = cur.byte() == 1
            message = cur.cached()
            if end < start:
                raise LoadtestFormatError(
                    f"{path}: record at byte {at}: response end {end} is before request start {start}: "
                    "negative duration"
                )
            rows.append(
                ((run_start + start) / 1000.0, name, ok, (end - start) / 1000.0, " / ".join(path_groups), message)
            )
        elif kind == USER:
            cur.int32(), cur.byte(), cur.int32()
        elif kind == GROUP:
            for _ in range(cur.int32()):
                cur.cached()
            cur.int32(), cur.int32(), cur.int32(), cur.byte()
            groups += 1
        elif kind == ERROR:
            cur.cached(), cur.int32()
            errors += 1
        else:
            raise LoadtestFormatError(f"{path}: byte {at}: unknown binary record type {kind}")
    return _result(path, "gatling-log-binary", rows, _notes(groups, errors), f"binary log, Gatling {version}")


# ---------------------------------------------------------------------------------------------- shared


def _notes(groups: int, errors: int) -> list[str]:
    notes = []
    if groups:
        notes.append(f"{groups} GROUP record(s) (group timings) not counted as requests")
    if errors:
        notes.append(f"{errors} ERROR record(s) (crashes outside requests) not counted as requests")
    return notes


def _result(
    path: Path, fmt: str, rows: list[tuple[float, str, bool, float, str, str]], notes: list[str], what: str
) -> LoadtestResult:
    if rows:
        ts, label, ok, duration, group, message = zip(*rows, strict=True)
    else:
        ts = label = ok = duration = group = message = ()
        notes = [*notes, "no REQUEST records"]
    requests = pd.DataFrame(
        {
            "timestamp": np.asarray(ts, dtype=float),
            "label": pd.Series(label, dtype=object),
            "method": pd.Series([""] * len(rows), dtype=object),
            "status": pd.Series(["OK" if o else "KO" for o in ok], dtype=object),
            "ok": np.asarray(ok, dtype=bool),
            "duration": np.asarray(duration, dtype=float),
            "bytes": np.full(len(rows), np.nan),
            "count": np.ones(len(rows), dtype="int64"),
            "group": pd.Series(group, dtype=object),
            "message": pd.Series(message, dtype=object),
        }
    )
    span = float((requests["timestamp"] + requests["duration"]).max() - requests["timestamp"].min()) if rows else None
    return LoadtestResult(
        tool="gatling",
        format=fmt,
        source=path,
        requests=requests,
        notes=notes,
        duration_seconds=span,
        precision=f"{what}: integer milliseconds; status is Gatling's OK/KO, no HTTP code in the log",
    )


# ------------------------------------------------------------------------------------------ stats.json


def read_stats_json(path: Path, data: bytes) -> LoadtestResult:
    """HTML report js/stats.json (GROUP tree) or js/global_stats.json (one stats block)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise LoadtestFormatError(f"{path}: malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise LoadtestFormatError(f"{path}: not a Gatling stats.json object")
    metrics: dict[str, SummaryMetric] = {}
    root = doc.get("stats", doc)
    _add_stats(path, metrics, root, None)

    _walk_requests(path, doc, metrics)
    return LoadtestResult(
        tool="gatling",
        format="gatling-stats-json",
        source=path,
        metrics=metrics,
        precision=(
            "gatling stats.json: pre-aggregated integer milliseconds; percentiles are Gatling's own "
            "(p50/p75/p95/p99 assumed: gatling.conf defaults), no raw samples"
        ),
        notes=["per-request figures are k6-style submetrics: http_req_duration{name:<request>}"],
    )


def _walk_requests(path: Path, doc: dict, metrics: dict[str, SummaryMetric]) -> None:
    """Every REQUEST node of the report's group tree, iteratively (no recursion on a hostile tree)."""
    pending: list[object] = [doc]
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            raise LoadtestFormatError(f"{path}: a node of the request tree is not an object")
        contents = node.get("contents") or {}
        if not isinstance(contents, dict):
            raise LoadtestFormatError(f"{path}: 'contents' of a group is not an object")
        for child in contents.values():
            if not isinstance(child, dict):
                raise LoadtestFormatError(f"{path}: an entry of 'contents' is not an object")
            if child.get("type") == "REQUEST":
                name = child.get("path") or child.get("name")
                if not isinstance(name, str) or not name:
                    raise LoadtestFormatError(f"{path}: a REQUEST node has no name")
                stats = child.get("stats", {})
                if not isinstance(stats, dict):
                    raise LoadtestFormatError(f"{path}: request {name!r}: stats is not an object")
                _add_stats(path, metrics, stats, name)
            pending.append(child)


def _add_stats(path: Path, metrics: dict[str, SummaryMetric], stats: dict, name: str | None) -> None:
    try:
        total = float(stats["numberOfRequests"]["total"])
        ko = float(stats["numberOfRequests"]["ko"])
        values = {
            "count": total,
            "min": float(stats["minResponseTime"]["total"]),
            "max": float(stats["maxResponseTime"]["total"]),
            "avg": float(stats["meanResponseTime"]["total"]),
            "stddev": float(stats["standardDeviation"]["total"]),
        }
        for index, pct in enumerate(DEFAULT_PERCENTILES, start=1):
            values[f"p({pct})"] = float(stats[f"percentiles{index}"]["total"])
        rate = stats.get("meanNumberOfRequestsPerSecond", {}).get("total")
        if rate is not None:
            rate = float(rate)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        where = f"request {name!r}" if name else "global stats"
        raise LoadtestFormatError(f"{path}: {where}: incomplete Gatling stats block") from None
    where = f"request {name!r}" if name else "global stats"
    for key, value in (*values.items(), ("ko", ko), ("rate", rate if rate is not None else 0.0)):
        if not math.isfinite(value) or value < 0:
            raise LoadtestFormatError(f"{path}: {where}: {key} is {value}: not a count or duration")
    if ko > total:
        raise LoadtestFormatError(f"{path}: {where}: {ko:g} failed (ko) of {total:g} requests")
    suffix = f"{{name:{name}}}" if name else ""
    metrics[f"http_req_duration{suffix}"] = SummaryMetric(f"http_req_duration{suffix}", "trend", values, unit="ms")
    failed = {"rate": ko / total if total else float("nan"), "passes": ko, "fails": total - ko}
    metrics[f"http_req_failed{suffix}"] = SummaryMetric(f"http_req_failed{suffix}", "rate", failed)
    reqs = {"count": total} | ({"rate": float(rate)} if rate is not None else {})
    metrics[f"http_reqs{suffix}"] = SummaryMetric(f"http_reqs{suffix}", "counter", reqs)


__all__ = ["read", "read_binary", "read_stats_json", "read_text", "sniff"]

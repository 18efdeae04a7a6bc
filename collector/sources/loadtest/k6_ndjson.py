"""k6 ``--out json`` reader: the NDJSON stream of Metric declarations and Points.

Every HTTP request leaves one point per built-in metric, written one after another with the same time and
tags. The requests table is built from ``http_req_duration`` (ms → s); the failure flag comes from the
``http_req_failed`` point with the same time and tags (k6's own verdict, which honours
``responseCallback``), so a 404 the script expects is not a failure and an unexpected 200 can be.

Files of millions of points are the normal case, so the file is scanned in byte ranges cut at newlines,
optionally by several processes, and only compact arrays (float64 values, int32 label codes, int8 flags)
leave a range. :func:`aggregate` keeps only what per-name latency/error figures need and never builds a
frame (10 M points: well under 1 GiB, faster than a plain orjson loop; see bench/loadtest_ndjson.py).
:func:`read` uses the same scan and also keeps each request's time and tags, and the points of other
metrics (``samples``) — all of them, or only the ``metrics`` a gate's checks ask for, which is what
``ingest`` passes so that a 10 M-point file stays under 1 GiB there too. Tags travel as one int32 code
per point into a small vocabulary of distinct tag sets (k6 repeats the same few), times as float64
epoch seconds converted in the workers: no Python object per point ever reaches the parent. Lines whose
content is not needed are checked for framing only (whole ``{…}`` objects in k6's layout);
:func:`read` without ``metrics`` decodes every point.

Broken input is never passed silently: a last line cut mid-write (k6 killed) is skipped with a note; any
other unparsable line is a :class:`LoadtestFormatError` naming the file and line number.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import orjson
import pandas as pd

from collector.sources.loadtest.common import MAX_LINE_BYTES, ensure_regular
from collector.sources.loadtest.k6_summary import is_time_metric
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult

DURATION = b"http_req_duration"
FAILED = b"http_req_failed"
POINT_PREFIX = b'{"metric":"'
BLOCK = 16 << 20
"""Bytes read at a time: large enough that per-read overhead vanishes, small enough to keep RSS flat."""
STAMP_BATCH = 1 << 16
"""Time strings parsed per batch in a worker: bounds the strings alive at once, amortises pandas' call."""


def sniff(head: bytes, path: Path) -> bool:
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and (b'"type":"Metric"' in first or b'"type":"Point"' in first)


# ---------------------------------------------------------------------------------------------- scanning


@dataclass
class _Part:
    """What one byte range yields; everything is positional within the range (requests in file order)."""

    lines: int = 0
    names: list[str] = field(default_factory=list)  # label code → label
    values: array = field(default_factory=lambda: array("d"))  # http_req_duration, ms
    codes: array = field(default_factory=lambda: array("i"))
    failed: array = field(default_factory=lambda: array("b"))  # 1 failed, 0 ok, -1 no http_req_failed point yet
    fallback: array = field(default_factory=lambda: array("b"))  # expected_response == "false"
    open_durations: dict[bytes, int] = field(default_factory=dict)  # key → index, unpaired
    open_failed: dict[bytes, int] = field(default_factory=dict)  # key → flag, no duration yet
    # full mode (read) only: what to keep, and per request its time and tag set
    full: bool = False
    wanted: frozenset[bytes] | None = None  # sample metrics to keep; None: all
    tagset_keys: list[bytes] = field(default_factory=list)  # tag-set code → orjson dump of the tags
    requests: _Series = field(default_factory=lambda: _Series())
    samples: dict[str, _Series] = field(default_factory=dict)
    # problems: (line within range, message); the last one may be a cut final line
    error: tuple[int, str] | None = None
    cut_last: tuple[int, str] | None = None
    _tagset_index: dict[bytes, int] = field(default_factory=dict)

    def keeps(self, metric: bytes) -> bool:
        """Whether points of ``metric`` (other than http_req_duration) go into ``samples``."""
        return self.full and (self.wanted is None or metric in self.wanted)

    def tagset(self, tags: dict) -> int:
        key = orjson.dumps(tags)
        code = self._tagset_index.get(key)
        if code is None:
            code = self._tagset_index[key] = len(self.tagset_keys)
            self.tagset_keys.append(key)
        return code

    def sample(self, name: str, data: dict) -> None:
        series = self.samples.get(name)
        if series is None:
            series = self.samples[name] = _Series()
        series.values.append(float(data["value"]))
        series.add(data, self.tagset(data.get("tags") or {}))

    def finish(self) -> None:
        """Parse the last time strings and drop what only scanning needed (less to pickle)."""
        self.requests.flush()
        for series in self.samples.values():
            series.flush()
        self._tagset_index = {}


@dataclass
class _Series:
    """Time and tag-set code per point (plus values for samples), compact from the start."""

    values: array = field(default_factory=lambda: array("d"))  # samples only; requests use _Part.values
    stamps: array = field(default_factory=lambda: array("d"))  # epoch seconds, NaN when unparsable
    tagsets: array = field(default_factory=lambda: array("i"))
    pending: list[str] = field(default_factory=list)  # time strings not parsed yet

    def add(self, data: dict, tagset: int) -> None:
        self.tagsets.append(tagset)
        self.pending.append(data.get("time", ""))
        if len(self.pending) >= STAMP_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.stamps.extend(_epoch(self.pending))
            self.pending = []


def _key(line: bytes, data: dict | None = None) -> bytes:
    """Pairs a request's points: same timestamp and same tags (k6 writes them byte-identical).

    Lines in k6's own layout are keyed on their raw bytes (no parse needed); others on a canonical dump.
    The two never mix within one file, which has one writer.
    """
    if line.startswith(POINT_PREFIX) and line.endswith(b"}}}"):
        t = line.find(b'"time":"')
        e = line.find(b'"', t + 8)
        g = line.find(b'"tags":', e)
        if t >= 0 and g >= 0:
            return line[t + 8 : e] + line[g + 7 : -2]
    if data is None:
        data = orjson.loads(line)["data"]
    tags = orjson.dumps(data.get("tags") or {}, option=orjson.OPT_SORT_KEYS)
    return b"\0" + str(data.get("time", "")).encode() + tags


class _Lines:
    """Tracks problem lines so that only a broken *final* line can be forgiven (k6 killed mid-write)."""

    def __init__(self) -> None:
        self.number = 0
        self.pending: tuple[int, str] | None = None
        self.first_error: tuple[int, str] | None = None

    def problem(self, number: int, message: str) -> None:
        if self.pending is not None and self.first_error is None:
            self.first_error = self.pending
        self.pending = (number, message)

    def good(self) -> None:
        if self.pending is not None:  # a broken line with good lines after it: corruption, not a cut tail
            self.first_error = self.first_error or self.pending
            self.pending = None


def _pattern(part: _Part) -> re.Pattern[bytes] | None:
    """The Point lines a block's fast path decodes: duration/failure, plus the kept sample metrics.

    None when every point is kept: splitting the block into lines is then cheaper than a regex pass.
    """
    if part.full and part.wanted is None:
        return None
    extra = part.wanted if part.full and part.wanted else frozenset()
    names = {DURATION, FAILED} | extra
    alternatives = b"|".join(re.escape(n) for n in sorted(names))
    return re.compile(rb'\{"metric":"(' + alternatives + rb')","type":"Point"[^\n]*')


def _scan(path: str, start: int, end: int, full: bool, is_last: bool, wanted: frozenset[bytes] | None = None) -> _Part:
    part = _Part(full=full, wanted=wanted)
    pattern = _pattern(part)
    codes: dict[str, int] = {}
    track = _Lines()
    carry = b""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        while remaining > 0:
            block = fh.read(min(BLOCK, remaining))
            if not block:
                break
            remaining -= len(block)
            first = block.find(b"\n")
            if len(carry) + (len(block) if first < 0 else first) > MAX_LINE_BYTES:
                # an endless line: refused here instead of being collected (one 1 GB line would be 1 GB)
                track.first_error = track.first_error or (track.number + 1, _too_long())
                carry = b""
                break
            if first < 0:
                carry += block
                continue
            # the line that straddles the previous block is handled on its own, so the block is never copied
            _slow(part, codes, [carry + block[:first]], track)
            cut = block.rfind(b"\n") + 1
            carry = block[cut:]
            if not _fast_block(part, codes, block, first + 1, cut, track, pattern):
                _slow(part, codes, block[first + 1 : cut].split(b"\n")[:-1], track)
    if carry:
        _slow(part, codes, [carry], track)
    if track.pending is not None and is_last and track.first_error is None:
        part.cut_last = track.pending
    else:
        part.error = track.first_error or track.pending
    part.lines = track.number
    part.names = list(codes)
    part.finish()
    return part


def _too_long() -> _Fatal:
    return _Fatal(f"line longer than {MAX_LINE_BYTES} bytes: not k6 output")


class _Fatal(str):
    """A problem that is never a cut final line (a complete point with an impossible value)."""

    __slots__ = ()


def value_problem(metric: str, value: float) -> _Fatal | None:
    """Why a point's value is not a measurement: a time metric (ms) must be finite and >= 0."""
    if not math.isfinite(value):
        return _Fatal(f"{metric} value is not finite ({value}): not a measurement")
    if value < 0 and (metric == "http_req_duration" or is_time_metric(metric)):
        return _Fatal(f"{metric} is negative ({value:g} ms): not a duration")
    return None


def _slow(part: _Part, codes: dict[str, int], lines: list[bytes], track: _Lines) -> None:
    for line in lines:
        track.number += 1
        problem = _too_long() if len(line) > MAX_LINE_BYTES else _line(part, codes, line)
        if isinstance(problem, _Fatal):
            track.good()  # whatever was pending is not a cut tail either
            track.first_error = track.first_error or (track.number, problem)
        elif problem is not None:
            track.problem(track.number, problem)
        elif line.strip():
            track.good()


def _line(part: _Part, codes: dict[str, int], line: bytes) -> str | None:
    """Handle one line; returns a problem description, None when fine."""
    if line[:11] == POINT_PREFIX:
        metric = line[11 : line.find(b'"', 11)]
        if metric != DURATION and metric != FAILED and not part.keeps(metric):
            # Content not needed: check its framing only (a cut or spliced line shows here).
            return None if line[-1:] == b"}" else "incomplete JSON line"
    elif not line.strip():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(obj, dict) or obj.get("type") not in ("Point", "Metric"):
        return 'not a k6 JSON output line (no "type": Point/Metric)'
    if obj["type"] != "Point":
        return None
    data = obj.get("data")
    name = obj.get("metric")
    if not isinstance(data, dict) or not isinstance(name, str) or not isinstance(data.get("value"), int | float):
        return "Point without metric name or numeric data.value"
    if name == "http_req_duration" and isinstance(data["value"], bool):
        return _Fatal("http_req_duration value is a boolean, not a duration")
    fatal = value_problem(name, float(data["value"]))
    if fatal is not None and (name == "http_req_duration" or part.keeps(name.encode())):
        return fatal
    tags = data.get("tags") or {}
    if name == "http_req_duration":
        _duration(part, codes, line, data, tags)
    elif name == "http_req_failed":
        _failed(part, line, data)
    if name != "http_req_duration" and part.keeps(name.encode()):
        part.sample(name, data)
    return None


def _duration(part: _Part, codes: dict[str, int], line: bytes, data: dict, tags: dict, register: bool = True) -> None:
    label = tags.get("name") or tags.get("url") or ""
    code = codes.get(label)
    if code is None:
        code = codes[label] = len(codes)
    index = len(part.values)
    part.values.append(float(data["value"]))
    part.codes.append(code)
    part.fallback.append(1 if tags.get("expected_response") == "false" else 0)
    part.failed.append(-1)
    if register:
        _register(part, line, index)
    if part.full:
        part.requests.add(data, part.tagset(tags))


def _failed(part: _Part, line: bytes, data: dict | None) -> None:
    """http_req_failed point; ``data`` None means the fast path vouched for the line's framing."""
    if data is None:
        at = line.find(b'"value":')
        digit = line[at + 8 : at + 10]
        if digit in (b"0,", b"1,"):
            flag = 1 if digit[0] == 49 else 0
        else:
            data = orjson.loads(line)["data"]
    if data is not None:
        flag = 1 if data["value"] else 0
    key = _key(line, data)
    index = part.open_durations.pop(key, None)
    if index is None:
        part.open_failed[key] = flag
    else:
        part.failed[index] = flag


LINE_HEADS = (POINT_PREFIX, b'{"type":"Metric"')


def _fast_block(
    part: _Part,
    codes: dict[str, int],
    buf: bytes,
    lo: int,
    hi: int,
    track: _Lines,
    pattern: re.Pattern[bytes] | None,
) -> bool:
    """Fast path for the whole lines in ``buf[lo:hi]``, at C speed where possible.

    Framing is proven with ``bytes.count`` (every line starts as k6 writes points/metrics and ends with
    ``}``); only then are the needed metrics (``pattern``) found with one regex pass and parsed. Anything else
    (other key order, blank line, cut line) returns False and the block goes line by line, which names
    the line. Returns True when the lines were consumed.
    """
    lines = buf.count(b"\n", lo, hi)
    # every line boundary is "}\n" then k6's own line start (Point lines lead with "metric", Metric lines
    # with "type"): all lines are whole objects in k6's layout, none cut, spliced or blank. Another layout
    # (older k6, re-serialized files) fails this and goes line by line.
    joins = buf.count(b'}\n{"metric":"', lo, hi) + buf.count(b'}\n{"type":"Metric"', lo, hi)
    if joins != lines - 1 or buf[hi - 2 : hi] != b"}\n" or not buf.startswith(LINE_HEADS, lo):
        return False
    if lines:
        track.good()
    try:
        _needed_lines(part, codes, buf, lo, hi, pattern)
    except _BadPoint as bad:
        number = track.number + buf.count(b"\n", lo, bad.at) + 1
        reason = bad.reason if bad.fatal else f"not a valid k6 point ({bad.reason})"
        track.first_error = track.first_error or (number, reason)
    track.number += lines
    return True


class _BadPoint(Exception):
    def __init__(self, at: int, reason: str, fatal: bool = False) -> None:
        super().__init__(reason)
        self.at, self.reason, self.fatal = at, reason, fatal


POINT_TYPE = b'","type":"Point"'


def _points(buf: bytes, lo: int, hi: int, pattern: re.Pattern[bytes] | None) -> Iterator[tuple[int, bytes, bytes]]:
    """(offset, line, metric) of the Point lines to decode, in file order: those ``pattern`` finds, or all."""
    if pattern is not None:
        for match in pattern.finditer(buf, lo, hi):
            at = match.start()
            if at == lo or buf[at - 1] == 10:  # at a line start (always so in valid JSON; kept for safety)
                yield at, match.group(0), match.group(1)
        return
    at = lo
    for line in buf[lo:hi].split(b"\n"):
        if line[:11] == POINT_PREFIX:
            end = line.find(b'"', 11)
            if line.startswith(POINT_TYPE, end):
                yield at, line, line[11:end]
        at += len(line) + 1


D_TIME = b'{"metric":"http_req_duration","type":"Point","data":{"time":"'
F_TIME = b'{"metric":"http_req_failed","type":"Point","data":{"time":"'


def _needed_lines(
    part: _Part, codes: dict[str, int], buf: bytes, lo: int, hi: int, pattern: re.Pattern[bytes] | None
) -> None:
    """The duration and failure points of a block (and kept sample metrics' points), in file order.

    k6 writes a request's points back to back, so a failure point normally pairs with the duration just
    before it: that is checked on the raw bytes (same time, same tags) without parsing the failure line.
    Anything out of that order is paired through the keyed dictionaries instead.
    """
    loads = orjson.loads
    last: tuple[bytes, int] | None = None  # the latest duration still waiting for its failure point
    for at, line, metric in _points(buf, lo, hi, pattern):
        if metric == DURATION:
            try:
                data = loads(line)["data"]
                if isinstance(data["value"], bool) or not isinstance(data["value"], int | float):
                    raise TypeError("data.value is not a number")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise _BadPoint(at, str(exc)) from None
            fatal = value_problem("http_req_duration", float(data["value"]))
            if fatal is not None:
                raise _BadPoint(at, fatal, fatal=True)
            if last is not None:
                _register(part, *last)
            last = (line, len(part.values))
            _duration(part, codes, line, data, data.get("tags") or {}, register=False)
            continue
        if metric != FAILED or part.keeps(FAILED):
            # a kept sample: decoded here; its framing and request pairing are not affected
            try:
                data = loads(line)["data"]
                if isinstance(data["value"], bool) or not isinstance(data["value"], int | float):
                    raise TypeError("data.value is not a number")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise _BadPoint(at, str(exc)) from None
            fatal = value_problem(metric.decode(), float(data["value"]))
            if fatal is not None:
                raise _BadPoint(at, fatal, fatal=True)
            part.sample(metric.decode(), data)
            if metric != FAILED:
                continue
        if last is not None and line.startswith(F_TIME) and last[0].startswith(D_TIME):
            end = line.find(b'"', len(F_TIME))
            tags = line.find(b',"tags":', end)
            value = line[end + 10 : end + 12]  # after '","value":'
            if (
                tags > 0
                and value in (b"0,", b"1,")
                and last[0].startswith(line[len(F_TIME) : end + 1], len(D_TIME))
                and last[0].endswith(line[tags:])
            ):
                part.failed[last[1]] = 1 if value[0] == 49 else 0
                last = None
                continue
        if last is not None:
            _register(part, *last)
            last = None
        try:
            _failed(part, line, None)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise _BadPoint(at, str(exc)) from None
    if last is not None:
        _register(part, *last)


def _register(part: _Part, line: bytes, index: int) -> None:
    """A duration whose failure point is not right after it: pair through the keyed dictionaries."""
    key = _key(line)
    flag = part.open_failed.pop(key, None)
    if flag is None:
        part.open_durations[key] = index
    else:
        part.failed[index] = flag


def _ranges(path: Path, workers: int) -> list[tuple[int, int]]:
    """Byte ranges of about equal size, each ending just after a newline."""
    size = path.stat().st_size
    if workers <= 1 or size < 4 * BLOCK:
        return [(0, size)]
    cuts = [0]
    with path.open("rb") as fh:
        for i in range(1, workers):
            start = max(size * i // workers, cuts[-1])
            cuts.append(min(start + _to_line_end(fh, start), size))
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _to_line_end(fh: BinaryIO, start: int) -> int:
    """Bytes from ``start`` to just after the next newline, looking no further than one line may be long.

    A range cut inside an over-long line is fine: the range before it ends in that line and reports it.
    """
    fh.seek(start)
    scanned = 0
    while scanned <= MAX_LINE_BYTES:
        block = fh.read(1 << 20)
        if not block:
            break
        at = block.find(b"\n")
        if at >= 0:
            return scanned + at + 1
        scanned += len(block)
    return scanned


def _scan_all(path: Path, full: bool, workers: int, wanted: frozenset[bytes] | None = None) -> list[_Part]:
    ranges = _ranges(path, workers)
    jobs = [(str(path), a, b, full, i == len(ranges) - 1, wanted) for i, (a, b) in enumerate(ranges)]
    if len(jobs) == 1:
        return [_scan(*jobs[0])]
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        return pool.starmap(_scan, jobs)


def _check(path: Path, parts: list[_Part]) -> list[str]:
    """Raise on a broken line; turn a cut final line into a note. Line numbers are file-wide."""
    notes = []
    offset = 0
    for part in parts:
        if part.error is not None:
            line, problem = part.error
            raise LoadtestFormatError(f"{path}:{offset + line}: {problem}")
        if part.cut_last is not None:
            line, problem = part.cut_last
            notes.append(f"line {offset + line} (the last) is cut mid-write ({problem}): skipped")
        offset += part.lines
    return notes


# --------------------------------------------------------------------------------------------- stitching


@dataclass
class Aggregate:
    """Per-request arrays of a whole file, enough for exact per-label latency and error figures.

    ``duration_ms`` keeps k6's float64 milliseconds untouched, so percentiles are exact, not binned.
    """

    source: Path
    names: list[str]
    codes: np.ndarray  # int32, index into names
    duration_ms: np.ndarray  # float64
    failed: np.ndarray  # bool
    lines: int
    notes: list[str]

    def per_name(self, percentiles: tuple[float, ...] = (95.0, 99.0)) -> pd.DataFrame:
        """count, failed, error_ratio and exact p(N) in ms (numpy linear interpolation, as k6) per name."""
        order = np.argsort(self.codes, kind="stable")
        codes = self.codes[order]
        values = self.duration_ms[order]
        failed = self.failed[order]
        bounds = np.searchsorted(codes, np.arange(len(self.names) + 1))
        rows = []
        for code, name in enumerate(self.names):
            lo, hi = bounds[code], bounds[code + 1]
            if hi == lo:
                continue
            chunk = values[lo:hi]
            count, failures = int(hi - lo), int(failed[lo:hi].sum())
            row: dict[str, float | int | str] = {"name": name, "count": count, "failed": failures}
            row["error_ratio"] = failures / count
            for pct, value in zip(percentiles, np.percentile(chunk, percentiles), strict=True):
                row[f"p({pct:g})"] = float(value)
            rows.append(row)
        return pd.DataFrame(rows).set_index("name").sort_index()


def _stitch(path: Path, parts: list[_Part]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Join ranges: global label codes, and failure points whose duration sits in another range."""
    names: list[str] = []
    index: dict[str, int] = {}
    codes, values, failed, fallback = [], [], [], []
    open_durations: dict[bytes, int] = {}
    open_failed: dict[bytes, int] = {}
    base = 0
    for part in parts:
        remap = np.array([index.setdefault(n, len(index)) for n in part.names] or [0], dtype=np.int32)
        names = list(index)
        local = np.frombuffer(part.codes, dtype=np.int32) if len(part.codes) else np.zeros(0, np.int32)
        codes.append(remap[local])
        values.append(np.frombuffer(part.values, dtype=np.float64) if len(part.values) else np.zeros(0))
        flags = np.array(part.failed, dtype=np.int8)
        # failure points that arrived before their duration in an earlier range
        for key, at in part.open_durations.items():
            flag = open_failed.pop(key, None)
            if flag is None:
                open_durations[key] = base + at
            else:
                flags[at] = flag
        failed.append(flags)
        fallback.append(np.array(part.fallback, dtype=np.int8))
        for key, flag in part.open_failed.items():
            found = open_durations.pop(key, None)
            if found is None:
                open_failed[key] = flag
            else:
                _set_flag(failed, found, flag)
        base += len(part.values)
    all_failed = np.concatenate(failed) if failed else np.zeros(0, np.int8)
    all_fallback = np.concatenate(fallback) if fallback else np.zeros(0, np.int8)
    notes = []
    unknown = all_failed < 0
    if unknown.any():
        notes.append(
            f"{int(unknown.sum())} request(s) without an http_req_failed point: failure taken from the "
            "expected_response tag"
        )
        all_failed = np.where(unknown, all_fallback, all_failed)
    if open_failed:
        notes.append(f"{len(open_failed)} http_req_failed point(s) without a matching http_req_duration: ignored")
    return (
        names,
        np.concatenate(codes) if codes else np.zeros(0, np.int32),
        np.concatenate(values) if values else np.zeros(0),
        all_failed.astype(bool),
        notes,
    )


def _set_flag(failed: list[np.ndarray], at: int, flag: int) -> None:
    for chunk in failed:
        if at < len(chunk):
            chunk[at] = flag
            return
        at -= len(chunk)


def _workers(workers: int | None) -> int:
    return max(1, min(os.cpu_count() or 1, 2)) if workers is None else max(1, workers)


def _open(path: Path) -> Path:
    path = Path(path)
    size = ensure_regular(path)
    if size == 0:
        raise LoadtestFormatError(f"{path}: empty file, no k6 points")
    return path


def aggregate(path: Path, workers: int | None = None) -> Aggregate:
    """Streaming path for huge files: only http_req_duration/http_req_failed are parsed; other lines are
    checked for framing (a cut or spliced line) but not decoded."""
    path = _open(path)
    parts = _scan_all(path, full=False, workers=_workers(workers))
    notes = _check(path, parts)
    names, codes, values, failed, more = _stitch(path, parts)
    return Aggregate(path, names, codes, values, failed, sum(p.lines for p in parts), notes + more)


def read(path: Path, workers: int | None = None, metrics: Iterable[str] | None = None) -> LoadtestResult:
    """The requests table with every tag, plus other metrics' points in ``samples``.

    ``metrics`` names the sample metrics to keep (e.g. the k6 metrics a gate's checks use); None keeps
    all. Leaving out the ones nobody asks for is what keeps a 10 M-point file's read small and fast:
    their lines are then only checked for framing, as in :func:`aggregate`.
    """
    path = _open(path)
    wanted = None if metrics is None else frozenset(m.encode() for m in metrics)
    parts = _scan_all(path, full=True, workers=_workers(workers), wanted=wanted)
    notes = _check(path, parts)
    names, codes, values, failed, more = _stitch(path, parts)
    notes += more
    vocabulary, remaps = _tagsets(parts)
    tagsets = _codes([p.requests.tagsets for p in parts], remaps)
    if not len(values):
        notes.append("no http_req_duration points")
    requests = pd.DataFrame(
        {
            "timestamp": _floats([p.requests.stamps for p in parts]),
            "label": pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=str)),
            "method": _tag_column(vocabulary, tagsets, "method"),
            "status": _tag_column(vocabulary, tagsets, "status"),
            "ok": ~failed,
            "duration": values / 1000.0,
            "bytes": np.full(len(values), np.nan),
            "count": np.ones(len(values), dtype="int64"),
        }
    )
    for key in sorted(_keys(vocabulary, tagsets) - {"method", "status"}):
        requests[key] = _tag_column(vocabulary, tagsets, key)
    samples: dict[str, pd.DataFrame] = {}
    for metric in dict.fromkeys(m for p in parts for m in p.samples):
        series = [p.samples.get(metric, _Series()) for p in parts]
        codes_of = _codes([s.tagsets for s in series], remaps)
        frame = pd.DataFrame(
            {"value": _floats([s.values for s in series]), "timestamp": _floats([s.stamps for s in series])}
        )
        for key in sorted(_keys(vocabulary, codes_of)):
            frame[key] = _tag_column(vocabulary, codes_of, key)
        samples[metric] = frame
    span = None
    if len(values):
        ts = requests["timestamp"].to_numpy()
        span = float(np.nanmax(ts + requests["duration"].to_numpy()) - np.nanmin(ts))
    return LoadtestResult(
        tool="k6",
        format="k6-ndjson",
        source=path,
        requests=requests,
        samples=samples,
        duration_seconds=span,
        precision="k6 NDJSON: every point, float milliseconds (exact)",
        notes=notes,
    )


def _tagsets(parts: list[_Part]) -> tuple[list[dict], list[np.ndarray]]:
    """One vocabulary of distinct tag sets for the whole file, and each range's local → global codes."""
    index: dict[bytes, int] = {}
    remaps = [
        np.array([index.setdefault(key, len(index)) for key in part.tagset_keys] or [0], dtype=np.int32)
        for part in parts
    ]
    return [orjson.loads(key) for key in index], remaps


def _codes(pieces: list[array], remaps: list[np.ndarray]) -> np.ndarray:
    out = [
        remap[np.frombuffer(piece, dtype=np.int32)] for piece, remap in zip(pieces, remaps, strict=True) if len(piece)
    ]
    return np.concatenate(out) if out else np.zeros(0, np.int32)


def _floats(pieces: list[array]) -> np.ndarray:
    out = [np.frombuffer(piece, dtype=np.float64) for piece in pieces if len(piece)]
    return np.concatenate(out) if out else np.zeros(0)


def _keys(vocabulary: list[dict], codes: np.ndarray) -> set[str]:
    return {key for code in np.unique(codes) for key in vocabulary[code]}


def _tag_column(vocabulary: list[dict], codes: np.ndarray, key: str) -> pd.Series:
    """A tag as a categorical column ("" where a point lacks it), built per distinct tag set, not per point.

    Categorical, not object: a row costs a small integer instead of a pointer, and the row selections
    every check makes (compare, then take) run on integer codes without touching Python objects.
    """
    per_set = np.array([str(tags.get(key, "")) for tags in vocabulary] or [""], dtype=object)
    categories, inverse = np.unique(per_set.astype(str), return_inverse=True)
    values = inverse[codes]
    present = np.unique(values)  # categories this metric's points use, not every tag set's in the file
    renumber = np.zeros(len(categories), dtype=np.int32)
    renumber[present] = np.arange(len(present), dtype=np.int32)
    return pd.Series(pd.Categorical.from_codes(renumber[values], categories=categories[present]))


def _epoch(times: list[str]) -> np.ndarray:
    if not times:
        return np.zeros(0)
    parsed = pd.to_datetime(pd.Series(times), utc=True, errors="coerce", format="ISO8601")
    # unit-agnostic (pandas may pick us or ns resolution); unparsable times become NaN
    return ((parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


__all__ = ["Aggregate", "aggregate", "read", "sniff"]

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson
import pandas as pd

from collector.sources.loadtest.common import MAX_LINE_BYTES, ensure_regular
from collector.sources.loadtest.k6_summary import is_time_metric
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult

DURATION = b"http_req_duration"
FAILED = b"http_req_failed"
POINT_PREFIX = b'{"metric":"'
BLOCK = 4 << 20
"""Bytes read at a time: large enough that per-block overhead vanishes, small enough that a block stays in
the CPU cache across the passes over it (framing, line table, parsing): 4 MiB ran 13 % faster than 16."""
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
    stamps: bool = False  # lean mode (read without tags): per request its time, no tag set
    wanted: frozenset[bytes] | None = None  # sample metrics to keep; None: all
    tagset_keys: list[bytes] = field(default_factory=list)  # tag-set code → orjson dump of the tags
    requests: _Series = field(default_factory=lambda: _Series())
    samples: dict[str, _Series] = field(default_factory=dict)
    # problems: (line within range, message); the last one may be a cut final line
    error: tuple[int, str] | None = None
    cut_last: tuple[int, str] | None = None
    _tagset_index: dict[bytes, int] = field(default_factory=dict)
    known_tags: dict[bytes, tuple[int, int, int | None]] = field(default_factory=dict)
    """Raw tags bytes of a duration line → (label code, expected_response false, tag-set code): see _learn."""

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
        self.known_tags = {}


@dataclass
class _Series:
    """Time and tag-set code per point (plus values for samples), compact from the start."""

    values: array = field(default_factory=lambda: array("d"))  # samples only; requests use _Part.values
    stamps: array = field(default_factory=lambda: array("d"))  # epoch seconds, NaN when unparsable
    tagsets: array = field(default_factory=lambda: array("i"))
    pending: list[str] = field(default_factory=list)  # time strings not parsed yet

    def add(self, data: dict, tagset: int | None = None) -> None:
        self.push(data.get("time", ""), tagset)

    def push(self, time: str, tagset: int | None = None) -> None:
        if tagset is not None:
            self.tagsets.append(tagset)
        self.pending.append(time)
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


def _scan(
    path: str,
    start: int,
    end: int,
    full: bool,
    is_last: bool,
    wanted: frozenset[bytes] | None = None,
    stamps: bool = False,
    slot: int = 0,
) -> _Part:
    part = _Part(full=full, wanted=wanted, stamps=stamps)
    pattern = _pattern(part)
    codes: dict[str, int] = {}
    track = _Lines()
    carry = b""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        while remaining > 0:
            _advance(slot, end - start - remaining)  # bytes of the range handled so far
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
    _advance(slot, end - start)
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
    elif part.stamps:
        part.requests.add(data)


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
    if not part.full or part.wanted == frozenset():  # the request metrics only: framing and finding vectorised
        found = _framed(buf, lo, hi)
        if found is None:
            return False
        lines, points = len(found[0]), _request_points(buf, lo, *found)
    else:
        lines = buf.count(b"\n", lo, hi)
        # every line boundary is "}\n" then k6's own line start (Point lines lead with "metric", Metric
        # lines with "type"): all lines are whole objects in k6's layout, none cut, spliced or blank.
        # Another layout (older k6, re-serialized files) fails this and goes line by line.
        joins = buf.count(b'}\n{"metric":"', lo, hi) + buf.count(b'}\n{"type":"Metric"', lo, hi)
        if joins != lines - 1 or buf[hi - 2 : hi] != b"}\n" or not buf.startswith(LINE_HEADS, lo):
            return False
        points = _points(buf, lo, hi, pattern)
    if lines:
        track.good()
    try:
        _needed_lines(part, codes, points)
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


METRIC_HEAD = b'{"type":"Metric"'
D_HEAD = b'{"metric":"http_req_duration","type":"Point"'
F_HEAD = b'{"metric":"http_req_failed","type":"Point"'
_D, _F, _H = ord("d"), ord("f"), ord("h")


_scratch = np.zeros(0, dtype=bool)
"""The newline mask, reused block after block: a fresh 16 MiB array per block costs more in page faults
than the comparison that fills it."""


def _newlines(view: np.ndarray) -> np.ndarray | None:
    """Offsets of every newline in ``view`` (uint8), or None when two fall in one 8-byte word.

    ``np.flatnonzero`` over every byte of a 16 MiB block costs more than the parsing it saves, so the
    newline mask is searched as 64-bit words (8 times fewer) and each hit word's byte found by argmax.
    A word with two newlines means a line under 8 bytes, never one of k6's: the block then goes line by
    line, which names it.
    """
    global _scratch
    if len(_scratch) < len(view) + 8:
        _scratch = np.zeros(len(view) + (1 << 20), dtype=bool)
    mask = _scratch[: len(view)]
    np.equal(view, 10, out=mask)
    total = int(np.count_nonzero(mask))
    whole = len(mask) // 8 * 8
    words = np.flatnonzero(mask[:whole].view(np.uint64))
    firsts = words * 8 + mask[:whole].reshape(-1, 8)[words].argmax(axis=1)
    ends = np.concatenate((firsts, np.flatnonzero(mask[whole:]) + whole))
    return ends if len(ends) == total else None


def _heads(view: np.ndarray, starts: np.ndarray, head: bytes) -> bool:
    """Whether every line starting at ``starts`` begins with ``head`` (8 to 16 bytes).

    Compared 8 bytes at a time: each start's 8-byte window (a strided view, no copy) is gathered and
    read as one 64-bit word, for the head's first 8 bytes and its last 8. A window clipped at the end of
    the block holds the block's final newline, which no head does, so it never matches by accident.
    """
    if not len(starts):
        return True
    if len(view) < 8:
        return False
    windows = np.lib.stride_tricks.as_strided(view, shape=(len(view) - 7, 8), strides=(1, 1), writeable=False)
    last = len(view) - 8
    for offset in (0, len(head) - 8):
        want = np.frombuffer(head[offset : offset + 8], dtype=np.uint64)[0]
        words = windows[np.minimum(starts + offset, last)].view(np.uint64).ravel()
        if not bool((words == want).all()):
            return False
    return True


def _framed(buf: bytes, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(line starts, line ends, is a Point line) of ``buf[lo:hi]``, offsets relative to ``lo``; None
    unless every line is a whole object in k6's layout: it starts as k6 writes a Point (``{"metric":"``)
    or a Metric declaration (``{"type":"Metric"``) and ends with ``}``, none blank, cut or spliced.
    The same test as counting ``}\n{"metric":"`` joins, vectorised over the block's line table.
    """
    view = np.frombuffer(buf, dtype=np.uint8, count=hi - lo, offset=lo)
    ends = _newlines(view)
    if ends is None or not len(ends) or ends[-1] != len(view) - 1 or ends[0] == 0:
        return None
    if not bool((view[ends - 1] == 125).all()):  # "}" before every newline
        return None
    starts = np.concatenate(([0], ends[:-1] + 1))
    # {"m… or {"t…: every byte of either head is checked below
    point = view[np.minimum(starts + 2, len(view) - 1)] == POINT_PREFIX[2]
    if not _heads(view, starts[point], POINT_PREFIX) or not _heads(view, starts[~point], METRIC_HEAD):
        return None
    return starts, ends, point


def _request_points(
    buf: bytes, lo: int, starts: np.ndarray, ends: np.ndarray, point: np.ndarray
) -> Iterator[tuple[int, bytes, bytes]]:
    """What :func:`_points` yields for the request metrics alone, from :func:`_framed`'s line table:
    lines whose name starts ``h`` with ``d``/``f`` after ``http_req_`` are candidates, checked in full."""
    whole, last = np.frombuffer(buf, dtype=np.uint8), len(buf) - 1
    first = whole[np.minimum(starts + lo + 11, last)]
    ninth = whole[np.minimum(starts + lo + 20, last)]
    candidates = np.flatnonzero(point & (first == _H) & ((ninth == _D) | (ninth == _F)))
    for start, end in zip((starts[candidates] + lo).tolist(), (ends[candidates] + lo).tolist(), strict=True):
        line = buf[start:end]
        if line.startswith(D_HEAD):
            yield start, line, DURATION
        elif line.startswith(F_HEAD):
            yield start, line, FAILED


D_LINE = re.compile(
    rb'\{"metric":"http_req_duration","type":"Point","data":\{"time":"([\x20\x21\x23-\x5b\x5d-\x7e]*)",'
    rb'"value":((?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,3})?),"tags":(\{.*\})\}\}'
)
"""A duration point exactly as k6 writes it: printable ASCII time without escapes, a non-negative JSON
number (15 integer digits at most), the tags object last. Anything else is decoded by orjson."""


def _learn(
    part: _Part, codes: dict[str, int], line: bytes, found: re.Match[bytes]
) -> tuple[int, int, int | None] | None:
    """Decode a duration line whose raw tags are new, prove the regex read it as orjson does, and remember
    what the tags give (label code, failure fallback, tag-set code). None: leave the line to orjson.

    Every later line with the same tags bytes then differs only in its time and value, both of which
    :data:`D_LINE` admits only in forms whose meaning is plain (no escapes, JSON number grammar).
    """
    try:
        obj = orjson.loads(line)
        tags_alone = orjson.loads(found[3])
    except orjson.JSONDecodeError:
        return None
    data = obj.get("data") if isinstance(obj, dict) else None
    if (
        not isinstance(data, dict)
        or obj.keys() != {"metric", "type", "data"}
        or data.keys() != {"time", "value", "tags"}
        or not isinstance(data["tags"], dict)
        or tags_alone != data["tags"]
        or data["time"] != found[1].decode("ascii")
        or isinstance(data["value"], bool)
        or not isinstance(data["value"], int | float)
        or float(data["value"]) != float(found[2])
    ):
        return None
    tags = data["tags"]
    label = tags.get("name") or tags.get("url") or ""
    code = codes.get(label)
    if code is None:
        code = codes[label] = len(codes)
    seen = (code, 1 if tags.get("expected_response") == "false" else 0, part.tagset(tags) if part.full else None)
    part.known_tags[found[3]] = seen
    return seen


D_TIME = b'{"metric":"http_req_duration","type":"Point","data":{"time":"'
F_TIME = b'{"metric":"http_req_failed","type":"Point","data":{"time":"'


def _needed_lines(part: _Part, codes: dict[str, int], points: Iterable[tuple[int, bytes, bytes]]) -> None:
    """The duration and failure points of a block (and kept sample metrics' points), in file order.

    k6 writes a request's points back to back, so a failure point normally pairs with the duration just
    before it: that is checked on the raw bytes (same time, same tags) without parsing the failure line.
    Anything out of that order is paired through the keyed dictionaries instead.
    """
    loads = orjson.loads
    last: tuple[bytes, int] | None = None  # the latest duration still waiting for its failure point
    exact, known, inf = D_LINE.fullmatch, part.known_tags, math.inf
    values, label_codes, fallback, failed = part.values, part.codes, part.fallback, part.failed
    times = part.requests if part.full or part.stamps else None
    for at, line, metric in points:
        if metric == DURATION:
            found = exact(line)
            if found is not None:
                # k6's own layout with a tag set seen (and fully decoded) before: no JSON decoding needed
                seen = known.get(found[3]) or _learn(part, codes, line, found)
                value = float(found[2]) if seen is not None else inf
                if seen is not None and value < inf:
                    if last is not None:
                        _register(part, *last)
                    last = (line, len(values))
                    values.append(value)
                    label_codes.append(seen[0])
                    fallback.append(seen[1])
                    failed.append(-1)
                    if times is not None:
                        times.push(found[1].decode("ascii"), seen[2])
                    continue
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
            flag = line[end + 10 : end + 12]  # after '","value":'
            if (
                tags > 0
                and flag in (b"0,", b"1,")
                and last[0].startswith(line[len(F_TIME) : end + 1], len(D_TIME))
                and last[0].endswith(line[tags:])
            ):
                part.failed[last[1]] = 1 if flag[0] == 49 else 0
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


Progress = Callable[[int], None]
"""Called with the bytes of a file consumed so far: never decreasing, last called with the file size."""

PROGRESS_EVERY = 0.1
"""Seconds between two progress calls from the parent while workers scan (they report every block)."""

_slots: Any = None  # per-range bytes done: a shared array in forked workers, a plain list in one process
_on_advance: Progress | None = None  # one-process mode: the caller's callback, called per block


def _advance(slot: int, done: int) -> None:
    """Record ``done`` bytes of range ``slot`` (once per 16 MiB block: costs nothing next to parsing it)."""
    if _slots is None:
        return
    _slots[slot] = done
    if _on_advance is not None:
        _on_advance(sum(_slots))


def _scan_all(
    path: Path,
    full: bool,
    workers: int,
    wanted: frozenset[bytes] | None = None,
    stamps: bool = False,
    progress: Progress | None = None,
) -> list[_Part]:
    global _slots, _on_advance
    ranges = _ranges(path, workers)
    jobs = [(str(path), a, b, full, i == len(ranges) - 1, wanted, stamps, i) for i, (a, b) in enumerate(ranges)]
    if progress is None:
        _slots, _on_advance = None, None
    try:
        if len(jobs) == 1:
            if progress is not None:
                _slots, _on_advance = [0], progress
            return [_scan(*jobs[0])]
        context = multiprocessing.get_context("fork")
        if progress is not None:
            # inherited by the forked workers (a shared array cannot travel as a task argument)
            _slots, _on_advance = context.Array("q", len(jobs), lock=False), None
        with context.Pool(len(jobs)) as pool:
            pending = pool.starmap_async(_scan, jobs)
            reported = -1
            while not pending.ready():
                pending.wait(PROGRESS_EVERY)
                if progress is not None and (done := sum(_slots)) > reported:
                    reported = done
                    progress(done)
            parts = pending.get()
            if progress is not None and sum(_slots) > reported:
                progress(sum(_slots))
            return parts
    finally:
        _slots, _on_advance = None, None


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


def aggregate(path: Path, workers: int | None = None, progress: Progress | None = None) -> Aggregate:
    """Streaming path for huge files: only http_req_duration/http_req_failed are parsed; other lines are
    checked for framing (a cut or spliced line) but not decoded. ``progress``: see :data:`Progress`."""
    path = _open(path)
    parts = _scan_all(path, full=False, workers=_workers(workers), progress=progress)
    notes = _check(path, parts)
    names, codes, values, failed, more = _stitch(path, parts)
    return Aggregate(path, names, codes, values, failed, sum(p.lines for p in parts), notes + more)


def read(
    path: Path,
    workers: int | None = None,
    metrics: Iterable[str] | None = None,
    *,
    tags: bool = True,
    progress: Progress | None = None,
) -> LoadtestResult:
    """The requests table with every tag, plus other metrics' points in ``samples``.

    ``metrics`` names the sample metrics to keep (e.g. the k6 metrics a gate's checks use); None keeps
    all. Leaving out the ones nobody asks for is what keeps a 10 M-point file's read small and fast:
    their lines are then only checked for framing, as in :func:`aggregate`.

    ``tags=False`` is the lean read ``ingest`` uses when no check selects by a tag other than ``name``
    and none reads a sample metric: the scan of :func:`aggregate` plus each request's time, so the table
    has timestamp, label, ok, duration, bytes and count but no tag columns and no samples (``metrics``
    must then be empty). Every value it has is the one the full read gives.
    """
    path = _open(path)
    wanted = None if metrics is None else frozenset(m.encode() for m in metrics)
    if not tags and wanted != frozenset():
        raise ValueError("read(tags=False) keeps no sample metrics: pass metrics=()")
    parts = _scan_all(path, full=tags, workers=_workers(workers), wanted=wanted, stamps=not tags, progress=progress)
    notes = _check(path, parts)
    names, codes, values, failed, more = _stitch(path, parts)
    notes += more
    if not len(values):
        notes.append("no http_req_duration points")
    columns: dict[str, Any] = {
        "timestamp": _floats([p.requests.stamps for p in parts]),
        "label": pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=str)),
    }
    if tags:
        vocabulary, remaps = _tagsets(parts)
        tagsets = _codes([p.requests.tagsets for p in parts], remaps)
        columns["method"] = _tag_column(vocabulary, tagsets, "method")
        columns["status"] = _tag_column(vocabulary, tagsets, "status")
    columns.update(
        {
            "ok": ~failed,
            "duration": values / 1000.0,
            "bytes": np.full(len(values), np.nan),
            "count": np.ones(len(values), dtype="int64"),
        }
    )
    requests = pd.DataFrame(columns)
    samples: dict[str, pd.DataFrame] = {}
    if tags:
        for key in sorted(_keys(vocabulary, tagsets) - {"method", "status"}):
            requests[key] = _tag_column(vocabulary, tagsets, key)
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

"""One plain OTLP JSON-lines file scanned by worker processes, one byte range each, cut at line boundaries.

Why: the scan is Python work per span, and the machine has more than one core. Each forked worker
scans its range with its own :class:`~collector.sources.traces.scan.OtlpScanner` and a fresh batch of
the same checks, and returns the aggregators' partial states; the parent merges them in file order
while it hashes the file for the packet's digest. The partial states merge exactly (counts, duration
lists in file order, exact integer sums, per-run costs keyed by trace id so a run whose spans straddle
a cut adds up as if read by one process), so the values are those of one sequential pass. A bad line
is reported with its file-wide line number: the first range with an error wins, as in one pass.

gzip streams cannot be cut, and a single pretty-printed document is not lines: both are read by one
process (see :func:`plan`).
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from collector.sources.traces.local import SpanBatch
from collector.sources.traces.otlp import TraceDecodeError
from collector.sources.traces.scan import OtlpScanner
from slo.errors import InputError
from slo.pricing import PriceTable
from slo.spec import Check
from slo.spill import SpillFactory

MIN_BYTES = 32 * 1024 * 1024
"""Below this a file is scanned in one process (forking and merging would cost more than they save)."""
MAX_WORKERS = 2
"""Each worker holds its own aggregates: two keep the memory bound and use this machine's two cores."""
_PEEK = 1 << 20


def plan(path: Path, workers: int | None = None) -> list[tuple[int, int]]:
    """Byte ranges to scan in parallel, or ``[]`` for one process (small, gzip, not JSON lines, one core)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return []  # the workers inherit the checks by fork (Windows: one process)
    count = workers if workers is not None else min(MAX_WORKERS, _cores())
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_PEEK)
    except OSError:
        return []  # the one-process path reports it
    first = head.split(b"\n", 1)[0]
    if count <= 1 or size < (MIN_BYTES if workers is None else 1) or head[:2] == b"\x1f\x8b":
        return []
    if b"\n" not in head or not first.rstrip().endswith(b"}"):
        return []  # maybe one pretty-printed document (read whole by one process)
    return ranges(path, size, count)


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def ranges(path: Path, size: int, count: int) -> list[tuple[int, int]]:
    """About equal ranges, each ending just after a newline (a long line moves the cut past it)."""
    cuts = [0]
    with path.open("rb") as handle:
        for i in range(1, count):
            at = max(size * i // count, cuts[-1])
            handle.seek(at)
            while True:
                block = handle.read(_PEEK)
                found = block.find(b"\n")
                if found >= 0:
                    at += found + 1
                    break
                if not block:
                    break
                at += len(block)
            cuts.append(min(at, size))
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


@dataclass
class _Part:
    """What a worker returns: its spans, lines and aggregator states, or its first error (local line)."""

    spans: int = 0
    lines: int = 0
    last_line: int = 0
    """Local number of its last non-blank line (0: none)."""
    error: tuple[int, str, str | None] | None = None
    states: list[dict[str, Any]] = field(default_factory=list)


_JOB: tuple[Path, Sequence[Check], float, PriceTable | None, SpillFactory | None] | None = None
"""The file and checks, set before forking: inherited by the workers, never pickled."""


def _scan_range(start: int, end: int) -> str:
    """Scan one range; the part is pickled to a temporary file whose path is returned.

    Why a file: through the pool's pipe the parent would hold the pickled bytes and the objects while
    both workers still held theirs; from a file it loads one part at a time once the workers are gone.
    """
    part = _scan_part(start, end)
    handle, name = tempfile.mkstemp(prefix="gatepack-traces-", suffix=".pickle")
    with os.fdopen(handle, "wb") as out:
        pickle.dump(part, out, protocol=pickle.HIGHEST_PROTOCOL)
    return name


def _scan_part(start: int, end: int) -> _Part:
    assert _JOB is not None
    path, checks, at, pricing, spill = _JOB
    batch = SpanBatch(checks, at, pricing, spill=spill)  # its spill files land in the parent's directory
    scanner = OtlpScanner(batch)
    part = _Part()
    with path.open("rb", buffering=1 << 20) as handle:
        handle.seek(start)
        position = start
        for number, line in enumerate(handle, start=1):
            position += len(line)
            part.lines = number
            if line.strip():
                part.last_line = number
                try:
                    part.spans += scanner.feed_line(line)
                except msgspec.DecodeError as exc:
                    part.error = (number, f"not JSON: {exc}", None)
                    return part
                except TraceDecodeError as exc:
                    part.error = (number, exc.message, exc.field)
                    return part
            if position >= end:
                break
    scanner.finish()
    part.states = batch.partial()
    return part


def scan_parallel(path: Path, batch: SpanBatch, cuts: list[tuple[int, int]], stats: dict[str, Any]) -> int:
    """Feed ``batch`` every span of the file, one worker per range; ``stats`` gets lines, bytes, sha256."""
    global _JOB
    _JOB = (path, batch.checks, batch.at, batch.pricing, batch.spill)
    names: list[str] = []
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(len(cuts)) as pool:
            pending = pool.starmap_async(_scan_range, cuts)
            try:
                with path.open("rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256")
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
            names = pending.get()
        offset = last = spans = 0
        for name in names:  # in file order, one part in memory at a time
            with open(name, "rb") as handle:
                part: _Part = pickle.load(handle)  # noqa: S301 - our own worker wrote it (mkstemp: 0600, unique)
            os.unlink(name)
            if part.error is not None:
                number, message, where = part.error
                raise InputError(message, source=str(path), line=offset + number, field=where)
            if part.last_line:
                last = offset + part.last_line
            offset += part.lines
            spans += part.spans
            batch.merge(part.states)
            del part
    finally:
        _JOB = None
        for name in names:
            if os.path.exists(name):
                os.unlink(name)
    stats["lines"] = last
    stats["bytes"] = cuts[-1][1]
    stats["sha256"] = digest.hexdigest()
    return spans

"""``trace`` and ``ai_cost`` checks from OTLP JSON files on disk (the Collector's file exporter, gzip or not).

The file exporter writes JSON lines: one ``{"resourceSpans": […]}`` object per export. The file is
streamed line by line through a hashing reader, so the digest in the packet is of the bytes really
read, and memory holds one line plus the checks' running aggregates, whatever the file's size. A file
holding one pretty-printed OTLP document (what ``encode_spans(...).to_dict()`` dumps) is read whole.
A line that is not OTLP makes every check of the batch an error naming file, line and field:
evidence is not computed from a file gatepack only half understood. A large plain (not gzip) file is
scanned by two worker processes, one byte range each (:mod:`.parallel`), with the same values.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from collector.sources.base import RunContext
from collector.sources.traces import parallel
from collector.sources.traces.local import TRACE_KINDS, SpanBatch
from collector.sources.traces.otlp import TraceDecodeError, decode_document
from collector.sources.traces.scan import OtlpScanner
from collector.sources.traces.spill import SpillDir
from slo.errors import InputError
from slo.evidence import Backend, InputFile
from slo.pricing import PriceTable
from slo.results import CheckResult, QueryOutcome, Status
from slo.spec import Check
from slo.traces import Span

WHOLE_DOCUMENT_LIMIT = 256 * 1024 * 1024
"""A single-document (not JSON lines) file must fit in memory; JSON lines have no limit."""
_JSON = msgspec.json.Decoder()
"""The one JSON grammar of both paths (typed structs in :mod:`.scan`, plain objects here)."""


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing and counting them."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.size += n
        return n or 0


def _open(path: Path) -> tuple[_HashingReader, io.BufferedIOBase]:
    raw = path.open("rb")
    hashing = _HashingReader(raw)
    buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return hashing, gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return hashing, buffered


def _raw_lines(path: Path, stats: dict[str, Any]) -> Iterator[tuple[int, bytes, io.BufferedIOBase]]:
    """``(line number, bytes, stream)`` of every non-blank line, hashed as read; ``stats`` gets lines, bytes, sha256."""
    try:
        hashing, stream = _open(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    lines = 0
    try:
        try:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    lines = number
                    yield number, line, stream
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot read (corrupt gzip?): {exc}", source=str(path)) from None
    finally:
        stream.close()
        stats["lines"] = lines
        stats["bytes"] = hashing.size
        stats["sha256"] = hashing.sha256.hexdigest()


def _is_whole_document(number: int, line: bytes) -> bool:
    """A first line that is not JSON and does not end an object: one pretty-printed document, not JSON lines."""
    return number == 1 and not line.rstrip().endswith(b"}")


def _whole_document(line: bytes, stream: io.BufferedIOBase, path: Path) -> bytes:
    data = line + stream.read(WHOLE_DOCUMENT_LIMIT + 1)
    if len(data) > WHOLE_DOCUMENT_LIMIT:
        raise InputError(
            f"not JSON lines and larger than {WHOLE_DOCUMENT_LIMIT} bytes: export with the file exporter's JSON lines",
            source=str(path),
        )
    return data


def documents(path: Path, stats: dict[str, Any] | None = None) -> Iterator[tuple[int | None, Any]]:
    """``(line number, parsed JSON)`` of every non-blank line (line None: one whole pretty-printed document)."""
    for number, line, stream in _raw_lines(path, stats if stats is not None else {}):
        try:
            yield number, _JSON.decode(line)
        except msgspec.DecodeError as exc:
            if not _is_whole_document(number, line):
                raise InputError(f"not JSON: {exc}", source=str(path), line=number) from None
            try:
                document = _JSON.decode(_whole_document(line, stream, path))
            except msgspec.DecodeError as exc:
                raise InputError(f"not JSON: {exc}", source=str(path), line=1) from None
            yield None, document
            return


def read_spans(path: Path, stats: dict[str, Any] | None = None) -> Iterator[Span]:
    """Every span of an OTLP JSON (lines) file; :class:`InputError` naming file and line when it is not OTLP."""
    for number, document in documents(path, stats):
        try:
            yield from decode_document(document)
        except TraceDecodeError as exc:
            raise InputError(exc.message, source=str(path), line=number, field=exc.field) from None


def scan_file(path: Path, batch: SpanBatch, stats: dict[str, Any] | None = None, workers: int | None = None) -> int:
    """Feed every span of the file to ``batch`` in one pass, each line decoded once (see :mod:`.scan`).

    A large plain file is cut into byte ranges scanned by worker processes (:mod:`.parallel`);
    ``workers`` forces their number (1: one process; tests force 2 on small files).
    """
    cuts = parallel.plan(path, workers)
    if len(cuts) > 1:
        return parallel.scan_parallel(path, batch, cuts, stats if stats is not None else {})
    scanner = OtlpScanner(batch)
    spans = 0
    for number, line, stream in _raw_lines(path, stats if stats is not None else {}):
        where: int | None = number
        try:
            try:
                spans += scanner.feed_line(line)
            except msgspec.DecodeError as exc:
                if not _is_whole_document(number, line):
                    raise InputError(f"not JSON: {exc}", source=str(path), line=number) from None
                where, data = None, _whole_document(line, stream, path)
                try:
                    spans += scanner.feed_line(data)
                except msgspec.DecodeError as exc:
                    raise InputError(f"not JSON: {exc}", source=str(path), line=1) from None
                break
        except TraceDecodeError as exc:
            raise InputError(exc.message, source=str(path), line=where, field=exc.field) from None
    scanner.finish()
    return spans


def check_readable(path: Path) -> None:
    """Fail early (exit 2) on a missing or unreadable file, before any backend is queried."""
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None


def file_format(path: Path) -> str:
    with path.open("rb") as handle:
        return "otlp-json-lines+gzip" if handle.read(2) == b"\x1f\x8b" else "otlp-json-lines"


class OtlpFileSource:
    """Trace and cost checks over one or more OTLP JSON files, read once per gate."""

    name = "otlp"
    kinds = TRACE_KINDS

    def __init__(
        self, paths: Sequence[Path], pricing: PriceTable | None = None, pricing_input: InputFile | None = None
    ):
        self.paths = list(paths)
        self.pricing = pricing
        self._pricing_input = pricing_input
        self._inputs: dict[str, InputFile] = {}

    @property
    def requests_sent(self) -> int:
        return 0

    def backends(self) -> list[Backend]:
        return []

    def inputs(self) -> list[InputFile]:
        found = list(self._inputs.values())
        return found + ([self._pricing_input] if self._pricing_input else [])

    async def aclose(self) -> None:
        return None

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        for outcome in await asyncio.to_thread(self._scan, checks, context):
            yield outcome

    def _scan(self, checks: Sequence[Check], context: RunContext) -> list[CheckResult]:
        with SpillDir() as spill:  # the results read the spilled values: decided before the files go
            return self._scan_into(SpanBatch(checks, context.at, self.pricing, spill=spill.store), context)

    def _scan_into(self, batch: SpanBatch, context: RunContext) -> list[CheckResult]:
        queries: list[QueryOutcome] = []
        for path in self.paths:
            stats: dict[str, Any] = {}
            try:
                spans = scan_file(path, batch, stats)
            except InputError as exc:
                return batch.fail_all(str(exc), context.evaluated_at)
            sha, size = stats["sha256"], stats["bytes"]
            self._inputs[str(path)] = InputFile(
                path=str(path), sha256=sha, size=size, role="traces", format=file_format(path)
            )
            queries.append(
                QueryOutcome(
                    role="spans",
                    query=f"file {path}",
                    backend=None,
                    time=context.evaluated_at,
                    status=Status.OK,
                    value=float(spans),
                    series=stats.get("lines", 0),
                    response_sha256=sha,
                )
            )
        return batch.results(context.evaluated_at, queries=queries, cost_source=f"traces ({self.name} file)")

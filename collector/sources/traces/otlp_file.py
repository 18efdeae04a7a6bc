"""``trace`` and ``ai_cost`` checks from OTLP JSON files on disk (the Collector's file exporter, gzip or not).

The file exporter writes JSON lines: one ``{"resourceSpans": […]}`` object per export. The file is
streamed line by line through a hashing reader, so the digest in the packet is of the bytes really
read, and memory holds one line plus the checks' running aggregates, whatever the file's size. A file
holding one pretty-printed OTLP document (what ``encode_spans(...).to_dict()`` dumps) is read whole.
A line that is not OTLP makes every check of the batch an error naming file, line and field:
evidence is not computed from a file gatepack only half understood.
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

import orjson

from collector.sources.base import RunContext
from collector.sources.traces.local import TRACE_KINDS, SpanBatch
from collector.sources.traces.otlp import TraceDecodeError, decode_document
from slo.errors import InputError
from slo.evidence import Backend, InputFile
from slo.pricing import PriceTable
from slo.results import CheckResult, QueryOutcome, Status
from slo.spec import Check
from slo.traces import Span

WHOLE_DOCUMENT_LIMIT = 256 * 1024 * 1024
"""A single-document (not JSON lines) file must fit in memory; JSON lines have no limit."""


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


def read_spans(path: Path, stats: dict[str, Any] | None = None) -> Iterator[Span]:
    """Every span of an OTLP JSON (lines) file; :class:`InputError` naming file and line when it is not OTLP."""
    stats = stats if stats is not None else {}
    try:
        hashing, stream = _open(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    try:
        lines = 0
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                lines = number
                try:
                    document = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    if number == 1 and not line.rstrip().endswith(b"}"):
                        yield from _whole_document(line + stream.read(WHOLE_DOCUMENT_LIMIT + 1), path)
                        break
                    raise InputError(f"not JSON: {exc}", source=str(path), line=number) from None
                try:
                    yield from decode_document(document)
                except TraceDecodeError as exc:
                    raise InputError(exc.message, source=str(path), line=number, field=exc.field) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot read (corrupt gzip?): {exc}", source=str(path)) from None
        stats["lines"] = lines
    finally:
        stream.close()
        stats["bytes"] = hashing.size
        stats["sha256"] = hashing.sha256.hexdigest()


def _whole_document(data: bytes, path: Path) -> Iterator[Span]:
    if len(data) > WHOLE_DOCUMENT_LIMIT:
        raise InputError(
            f"not JSON lines and larger than {WHOLE_DOCUMENT_LIMIT} bytes: export with the file exporter's JSON lines",
            source=str(path),
        )
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", source=str(path), line=1) from None
    try:
        yield from decode_document(document)
    except TraceDecodeError as exc:
        raise InputError(exc.message, source=str(path), field=exc.field) from None


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
        batch = SpanBatch(checks, context.at, self.pricing)
        queries: list[QueryOutcome] = []
        for path in self.paths:
            stats: dict[str, Any] = {}
            try:
                spans = batch.add_all(read_spans(path, stats))
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

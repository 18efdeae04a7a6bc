"""Helpers every reader shares: bounded, streamed file reads, CSV loading, duration checks, the request table.

Result files come from anywhere, so every reader holds to the same bounds: only regular files are read
(never ``/dev/zero`` or a FIFO), whole-document formats (JSON reports) have a size cap, no line may be
longer than :data:`MAX_LINE_BYTES`, and line-oriented files are parsed in chunks that are checked as
they arrive, so a file that turns into garbage fails at the first bad chunk: peak memory does not grow
with the size of a bad file.
"""

from __future__ import annotations

import io
import math
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from collector.sources.loadtest.model import REQUEST_COLUMNS, LoadtestFormatError

MAX_INPUT_BYTES = 2 * 1024**3
MAX_DOCUMENT_BYTES = 64 * 1024**2
"""Largest whole-document result (JSON report, binary log) read into memory at once."""
MAX_LINE_BYTES = 8 * 1024**2
"""Longest line any line-oriented result file may have; real lines are well under 64 KiB."""
MAX_CSV_LINE_BYTES = 1024**2
"""Longest CSV row: the CSV formats (JMeter, k6, hey, Locust) write rows of well under 4 KiB."""
CSV_CHUNK_BYTES = 16 * 1024**2
"""About how much CSV text is parsed (and checked) at a time: rows per chunk adapt to the row length seen,
so neither many short rows nor a few long ones make a chunk large."""
CSV_FIRST_ROWS, CSV_MAX_ROWS = 16, 200_000


def ensure_regular(path: Path) -> int:
    """The size of ``path``, which must be a regular file (devices and FIFOs never end or block)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise LoadtestFormatError(f"{path}: not a regular file")
    return info.st_size


def read_bytes(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The file's bytes, for formats that are one document; refused beyond ``limit`` before reading."""
    size = ensure_regular(path)
    if size > limit:
        raise LoadtestFormatError(f"{path}: {size} bytes is more than the {limit}-byte limit for this format")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise LoadtestFormatError(f"{path}: more than the {limit}-byte limit for this format")
    if not data.strip():
        raise LoadtestFormatError(f"{path}: the file is empty")
    return data


class BoundedLines(io.RawIOBase):
    """A binary file that raises :class:`LoadtestFormatError` as soon as a line exceeds ``limit`` bytes.

    Parsers (pandas, expat, line loops) read through it, so an endless line is refused after ``limit``
    bytes instead of being buffered whole. Reads are clamped to ``limit`` bytes, which makes the check per
    read exact enough: a line inside one read is never longer than the read.
    """

    def __init__(self, path: Path, limit: int = MAX_LINE_BYTES) -> None:
        super().__init__()
        ensure_regular(path)
        try:
            self._raw: io.BufferedReader = open(path, "rb")
        except OSError as exc:
            raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self.path, self.limit = path, limit
        self.line = 1  # line number of the byte about to be read
        self.consumed = 0  # bytes handed out so far
        self._run = 0  # bytes since the last newline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        size = self._raw.readinto(view[: min(len(view), self.limit)])
        if not size:
            return 0
        self.consumed += size
        chunk = view[:size].tobytes()
        last = chunk.rfind(b"\n")
        if last < 0:
            self._run += size
        else:
            first = chunk.find(b"\n")
            if self._run + first > self.limit:
                self._too_long()
            self.line += chunk.count(b"\n")
            self._run = size - last - 1
        if self._run > self.limit:
            self._too_long()
        return size

    def _too_long(self) -> None:
        raise LoadtestFormatError(f"{self.path}:{self.line}: line longer than {self.limit} bytes: not a result file")

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def bounded_lines(path: Path, limit: int = MAX_LINE_BYTES) -> io.BufferedReader:
    """``path`` opened for reading lines, each at most ``limit`` bytes (see :class:`BoundedLines`)."""
    return io.BufferedReader(BoundedLines(path, limit), buffer_size=min(limit, 1 << 20))


def iter_lines(path: Path, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) of a text file, streamed, each at most ``limit``."""
    with bounded_lines(path, limit) as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip(b"\n")


def read_csv(
    path: Path,
    required: Iterable[str],
    data: bytes | None = None,
    *,
    numeric: Iterable[str] = (),
    sep: str = ",",
) -> pd.DataFrame:
    """A CSV with string columns, after checking that ``required`` columns exist.

    Streamed through :class:`BoundedLines` (rows of at most :data:`MAX_CSV_LINE_BYTES`) in chunks of about
    :data:`CSV_CHUNK_BYTES`; the ``numeric`` columns of each chunk are checked as it arrives (finite
    numbers, not empty), so garbage after a good header fails at its first chunk and peak memory does
    not depend on how much garbage follows. ``data`` (bytes already read) is accepted for small files.
    """
    required = list(required)
    numeric = list(numeric)
    bounded = BoundedLines(path, MAX_CSV_LINE_BYTES) if data is None else None
    source: BinaryIO = io.BytesIO(data or b"") if bounded is None else io.BufferedReader(bounded, 1 << 18)
    frames: list[pd.DataFrame] = []
    try:
        with source:
            reader = pd.read_csv(
                source,
                engine="c",
                sep=sep,
                dtype=str,
                keep_default_na=False,
                chunksize=CSV_FIRST_ROWS,
                encoding="utf-8",
                encoding_errors="strict",
            )
            with reader:
                _read_chunks(path, reader, bounded, source, required, numeric, frames)
    except LoadtestFormatError:
        raise
    except pd.errors.EmptyDataError:
        raise LoadtestFormatError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError, MemoryError) as exc:
        raise LoadtestFormatError(f"{path}: not a readable CSV file: {_first_line(exc)}") from None
    if not frames:
        raise LoadtestFormatError(f"{path}: the file is empty")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_chunks(
    path: Path,
    reader: pd.io.parsers.TextFileReader,
    bounded: BoundedLines | None,
    source: BinaryIO,
    required: list[str],
    numeric: list[str],
    frames: list[pd.DataFrame],
) -> None:
    rows, first_line = CSV_FIRST_ROWS, 2
    while True:
        try:
            chunk = reader.get_chunk(rows)
        except StopIteration:
            break
        chunk.columns = [str(c).strip() for c in chunk.columns]
        if not frames:
            _require(path, chunk, required)
        for column in numeric:
            if column in chunk.columns:
                numbers(chunk, column, path, first_line=first_line)
        first_line += len(chunk)
        frames.append(chunk)
        consumed = bounded.consumed if bounded is not None else source.tell()
        per_row = max(consumed / max(first_line - 2, 1), 1.0)
        rows = int(min(CSV_MAX_ROWS, max(CSV_FIRST_ROWS, CSV_CHUNK_BYTES / per_row)))


def _require(path: Path, frame: pd.DataFrame, required: list[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LoadtestFormatError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} (header has: {', '.join(map(str, frame.columns))})"
        )


def check_durations(path: Path, values: np.ndarray, lines: np.ndarray | None, what: str) -> None:
    """Every duration must be a finite number of seconds >= 0; the first that is not names its line.

    ``lines``: the file line of each value (None: value ``i`` is on line ``i + 2``, after a header).
    A negative or infinite duration is not a measurement: letting it through lowers percentiles, and a
    gate could pass on it.
    """
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if not bad.any():
        return
    index = int(np.flatnonzero(bad)[0])
    line = int(lines[index]) if lines is not None else index + 2
    value = values[index]
    kind = "negative" if value < 0 else "not finite"
    raise LoadtestFormatError(f"{path}:{line}: {what} is {kind} ({_shown(value)}): not a duration")


def _shown(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


def numbers(
    frame: pd.DataFrame, column: str, path: Path, *, allow_empty: bool = False, first_line: int = 2
) -> np.ndarray:
    """Column as floats; a non-number (NaN and infinities included) names the file and line (header: line 1)."""
    raw = frame[column]
    converted = pd.to_numeric(raw.replace("", np.nan if allow_empty else "<empty>"), errors="coerce")
    values = converted.to_numpy(dtype=float)
    bad = ~np.isfinite(values) & ~(raw.eq("").to_numpy() & allow_empty)
    if bad.any():
        index = int(np.argmax(bad))
        raise LoadtestFormatError(
            f"{path}:{index + first_line}: {column} is not a number: {str(raw.iloc[index])[:80]!r}"
        )
    return values


def request_table(columns: Mapping[str, object], tags: Mapping[str, object] | None = None) -> pd.DataFrame:
    """The normalised request table (:data:`REQUEST_COLUMNS` plus string tag columns)."""
    frame = pd.DataFrame({name: columns[name] for name in REQUEST_COLUMNS})
    frame = frame.astype(
        {
            "timestamp": float,
            "label": str,
            "method": str,
            "status": str,
            "ok": bool,
            "duration": float,
            "bytes": float,
            "count": "int64",
        }
    )
    for name, values in (tags or {}).items():
        if name not in frame.columns:
            frame[name] = pd.Series(values, index=frame.index).astype(str)
    return frame


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

"""Helpers every reader shares: bounded file reads, CSV loading with the pyarrow engine, the request table."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from collector.sources.loadtest.model import REQUEST_COLUMNS, LoadtestFormatError

MAX_INPUT_BYTES = 2 * 1024**3


def read_bytes(path: Path) -> bytes:
    """The file's bytes; an unreadable or empty file is a :class:`LoadtestFormatError` naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise LoadtestFormatError(f"{path}: the file is empty")
    return data


def read_csv(path: Path, required: Iterable[str], data: bytes | None = None) -> pd.DataFrame:
    """A CSV with string columns (pyarrow engine), after checking that ``required`` columns exist."""
    raw = read_bytes(path) if data is None else data
    try:
        frame = pd.read_csv(io.BytesIO(raw), engine="pyarrow", dtype=str, keep_default_na=False)
    except Exception as exc:  # pyarrow raises its own error types for malformed CSV
        raise LoadtestFormatError(f"{path}: not a readable CSV file: {_first_line(exc)}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LoadtestFormatError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} (header has: {', '.join(frame.columns)})"
        )
    return frame


def numbers(frame: pd.DataFrame, column: str, path: Path, *, allow_empty: bool = False) -> np.ndarray:
    """Column as floats; a non-number names the file and the line it is on (header is line 1)."""
    converted = pd.to_numeric(frame[column].replace("", np.nan if allow_empty else "<empty>"), errors="coerce")
    bad = converted.isna() & ~(frame[column].eq("") & allow_empty)
    if bad.any():
        index = int(np.argmax(bad.to_numpy()))
        raise LoadtestFormatError(
            f"{path}: line {index + 2}: column {column!r} is not a number: {frame[column].iloc[index]!r}"
        )
    return converted.to_numpy(dtype=float)


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

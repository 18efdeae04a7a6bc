"""Which reader reads a file: detected from its content, or forced with ``--format``.

Readers register here by module name; modules that are not installed yet (another engineer's readers
land separately) are skipped, so detection works with whatever readers exist.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from collector.sources.loadtest.common import ensure_regular
from collector.sources.loadtest.formats import READERS
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Reader:
    name: str
    sniff: Callable[[bytes, Path], bool]
    read: Callable[..., LoadtestResult]
    takes_metrics: bool = False  # read(path, metrics=…) keeps only those sample metrics (k6 NDJSON)
    takes_lean: bool = False  # read(path, metrics=(), tags=False, progress=…): the lean read (k6 NDJSON)


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"collector.sources.loadtest.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"collector.sources.loadtest.{name}":
            return None  # reader not written yet
        raise


def available() -> dict[str, Reader]:
    """Every reader whose module exists, by format name."""
    found: dict[str, Reader] = {}
    for name, module_name in READERS.items():
        module = _module(module_name)
        if module is not None:
            parameters = inspect.signature(module.read).parameters
            lean = "tags" in parameters and "progress" in parameters
            found[name] = Reader(name, module.sniff, module.read, "metrics" in parameters, lean)
    return found


def detect(path: Path) -> Reader:
    """The reader whose sniffer recognises the start of ``path``."""
    ensure_regular(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise LoadtestFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not head.strip():
        raise LoadtestFormatError(f"{path}: the file is empty")
    readers = available()
    for reader in readers.values():
        if reader.sniff(head, path):
            return reader
    first = head.splitlines()[0][:80].decode("utf-8", "replace") if head.splitlines() else ""
    raise LoadtestFormatError(
        f"{path}: line 1: unknown load-test format (starts with {first!r}); "
        f"use --format with one of {', '.join(readers)}"
    )


def read_file(
    path: Path,
    forced: str | None = None,
    metrics: Iterable[str] | None = None,
    *,
    lean: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LoadtestResult:
    """Read one result file with the forced or detected reader.

    ``metrics``: the raw-point metrics the checks need (None: all). Readers that can skip the rest (k6
    NDJSON, where other metrics are most of a multi-GB file) get it; the others read as always.
    ``lean``: no check needs tag columns (other than ``name``) nor samples, so a reader that has a lean
    read uses it. ``progress``: called with the bytes consumed so far; readers without it report the
    whole file once read.
    """
    ensure_regular(path)
    if forced:
        readers = available()
        if forced not in readers:
            raise LoadtestFormatError(f"unknown --format {forced!r}: choose one of {', '.join(readers)}")
        reader = readers[forced]
    else:
        reader = detect(path)
    if reader.takes_lean and (lean or progress is not None):
        if lean:
            return reader.read(path, metrics=(), tags=False, progress=progress)
        return reader.read(path, metrics=metrics, progress=progress)
    if metrics is not None and reader.takes_metrics:
        found = reader.read(path, metrics=metrics)
    else:
        found = reader.read(path)
    if progress is not None:
        progress(path.stat().st_size)
    return found


def reconcile(results: list[LoadtestResult]) -> tuple[list[LoadtestResult], list[str]]:
    """Drop inputs that another input supersedes, and say so.

    Locust's ``_stats.csv``/``_stats_history.csv`` are snapshots written by a 1 s timer that can miss the
    last second; its JSON report is written at shutdown. With both, only the JSON report is used.
    """
    notes: list[str] = []
    if any(r.format == "locust-json" for r in results):
        kept = []
        for item in results:
            if item.format in {"locust-stats-csv", "locust-history-csv"}:
                notes.append(
                    f"ignored {item.source} ({item.format}): the Locust JSON report was given and is complete, "
                    "while _stats.csv is rewritten every second and can miss the last second"
                )
            else:
                kept.append(item)
        results = kept
    return results, notes

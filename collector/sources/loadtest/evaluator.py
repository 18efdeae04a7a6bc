"""The load-test source: reads result files once and decides ``loadtest`` checks for ``collect`` and ``ingest``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from collector.sinks.files import sha256_file
from collector.sources.base import LocalSource, RunContext
from collector.sources.loadtest.common import ensure_regular
from collector.sources.loadtest.detect import read_file, reconcile
from collector.sources.loadtest.measure import LoadtestData, Window, measure, prepare, selection_aggregates
from collector.sources.loadtest.model import LoadtestFormatError
from slo.evidence import InputFile
from slo.loadtest import STANDARD_METRICS, evaluate_loadtest, k6_metric
from slo.results import CheckResult
from slo.spec import Check, LoadtestCheck


def sample_metrics(checks: Iterable[Check]) -> frozenset[str]:
    """The raw-point metrics (k6 names) some loadtest check reads, so readers can skip the others."""
    return frozenset(c.metric for c in checks if isinstance(c, LoadtestCheck) and c.metric not in STANDARD_METRICS)


def lean_enough(checks: Iterable[Check]) -> bool:
    """Whether every loadtest check is decided from per-request time, label, duration and failure alone.

    So: standard metrics only (no sample metric such as ``http_req_waiting``) and no selection by a tag
    other than ``name`` (the label). Then the readers' lean read (k6 NDJSON: the aggregate scan plus
    timestamps, no tag columns) gives every check, aggregate and summary row the full read would.
    """
    return all(
        c.metric in STANDARD_METRICS and all(key == "name" for key in c.tags)
        for c in checks
        if isinstance(c, LoadtestCheck)
    )


def refuse_repeats(paths: list[Path]) -> None:
    """The same content given twice (same sha256, under any name) would double every count: refuse it.

    Only files of equal size can be equal, so only those are hashed here (the evidence hashes each input
    later anyway); a single input costs nothing.
    """
    by_size: dict[int, list[Path]] = {}
    for path in paths:
        by_size.setdefault(ensure_regular(path), []).append(path)
    seen: dict[str, Path] = {}
    for path in paths:
        if len(by_size[ensure_regular(path)]) < 2:
            continue
        digest, _size = sha256_file(path)
        if digest in seen:
            raise LoadtestFormatError(
                f"{path}: same content as {seen[digest]} (sha256 {digest[:16]}…): the same results given twice "
                "would count every request twice"
            )
        seen[digest] = path


class _Hashing:
    """sha256 of the inputs in a daemon thread: a failed read exits at once instead of waiting for it.

    A file it cannot hash is left out; :func:`input_files` then hashes it itself and reports the error
    as before.
    """

    def __init__(self, paths: list[Path]) -> None:
        self._found: dict[str, tuple[str, int]] = {}
        self._thread = threading.Thread(target=self._run, args=(paths,), name="sha256", daemon=True)
        self._thread.start()

    def _run(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                self._found[str(path)] = sha256_file(path)
            except OSError:
                continue

    def result(self) -> dict[str, tuple[str, int]]:
        self._thread.join()
        return self._found


def load(
    paths: list[Path],
    forced: str | None = None,
    window: Window | None = None,
    metrics: Iterable[str] | None = None,
    *,
    lean: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LoadtestData:
    """Read, reconcile and trim every input file; raises LoadtestFormatError naming the bad file.

    ``metrics`` (see :func:`sample_metrics`): raw-point metrics to keep; None keeps every one.
    ``lean`` (see :func:`lean_enough`): the checks need no tag column and no sample metric.
    ``progress``: called with the bytes of all files consumed so far (monotone, ends at their total size).
    The inputs' sha256 (for the evidence) are computed in a thread meanwhile: hashlib releases the GIL,
    so a multi-GB file is hashed while the readers' worker processes parse it.
    """
    refuse_repeats(paths)
    hashing = _Hashing(paths)
    results = []
    before = 0
    for path in paths:
        at = before
        advance = None if progress is None else (lambda done, at=at: progress(at + done))
        results.append(read_file(path, forced, metrics, lean=lean, progress=advance))
        before += path.stat().st_size
    kept, notes = reconcile(results)
    data = prepare(kept, window)
    data.notes[:0] = notes
    data.given = results
    data.digests = hashing.result()
    return data


def input_files(data: LoadtestData) -> list[InputFile]:
    """Provenance: every given input's sha256, size and detected format (ignored ones too)."""
    found = []
    for item in data.given or data.results:
        digest, size = data.digests.get(str(item.source)) or sha256_file(item.source)
        found.append(InputFile(path=str(item.source), sha256=digest, size=size, role="loadtest", format=item.format))
    return found


def _tool_thresholds(data: LoadtestData, check: LoadtestCheck) -> list[dict[str, Any]]:
    base = k6_metric(check.metric)
    return [
        {"metric": t.metric, "threshold": t.expression, "ok": t.ok, "source": str(r.source)}
        for r in data.results
        for t in r.thresholds
        if t.metric.split("{", 1)[0] == base
    ]


def details_for(data: LoadtestData, check: LoadtestCheck) -> dict[str, Any]:
    details: dict[str, Any] = {"inputs": data.sources}
    if data.precision:
        details["precision"] = data.precision
    thresholds = _tool_thresholds(data, check)
    if thresholds:
        details["tool_thresholds"] = thresholds
    if data.notes:
        details["notes"] = data.notes
    if data.requests is not None and check.metric in STANDARD_METRICS:
        found = selection_aggregates(data, check.label, dict(check.tags))
        if found is not None:
            details["aggregates"] = found
    return details


def evaluate(data: LoadtestData, check: LoadtestCheck, evaluated_at: str) -> CheckResult:
    measurement, reason = measure(data, check)
    return evaluate_loadtest(check, measurement, evaluated_at, missing_reason=reason, details=details_for(data, check))


class LoadtestSource(LocalSource[LoadtestCheck]):
    """``loadtest`` checks decided from load-test result files read once for the whole run."""

    name = "loadtest"
    kinds = frozenset({"loadtest"})
    check_type = LoadtestCheck
    noun = "a loadtest"

    def __init__(self, data: LoadtestData) -> None:
        self.data = data
        self._inputs = input_files(data)

    def decide(self, check: LoadtestCheck, context: RunContext) -> CheckResult:
        return evaluate(self.data, check, context.evaluated_at)

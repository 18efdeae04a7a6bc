"""From normalised load-test results to the :class:`~slo.loadtest.Measurement` one check is decided on.

Steady-state trimming happens here (``skip_first``/``skip_last`` seconds off each file's own clock);
selection by ``label`` and ``tags``; per-label aggregates for the evidence and the summary table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from collector.sources.loadtest.locust import bucket_bounds, locust_percentile
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult, SummaryMetric
from slo.loadtest import STANDARD_METRICS, Measurement, ThresholdError, k6_metric, percentile, plan
from slo.spec import LoadtestCheck

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
_PERCENTILE = re.compile(r"^p\(\s*(?P<p>[0-9]+(?:\.[0-9]+)?)\s*\)$")
"""k6's p(N) aggregation name."""
COUNTERS = {"http_reqs", "iterations", "data_sent", "data_received", "dropped_iterations"}


@dataclass
class Window:
    skip_first: float = 0.0
    skip_last: float = 0.0


@dataclass
class LoadtestData:
    """Every input of one ingest, trimmed and merged, ready to answer checks."""

    results: list[LoadtestResult]
    requests: pd.DataFrame | None
    duration_seconds: float | None
    metrics: dict[str, SummaryMetric] = field(default_factory=dict)
    samples: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    given: list[LoadtestResult] = field(default_factory=list)
    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    """path → (sha256, size) of each given input, hashed while it was read (see ``evaluator.load``)."""
    aggregate_cache: dict[tuple[str | None, tuple[tuple[str, str], ...]], dict[str, Any] | None] = field(
        default_factory=dict, repr=False
    )
    """(label, tags) → :func:`aggregates` of that selection (see :func:`selection_aggregates`)."""

    @property
    def precision(self) -> str | None:
        found = [r.precision for r in self.results if r.precision and (r.requests is not None or r.metrics)]
        return "; ".join(dict.fromkeys(found)) or None

    @property
    def bucketed_sources(self) -> frozenset[str]:
        """Inputs whose rows are a tool's histogram buckets (Locust JSON), not single requests."""
        return frozenset(str(r.source) for r in self.results if r.format == "locust-json")

    def is_bucketed(self, rows: pd.DataFrame) -> bool:
        """Whether every selected row is a Locust histogram bucket: percentiles then follow Locust's method."""
        buckets = self.bucketed_sources
        if not buckets or "source" not in rows.columns or rows.empty:
            return False
        return bool(rows["source"].isin(buckets).all())

    @property
    def sources(self) -> list[dict[str, str]]:
        return [{"path": str(r.source), "format": r.format, "tool": r.tool} for r in self.results]


def prepare(results: list[LoadtestResult], window: Window | None = None) -> LoadtestData:
    """Trim each file to its steady state and merge them; trimming data without timestamps is an error."""
    window = window or Window()
    frames: list[Any] = []
    spans: list[Any] = []
    notes: list[str] = []
    metrics: dict[str, SummaryMetric] = {}
    samples: dict[str, list[pd.DataFrame]] = {}
    trimming = window.skip_first > 0 or window.skip_last > 0
    for item in results:
        notes.extend(f"{item.source}: {n}" for n in item.notes)
        if item.requests is not None and not item.requests.empty:
            frame, span = _trim(item, window) if trimming else (item.requests, item.duration_seconds)
            frames.append(frame.assign(source=str(item.source)))
            if span:
                spans.append(span)
        elif trimming and item.metrics:
            if not any(r.requests is not None and not r.requests.empty for r in results):
                raise LoadtestFormatError(
                    f"{item.source}: {item.format} holds only totals, so --skip-first/--skip-last cannot trim it"
                )
            notes.append(f"{item.source}: totals over the whole test not used (trimmed per-request data wins)")
            continue
        for name, metric in item.metrics.items():
            if name in metrics:
                raise LoadtestFormatError(f"{item.source}: metric {name!r} also comes from another input file")
            metrics[name] = metric
        for name, part in item.samples.items():
            samples.setdefault(name, []).append(part)
    if len(frames) > 1:
        notes.append("several request files: counts add up, throughput uses the longest test span")
    requests = pd.concat(frames, ignore_index=True) if frames else None
    merged = {name: pd.concat(parts, ignore_index=True) for name, parts in samples.items()}
    if trimming:
        merged = {name: _trim_samples(part, window) for name, part in merged.items()}
    duration = max(spans) if spans else None
    if duration is None:
        duration = next((r.duration_seconds for r in results if r.duration_seconds), None)
    return LoadtestData(results, requests, duration, metrics, merged, notes)


def _trim(item: LoadtestResult, window: Window) -> tuple[pd.DataFrame, float | None]:
    frame = item.requests
    assert frame is not None
    stamps = frame["timestamp"].to_numpy(dtype=float)
    if np.isnan(stamps).any():
        raise LoadtestFormatError(
            f"{item.source}: {item.format} has no per-request timestamps, so --skip-first/--skip-last cannot trim it"
        )
    start = float(stamps.min())
    end = max(float(stamps.max()), start + (item.duration_seconds or 0.0))
    low, high = start + window.skip_first, end - window.skip_last
    if high <= low:
        raise LoadtestFormatError(
            f"{item.source}: skipping {window.skip_first:g} s + {window.skip_last:g} s leaves nothing "
            f"of a {end - start:g} s test"
        )
    keep = (stamps >= low) & (stamps <= high)
    return frame[keep], high - low


def _trim_samples(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    stamps = frame["timestamp"].to_numpy(dtype=float)
    low, high = np.nanmin(stamps) + window.skip_first, np.nanmax(stamps) - window.skip_last
    return frame[(stamps >= low) & (stamps <= high)]


def select(frame: pd.DataFrame, label: str | None, tags: dict[str, str]) -> tuple[pd.DataFrame, str | None]:
    """Rows for ``label``/``tags``, or a reason why the selection cannot be made."""
    wanted = {**({"label": label} if label is not None else {}), **tags}
    mask = np.ones(len(frame), dtype=bool)
    for key, value in wanted.items():
        column = "label" if key == "name" else key
        if column not in frame.columns:
            return frame.iloc[0:0], f"the input has no {key!r} tag"
        mask &= (frame[column] == value).to_numpy()
    return frame[mask], None


def describe(label: str | None, tags: dict[str, str]) -> str:
    parts = ([f"name={label}"] if label is not None else []) + [f"{k}={v}" for k, v in tags.items()]
    return "{" + ",".join(parts) + "}" if parts else "all requests"


def measure(data: LoadtestData, check: LoadtestCheck) -> tuple[Measurement | None, str]:
    """The measurement for ``check``, or ``None`` and why there is none."""
    metric, label, tags = check.metric, check.label, dict(check.tags)
    where = describe(label, tags)
    standard = metric in STANDARD_METRICS
    if standard and data.requests is not None:
        rows, problem = select(data.requests, label, tags)
        if problem:
            return None, problem
        if metric == "latency" and data.is_bucketed(rows):
            return _from_buckets(rows, check, where), ""
        return _from_requests(rows, metric, data.duration_seconds, where), ""
    k6_name = k6_metric(metric)
    if not standard and metric in data.samples:
        rows, problem = select(data.samples[metric].rename(columns={"name": "label"}), label, tags)
        if problem:
            return None, problem
        return _from_samples(rows, metric, check, data.duration_seconds, where), ""
    if data.metrics:
        return _from_summary(data, k6_name, metric, label, tags, where)
    if standard:
        return None, f"no requests in {', '.join(str(r.source) for r in data.results)}: the load test made none"
    return None, f"no input has {metric!r} data"


def _from_requests(rows: pd.DataFrame, metric: str, duration: float | None, where: str) -> Measurement:
    weights = rows["count"].to_numpy(dtype="int64")
    samples = int(weights.sum())
    source = f"requests {where}"
    if metric == "latency":
        durations = rows["duration"].to_numpy(dtype=float)
        timed = ~np.isnan(durations)
        return Measurement(
            "trend", "ms", int(weights[timed].sum()), durations[timed] * 1000.0, weights[timed], source=source
        )
    if metric == "error_rate":
        failed = (~rows["ok"].to_numpy(dtype=bool)).astype(float)
        return Measurement("rate", "ratio", samples, failed, weights, source=source)
    return Measurement(
        "counter", "count", samples, np.ones(len(rows)), weights, duration_seconds=duration, source=source
    )


def _bucket_aggregate(values: np.ndarray, weights: np.ndarray, aggregation: str) -> float | None:
    """One aggregation over histogram buckets the way Locust computes it (None: not a trend aggregation)."""
    if aggregation in {"med", "p(50)"}:
        return locust_percentile(values, weights, 50.0)
    found = _PERCENTILE.match(aggregation)
    if found:
        return locust_percentile(values, weights, float(found["p"]))
    if aggregation == "avg":
        return float(np.sum(values * weights) / np.sum(weights))
    if aggregation == "min":
        return float(np.min(values))
    if aggregation == "max":
        return float(np.max(values))
    return None


def _from_buckets(rows: pd.DataFrame, check: LoadtestCheck, where: str) -> Measurement:
    """Latency from Locust histogram buckets: the tool's own figure, with the bucket it comes from.

    Percentiles are Locust's (a bucket value, never interpolated below the buckets the slow requests
    fell into); the source names the bucket's bounds, so the evidence says how precise the number is.
    """
    durations = rows["duration"].to_numpy(dtype=float) * 1000.0
    weights = rows["count"].to_numpy(dtype="int64")
    timed = ~np.isnan(durations)
    values, counts = np.round(durations[timed], 6), weights[timed]
    samples = int(counts.sum())
    try:
        aggregation = plan(check).aggregation
    except ThresholdError:
        aggregation = None  # evaluate_loadtest reports the bad threshold
    aggregates: dict[str, float] = {}
    source = f"requests {where} (locust histogram buckets)"
    if aggregation is not None and samples:
        value = _bucket_aggregate(values, counts, aggregation)
        if value is not None:
            aggregates[aggregation] = value
            if aggregation not in {"avg"}:
                low, high = bucket_bounds(value)
                source = (
                    f"requests {where} (locust histogram: {aggregation} is bucket {value:g} ms, "
                    f"which holds response times in [{low:g}, {high:g}) ms)"
                )
    return Measurement("trend", "ms", samples, aggregates=aggregates, source=source)


def _from_samples(
    rows: pd.DataFrame, metric: str, check: LoadtestCheck, duration: float | None, where: str
) -> Measurement:
    values = rows["value"].to_numpy(dtype=float)
    if metric in COUNTERS:
        kind = "counter"
    elif (
        values.size
        and np.isin(values, (0.0, 1.0)).all()
        and (check.aggregation or check.threshold or "").startswith("rate")
    ):
        kind = "rate"
    else:
        kind = "trend"
    return Measurement(kind, None, int(values.size), values, duration_seconds=duration, source=f"{metric} {where}")


def _tags_of(name: str) -> tuple[str, dict[str, str]]:
    base, _, rest = name.partition("{")
    tags: dict[str, str] = {}
    for pair in rest.rstrip("}").split(","):
        if ":" in pair:
            key, _, value = pair.partition(":")
            tags[key.strip()] = value.strip()
    return base, tags


def _find(metrics: dict[str, SummaryMetric], base: str, wanted: dict[str, str]) -> tuple[SummaryMetric | None, str]:
    candidates = []
    for name, metric in metrics.items():
        metric_base, tags = _tags_of(name)
        if metric_base != base:
            continue
        if tags == wanted:
            return metric, ""
        if wanted and wanted.items() <= tags.items():
            candidates.append(metric)
    if len(candidates) == 1:
        return candidates[0], ""
    if len(candidates) > 1:
        return None, f"{base}{describe_k6(wanted)} is ambiguous: {', '.join(m.name for m in candidates)}"
    return None, f"no {base}{describe_k6(wanted)} in the summary"


def describe_k6(tags: dict[str, str]) -> str:
    return "{" + ",".join(f"{k}:{v}" for k, v in tags.items()) + "}" if tags else ""


def _from_summary(
    data: LoadtestData, k6_name: str, metric: str, label: str | None, tags: dict[str, str], where: str
) -> tuple[Measurement | None, str]:
    wanted = {**({"name": label} if label is not None else {}), **tags}
    found, problem = _find(data.metrics, k6_name, wanted)
    if found is None:
        if wanted and k6_name.startswith("http_req"):
            problem += " (a k6 summary only has a per-tag submetric when the script sets a threshold on it)"
        if not wanted and k6_name in {"http_req_duration", "http_reqs", "http_req_failed"}:
            return None, f"{problem}: the test made no HTTP requests"
        return None, problem
    values = dict(found.values)
    samples = _summary_samples(data.metrics, found, wanted)
    source = f"{found.name} (tool summary)"
    if metric == "latency" and found.unit not in (None, "ms"):
        return None, f"{found.name} is measured in {found.unit}, not time: it cannot be a latency"
    if metric == "requests":
        values = {"count": values.get("count", math.nan)}
    if metric == "throughput":
        rate = values.get("rate")
        if rate is None and data.duration_seconds:
            rate = values.get("count", math.nan) / data.duration_seconds
        values = {"rate": rate if rate is not None else math.nan}
    return Measurement(found.type, found.unit, samples, aggregates=values, source=source), ""


def _summary_samples(metrics: dict[str, SummaryMetric], metric: SummaryMetric, wanted: dict[str, str]) -> int:
    """How many samples stand behind a summary metric (k6 trends do not say; use the matching request count)."""
    values = metric.values
    if metric.type == "rate" and "passes" in values:
        return int(values["passes"] + values.get("fails", 0))
    if metric.type == "counter" and "count" in values:
        return int(values["count"])
    for base in ("http_reqs", "http_req_failed"):
        found, _ = _find(metrics, base, wanted)
        if found is not None:
            return _summary_samples(metrics, found, wanted)
    overall = metrics.get("http_reqs")
    return int(overall.values.get("count", 0)) if overall else 0


def aggregates(rows: pd.DataFrame, duration: float | None, bucketed: bool = False) -> dict[str, Any]:
    """count, rps, error ratio, min/mean/max and p50…p99.9 (ms) of a request selection.

    ``bucketed``: the rows are Locust histogram buckets, so percentiles follow Locust's method.
    """
    weights = rows["count"].to_numpy(dtype="int64")
    count = int(weights.sum())
    out: dict[str, Any] = {"count": count}
    if count == 0:
        return out
    failed = int(weights[~rows["ok"].to_numpy(dtype=bool)].sum())
    out["failed"] = failed
    out["error_ratio"] = failed / count
    if duration:
        out["rps"] = count / duration
    ms = rows["duration"].to_numpy(dtype=float) * 1000.0
    timed = ~np.isnan(ms)
    if timed.any():
        values, w = ms[timed], weights[timed]
        # sorted once here (the mean is summed in this order), so each percentile below is cheap
        if bool(np.all(w == 1)):
            values = np.sort(values, kind="stable")  # same order as the stable argsort, without the gather
        else:
            order = np.argsort(values, kind="stable")
            values, w = values[order], w[order]
        out["min_ms"] = float(values.min())
        out["mean_ms"] = float(np.sum(values * w) / w.sum())
        out["max_ms"] = float(values.max())
        for p in PERCENTILES:
            out[f"p{p:g}_ms"] = locust_percentile(np.round(values, 6), w, p) if bucketed else percentile(values, p, w)
    return out


def selection_aggregates(data: LoadtestData, label: str | None, tags: dict[str, str]) -> dict[str, Any] | None:
    """:func:`aggregates` of the requests ``label``/``tags`` select, computed once per selection.

    A gate's p95 and p99 checks on one label, and the summary table's row for it, share one computation
    (each sorts up to millions of durations). None when the selection cannot be made.
    """
    if data.requests is None:
        return None
    key = (label, tuple(sorted(tags.items())))
    if key not in data.aggregate_cache:
        rows, problem = select(data.requests, label, tags)
        data.aggregate_cache[key] = None if problem else aggregates(rows, data.duration_seconds, data.is_bucketed(rows))
    found = data.aggregate_cache[key]
    return None if found is None else dict(found)


def table(data: LoadtestData) -> list[dict[str, Any]]:
    """Aggregates overall and per label, for the evidence and the summary table."""
    if data.requests is None:
        return []
    overall = data.requests
    rows = [{"label": "(all)", **(selection_aggregates(data, None, {}) or {})}]
    for label, part in overall.groupby("label", sort=True):
        if label:
            key = (str(label), ())
            if key not in data.aggregate_cache:  # same rows, same order as select() by label
                data.aggregate_cache[key] = aggregates(part, data.duration_seconds, data.is_bucketed(part))
            rows.append({"label": str(label), **(selection_aggregates(data, str(label), {}) or {})})
    return rows

"""k6 end-of-test summaries: ``--summary-export`` files and the ``handleSummary`` data object.

Both hold metrics k6 aggregated itself. They differ where it matters: a ``--summary-export`` threshold
maps its expression to ``true`` when it *failed*; ``handleSummary`` data says ``{"ok": false}``. For
``http_req_failed`` (a rate of failed requests) ``passes`` counts the failed requests.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from collector.sources.loadtest.common import read_bytes
from collector.sources.loadtest.model import LoadtestFormatError, LoadtestResult, SummaryMetric, ToolThreshold

# Built-in k6 trends that measure time (milliseconds); --summary-export does not say which trends do.
TIME_TRENDS = (
    "http_req_duration",
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
    "iteration_duration",
    "group_duration",
    "grpc_req_duration",
    "ws_connecting",
    "ws_session_duration",
    "browser_",
)


def is_time_metric(name: object) -> bool:
    """Whether a k6 metric (or submetric ``name{tag:value}``) is one of k6's built-in time trends (ms)."""
    return isinstance(name, str) and name.split("{", 1)[0].startswith(TIME_TRENDS)


_NEW_FORMAT_START = re.compile(rb'^\{\s*"config"\s*:')


def sniff(head: bytes, path: Path) -> bool:
    """A JSON object with a ``metrics`` member (not a k6 NDJSON line, which names one ``metric``).

    k6 v2's ``--new-machine-readable-summary`` starts with ``{"config": {... "script": ...}`` (the whole
    script, which can push ``metrics`` past the sniffed head), so that start is recognised as well.
    """
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    first = text.split(b"\n", 1)[0]
    ndjson = b'"type":"Point"' in first.replace(b" ", b"") or b'"type":"Metric"' in first.replace(b" ", b"")
    if ndjson:
        return False
    return text.startswith(b"{") and (b'"metrics"' in head or bool(_NEW_FORMAT_START.match(text)))


def _from_new_format(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """k6 v2's new machine-readable summary (schema 1.x) in the shape of ``handleSummary`` data.

    The new format lists metrics (``results.metrics``: name, type, contains, values) instead of a map,
    writes percentiles as ``p95`` (not ``p(95)``), rates as ``matches``/``total`` and counters without
    a rate; checks live apart in ``results.checks``; the test duration is ``config.duration`` in
    seconds; threshold results are not in the file.
    """
    results = document.get("results")
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), list):
        raise LoadtestFormatError(f"{path}: not a k6 summary (no 'metrics' object, no 'results.metrics' list)")
    raw_config = document.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    duration = config.get("duration")
    seconds = float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None
    metrics: dict[str, Any] = {}
    raw_checks = results.get("checks")
    checks: dict[str, Any] = raw_checks if isinstance(raw_checks, dict) else {}
    listed = list(results["metrics"]) + [
        {**m, "name": "checks"}
        for m in checks.get("metrics", [])
        if isinstance(m, dict) and m.get("name") == "checks_succeeded"
    ]
    for index, item in enumerate(listed):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise LoadtestFormatError(f"{path}: results.metrics[{index}] has no name")
        values = item.get("values")
        if not isinstance(values, dict):
            raise LoadtestFormatError(f"{path}: metric {item['name']!r} has no values object")
        kind = item.get("type")
        converted: dict[str, Any] = {}
        for key, value in values.items():
            match = re.fullmatch(r"p(\d+(?:\.\d+)?)", key)
            converted[f"p({match.group(1)})" if match else key] = value
        if kind == "rate" and {"matches", "total"} <= set(values):
            converted = {
                "rate": values.get("rate"),
                "passes": values["matches"],
                "fails": values["total"] - values["matches"],
            }
        if kind == "counter" and "rate" not in converted and seconds and isinstance(values.get("count"), int | float):
            converted["rate"] = values["count"] / seconds
        metrics[item["name"]] = {"type": kind, "contains": item.get("contains"), "values": converted}
    state = {"testRunDurationMs": seconds * 1000.0} if seconds is not None else {}
    return {"metrics": metrics, "state": state}


def read(path: Path) -> LoadtestResult:
    data = read_bytes(path)
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadtestFormatError(f"{path}: line {getattr(exc, 'lineno', '?')}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise LoadtestFormatError(f"{path}: not a k6 summary (not a JSON object)")
    new_format = not isinstance(document.get("metrics"), dict) and "results" in document
    if new_format:
        document = _from_new_format(path, document)
    if not isinstance(document.get("metrics"), dict):
        raise LoadtestFormatError(f"{path}: not a k6 summary (no 'metrics' object)")
    handle_summary = any(isinstance(m, dict) and "values" in m for m in document["metrics"].values())
    metrics: dict[str, SummaryMetric] = {}
    thresholds: list[ToolThreshold] = []
    for name, body in document["metrics"].items():
        if not isinstance(body, dict):
            raise LoadtestFormatError(f"{path}: metric {name!r} is not an object")
        metric = _handle_summary_metric(path, name, body) if handle_summary else _export_metric(path, name, body)
        metrics[name] = metric
        thresholds.extend(_thresholds(path, name, body.get("thresholds"), handle_summary))
    raw_state = document.get("state")
    state: dict[str, Any] = raw_state if isinstance(raw_state, dict) else {}
    duration_ms = state.get("testRunDurationMs")
    notes = []
    if new_format:
        notes.append("k6 new machine-readable summary: it holds no threshold results and no p(99)")
    if not handle_summary:
        notes.append("k6 --summary-export: trend units inferred from k6's built-in time metrics (ms)")
    return LoadtestResult(
        tool="k6",
        format="k6-summary-v2" if new_format else ("k6-handle-summary" if handle_summary else "k6-summary-export"),
        source=path,
        metrics=metrics,
        thresholds=thresholds,
        duration_seconds=float(duration_ms) / 1000.0 if isinstance(duration_ms, int | float) else None,
        notes=notes,
    )


def _numbers(path: Path, name: str, values: Any) -> dict[str, float]:
    if not isinstance(values, dict):
        raise LoadtestFormatError(f"{path}: metric {name!r} has no values object")
    out: dict[str, float] = {}
    for key, value in values.items():
        if key == "thresholds":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LoadtestFormatError(f"{path}: metric {name!r}: {key!r} is not a number: {value!r}")
        if not math.isfinite(value):
            raise LoadtestFormatError(f"{path}: metric {name!r}: {key!r} is not finite ({value})")
        out[key] = float(value)
    return out


def _durations_valid(path: Path, metric: SummaryMetric) -> SummaryMetric:
    """A time trend's figures are durations: none may be negative."""
    if metric.unit == "ms":
        for key, value in metric.values.items():
            if value < 0:
                raise LoadtestFormatError(f"{path}: metric {metric.name!r}: {key} is negative ({value:g} ms)")
    return metric


def _handle_summary_metric(path: Path, name: str, body: dict[str, Any]) -> SummaryMetric:
    kind = body.get("type")
    if kind not in {"trend", "counter", "rate", "gauge"}:
        raise LoadtestFormatError(f"{path}: metric {name!r} has unknown type {kind!r}")
    values = _numbers(path, name, body.get("values"))
    unit = "ms" if body.get("contains") == "time" else ("bytes" if body.get("contains") == "data" else None)
    return _durations_valid(path, SummaryMetric(name=name, type=kind, values=values, unit=unit))


def _export_metric(path: Path, name: str, body: dict[str, Any]) -> SummaryMetric:
    values = _numbers(path, name, body)
    keys = set(values)
    if {"passes", "fails"} <= keys:
        kind = "rate"
        values.setdefault("rate", values.get("value", float("nan")))
    elif {"count", "rate"} <= keys:
        kind = "counter"
    elif {"avg", "min", "max"} & keys and "value" not in keys:
        kind = "trend"
    elif "value" in keys:
        kind = "gauge"
    else:
        raise LoadtestFormatError(f"{path}: metric {name!r}: cannot tell its type from keys {sorted(keys)}")
    base = name.split("{", 1)[0]
    unit = "ms" if kind == "trend" and base.startswith(TIME_TRENDS) else None
    return _durations_valid(path, SummaryMetric(name=name, type=kind, values=values, unit=unit))


def _thresholds(path: Path, metric: str, body: Any, handle_summary: bool) -> list[ToolThreshold]:
    if body is None:
        return []
    if not isinstance(body, dict):
        raise LoadtestFormatError(f"{path}: metric {metric!r}: thresholds is not an object")
    found = []
    for expression, outcome in body.items():
        if handle_summary:
            ok = outcome.get("ok") if isinstance(outcome, dict) else None
        else:
            ok = (not outcome) if isinstance(outcome, bool) else None  # true means the threshold failed
        if not isinstance(ok, bool):
            raise LoadtestFormatError(f"{path}: metric {metric!r}: threshold {expression!r} has no result")
        found.append(ToolThreshold(metric=metric, expression=expression, ok=ok))
    return found

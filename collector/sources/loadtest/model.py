"""The one shape every load-test reader produces, whatever tool wrote the file.

Readers (one module per tool) turn k6, Locust, JMeter, Gatling and hey output into a
:class:`LoadtestResult`. Per-request data goes into ``requests`` (one row per request, or one row per
histogram bucket with ``count`` > 1 when the tool only keeps a histogram, as Locust's JSON report
does). Tools that only write pre-aggregated numbers (a k6 end-of-test summary) fill ``metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from slo.errors import InputError

REQUEST_COLUMNS = ("timestamp", "label", "method", "status", "ok", "duration", "bytes", "count")
"""timestamp: float Unix seconds (NaN when unknown); label: request name; method: HTTP method or "";
status: status code as text ("" when no response); ok: bool (the tool's own failure flag wins);
duration: float seconds; bytes: float (NaN when unknown); count: int64 weight (1 per request).
Extra columns are tags (k6 tags such as ``scenario``), all strings."""


@dataclass(frozen=True)
class SummaryMetric:
    """A metric the tool aggregated itself (k6 summary): values keyed by k6 names (avg, p(95), rate …)."""

    name: str
    type: str  # trend, counter, rate, gauge
    values: dict[str, float]
    unit: str | None = None  # "ms" for k6 time trends


@dataclass(frozen=True)
class ToolThreshold:
    """A threshold the tool evaluated itself (k6 ``thresholds``), carried into evidence as-is."""

    metric: str
    expression: str
    ok: bool


@dataclass
class LoadtestResult:
    tool: str  # k6, locust, jmeter, gatling, hey
    format: str  # e.g. k6-summary-export, k6-ndjson, locust-json, jmeter-csv
    source: Path
    requests: pd.DataFrame | None = None
    metrics: dict[str, SummaryMetric] = field(default_factory=dict)
    samples: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Raw points of other metrics (k6 ``http_req_waiting``, custom Trends): metric name → frame with a
    float ``value`` column (k6 units, ms for time trends) plus string tag columns."""
    thresholds: list[ToolThreshold] = field(default_factory=list)
    duration_seconds: float | None = None  # test span, for throughput when rows carry no timestamps
    precision: str | None = None  # e.g. "locust histogram: 2 significant digits above 100 ms"
    notes: list[str] = field(default_factory=list)


class LoadtestFormatError(InputError):
    """A result file that cannot be read: names the file and, where known, the line."""

"""Generated history with a known truth for the foundation's integration tests.

Three services receive exactly 1000 requests a minute for 7 days, ending at ``END``:
- ``checkout``: 0.1 % errors (1 a minute), then 5 % (50 a minute) in the last 2 hours → budget
  exhausted and every page condition firing;
- ``search``: 0.05 % errors (0.5 a minute) throughout → healthy;
- ``billing``: 0.05 % errors, then 0.35 % in the last day → a ticket condition fires, no page.
A latency histogram for ``checkout`` receives, every minute, 600 requests ≤ 0.1 s, 300 in (0.1, 0.25],
90 in (0.25, 0.5] and 10 in (0.5, 1].

The expected numbers are computed here from these per-minute rates alone, never from gatepack.
"""

from __future__ import annotations

import itertools

import numpy as np

from collector.testing.openmetrics import Family, Series

END = 1767225600  # 2026-01-01T00:00:00Z, a multiple of every window
STEP = 60
DAYS = 7
PER_MINUTE = 1000.0
TIMESTAMPS = np.arange(END - DAYS * 86400, END + 1, STEP)

# errors per minute, as a function of minutes before END (the increment that lands at that sample)
SERVICES: dict[str, tuple[float, float, int]] = {
    # name: (baseline errors/min, degraded errors/min, degraded for the last N minutes)
    "checkout": (1.0, 50.0, 120),
    "search": (0.5, 0.5, 0),
    "billing": (0.5, 3.5, 1440),
}
BUCKETS = {"0.1": 600.0, "0.25": 900.0, "0.5": 990.0, "1": 1000.0, "+Inf": 1000.0}


def error_increments(service: str) -> np.ndarray:
    """Errors added at each sample (the first sample starts the counter at 0)."""
    baseline, degraded, minutes = SERVICES[service]
    increments = np.full(len(TIMESTAMPS), baseline)
    increments[0] = 0.0
    if minutes:
        increments[TIMESTAMPS > END - minutes * STEP] = degraded
    return increments


def families() -> list[Family]:
    requests = Family("http_requests", "counter", "requests by outcome")
    total_increments = np.full(len(TIMESTAMPS), PER_MINUTE)
    total_increments[0] = 0.0
    for service in SERVICES:
        errors = np.cumsum(error_increments(service))
        total = np.cumsum(total_increments)
        requests.series.append(
            Series("http_requests_total", {"service": service, "code": "200"}, TIMESTAMPS, total - errors)
        )
        requests.series.append(Series("http_requests_total", {"service": service, "code": "500"}, TIMESTAMPS, errors))
    latency = Family("http_request_duration_seconds", "histogram", "latency")
    for le, per_minute in BUCKETS.items():
        values = np.arange(len(TIMESTAMPS)) * per_minute
        latency.series.append(
            Series("http_request_duration_seconds_bucket", {"service": "checkout", "le": le}, TIMESTAMPS, values)
        )
    return [requests, latency]


def errors_in_window(service: str, seconds: int) -> float:
    """Errors counted in (END - seconds, END] straight from the per-minute rates."""
    baseline, degraded, minutes = SERVICES[service]
    window_minutes = min(seconds // STEP, DAYS * 1440)
    bad_minutes = min(window_minutes, minutes)
    return bad_minutes * degraded + (window_minutes - bad_minutes) * baseline


def requests_in_window(seconds: int) -> float:
    return min(seconds // STEP, DAYS * 1440) * PER_MINUTE


def histogram_quantile(q: float) -> float:
    """Prometheus' linear interpolation inside the bucket that holds rank q × total."""
    bounds = [(0.0, 0.0)] + [(float(le), count) for le, count in BUCKETS.items() if le != "+Inf"]
    rank = q * BUCKETS["+Inf"]
    for (lower, below), (upper, cumulative) in itertools.pairwise(bounds):
        if cumulative >= rank:
            return lower + (upper - lower) * (rank - below) / (cumulative - below)
    raise AssertionError("rank beyond the last finite bucket")

"""Thirty days of telemetry of a small SaaS, written as OpenMetrics families with a known truth.

The SaaS has an auth service, a write API with a RabbitMQ worker queue and an autoscaler, a Kafka
ingestion pipeline with retry and dead-letter topics feeding search, an AI agent with tools and a
retrieval store, automation connectors and webhooks, and access sync. Every signal is a closed-form
function of time (no randomness), so tests can recompute each number from the arrays themselves.

Two scenarios share everything except the documented degradations (see ``docs/gates.md``):

``healthy``
    every gate passes.
``degraded``
    the risk register attestation is 45 days old; CI passes 88 % of runs; 3 cross-tenant requests
    were allowed; the write path errors 0.5 % for the last 5 days and 3 % for the last 90 minutes
    (budget exhausted, fast burn) while the worker queue backs up; 1 % of ingested messages were
    dead-lettered in the last day and the indexer lags; a prompt loop tripled the tokens of the last
    day (metrics and traces: see :mod:`collector.demo.traces`); answer quality sank to 0.82 (warning, not failure); the GA load test's p99 was 1.4 s.

Samples are 1 minute apart for the last 6 hours (where the short burn-rate and latency windows look),
5 minutes apart back to two days and hourly before, which keeps backfill fast while every window
stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import erf, exp, log, sqrt

import numpy as np

from collector.testing.openmetrics import Family, Series
from collector.timeutil import rfc3339
from slo.attestation import AttestationRecord

DAY = 86400
HOUR = 3600
DAYS = 30
RESOLUTION = 60
# (age at which the step starts, step): daily for days 30..2, 5-minute for 2 days..6 h, 1-minute after
STEPS = ((DAYS * DAY, DAY), (2 * DAY, 300), (6 * 3600, 60))
SCENARIOS = ("healthy", "degraded")

HTTP_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OPA_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
DB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
CI_BUCKETS = (60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0)
GENAI_CALLS = (  # model, response model, input and output tokens per agent run (metrics and traces)
    ("gpt-4o", "gpt-4o-2024-08-06", 1200.0, 150.0),
    ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 300.0, 50.0),
)
LOADTEST_START_AGO = 6 * HOUR
LOADTEST_MINUTES = 30


def kept(age: np.ndarray) -> np.ndarray:
    """Mask of the minute-grid samples that are written: every whole step back from the end."""
    mask = np.zeros(age.shape, dtype=bool)
    bounds = [*(start for start, _ in STEPS[1:]), -1]
    for (start, step), stop in zip(STEPS, bounds, strict=True):
        mask |= (age <= start) & (age > stop) & (age % step == 0)
    return mask


def timeline(end: int) -> np.ndarray:
    """Written sample times, ending exactly at ``end``.

    The world is computed on a 1-minute grid; only the samples in :data:`STEPS` are written. Because
    the grid is anchored at ``end``, a window of whole steps (``[1d]``, ``[5m]``) starts on a written
    sample, so ``increase`` over it is exactly the difference of two generated values, and TSDB
    blocks exist only where samples are (few blocks: fast backfill).
    """
    age = np.arange(DAYS * DAY, -1, -RESOLUTION)
    return (end - age[kept(age)]).astype(np.int64)


def lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1.0 + erf(log(x / median) / (sigma * sqrt(2.0))))


@dataclass(frozen=True)
class Scenario:
    """The knobs that differ between the healthy and the degraded world."""

    name: str

    @property
    def degraded(self) -> bool:
        return self.name == "degraded"


class World:
    """Builds the families for one scenario over one timeline."""

    def __init__(self, scenario: str, end: int) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: choose {', '.join(SCENARIOS)}")
        self.scenario = Scenario(scenario)
        self.end = end
        self.t = end - np.arange(DAYS * DAY, -1, -RESOLUTION)  # the minute grid the world lives on
        self.age = end - self.t
        self.dt = np.diff(self.t, prepend=self.t[0]).astype(float)  # interval ending at each sample
        self.keep = kept(self.age)
        self.families: list[Family] = []

    # -- building blocks -------------------------------------------------------------------------

    def last(self, seconds: float) -> np.ndarray:
        """Mask of the intervals that end within the last ``seconds``."""
        return self.age < seconds

    def diurnal(self, mean: float, swing: float = 0.5) -> np.ndarray:
        return mean * (1.0 + swing * np.sin(2 * np.pi * (self.t % DAY) / DAY))

    def counter(self, rate: np.ndarray | float) -> np.ndarray:
        """Cumulative count for an events-per-second rate (starting at 0 at the first sample)."""
        per_interval = np.broadcast_to(rate, self.t.shape) * self.dt
        return np.cumsum(per_interval)

    def family(self, name: str, kind: str, help_text: str = "") -> Family:
        family = Family(name, kind, help_text)
        self.families.append(family)
        return family

    def series(self, name: str, labels: Mapping[str, str], values: np.ndarray | float) -> Series:
        """A series of the written samples of ``values`` (given on the minute grid)."""
        full = np.broadcast_to(np.asarray(values, dtype=float), self.t.shape)
        return Series(name, dict(labels), self.t[self.keep], full[self.keep].copy())

    def add_counter(self, family: Family, labels: Mapping[str, str], rate: np.ndarray | float) -> None:
        family.series.append(self.series(family.name, dict(labels), self.counter(rate)))

    def add_gauge(self, family: Family, labels: Mapping[str, str], values: np.ndarray | float) -> None:
        family.series.append(self.series(family.name, dict(labels), values))

    def add_histogram(
        self,
        family: Family,
        labels: Mapping[str, str],
        rate: np.ndarray | float,
        median: float,
        sigma: float,
        buckets: Sequence[float] | None,
    ) -> None:
        """A classic histogram whose observations follow a log-normal distribution.

        Each bucket's counter is the request count times the log-normal CDF at its bound, so the
        share of requests under a boundary is known in closed form. ``buckets=None`` writes only
        ``+Inf``, ``_sum`` and ``_count`` (for metrics read by count only).
        """
        count = self.counter(rate)
        for bound in buckets or ():
            share = lognormal_cdf(bound, median, sigma)
            family.series.append(self.series(f"{family.name}_bucket", {**labels, "le": _le(bound)}, count * share))
        family.series.append(self.series(f"{family.name}_bucket", {**labels, "le": "+Inf"}, count))
        family.series.append(self.series(f"{family.name}_sum", dict(labels), count * median * exp(sigma**2 / 2)))
        family.series.append(self.series(f"{family.name}_count", dict(labels), count))

    # -- the SaaS ---------------------------------------------------------------------------------

    def build(self) -> list[Family]:
        bad = self.scenario.degraded
        http = self.family("http_server_request_duration_seconds", "histogram", "OTel HTTP server duration")
        # auth: 8 req/s, 0.03 % errors
        auth = {"job": "auth", "http_route": "/login", "http_request_method": "POST"}
        self.add_histogram(http, {**auth, "http_response_status_code": "200"}, 8 * 0.9997, 0.06, 0.6, HTTP_BUCKETS)
        self.add_histogram(http, {**auth, "http_response_status_code": "500"}, 8 * 0.0003, 0.06, 0.6, HTTP_BUCKETS)
        # api writes: diurnal 20 req/s; 0.05 % errors, degraded 0.5 % for 5 days and 3 % for 90 minutes
        api = {"job": "api", "http_route": "/workflows", "http_request_method": "POST"}
        api_rate = self.diurnal(20.0)
        error_share = np.full(self.t.shape, 0.0005)
        if bad:
            error_share[self.last(5 * DAY)] = 0.005
            error_share[self.last(90 * 60)] = 0.03
        self.add_histogram(
            http, {**api, "http_response_status_code": "201"}, api_rate * (1 - error_share), 0.12, 0.5, HTTP_BUCKETS
        )
        self.add_histogram(
            http, {**api, "http_response_status_code": "500"}, api_rate * error_share, 0.12, 0.5, HTTP_BUCKETS
        )
        # search: 12 req/s, 0.03 % errors
        search = {"job": "search", "http_route": "/search", "http_request_method": "GET"}
        self.add_histogram(http, {**search, "http_response_status_code": "200"}, 12 * 0.9997, 0.08, 0.6, HTTP_BUCKETS)
        self.add_histogram(http, {**search, "http_response_status_code": "500"}, 12 * 0.0003, 0.08, 0.6, HTTP_BUCKETS)

        self._cicd(bad)
        self._auth_events()
        self._tenancy(bad)
        self._workers(bad, api_rate)
        self._ingestion(bad)
        self._ai(bad)
        self._automation()
        self._notifications()
        self._loadtest(bad)
        return self.families

    def _cicd(self, bad: bool) -> None:
        ci = self.family("cicd_pipeline_run_duration_seconds", "histogram", "OTel CI/CD pipeline run duration")
        runs_per_second = 4 / HOUR
        passed = 0.88 if bad else 0.97
        labels = {"cicd_pipeline_name": "main"}
        for result, share in (("success", passed), ("failure", 1 - passed)):
            self.add_histogram(
                ci, {**labels, "cicd_pipeline_result": result}, runs_per_second * share, 360.0, 0.35, CI_BUCKETS
            )
        sync = self.family("argocd_app_sync_total", "counter", "Argo CD application syncs")
        for phase, share in (("Succeeded", 0.99), ("Failed", 0.01)):
            self.add_counter(sync, {"name": "preview-web", "project": "previews", "phase": phase}, 2 / HOUR * share)

    def _auth_events(self) -> None:
        events = self.family("keycloak_user_events_total", "counter", "Keycloak user events")
        self.add_counter(events, {"realm": "main", "event": "login"}, 3.0 * 0.96)
        self.add_counter(events, {"realm": "main", "event": "login", "error": "invalid_user_credentials"}, 3.0 * 0.04)

    def _tenancy(self, bad: bool) -> None:
        cross = self.family("authz_cross_tenant_requests_total", "counter", "Cross-tenant authorization decisions")
        allowed = np.zeros(self.t.shape)
        if bad:  # three leaked requests, one hour apart, a day ago
            for hours_ago in (26, 25, 24):
                allowed[np.argmin(np.abs(self.age - hours_ago * HOUR))] = 1.0
        cross.series.append(self.series(cross.name, {"decision": "allow"}, np.cumsum(allowed)))
        self.add_counter(cross, {"decision": "deny"}, 0.02)
        opa = self.family("http_request_duration_seconds", "histogram", "OPA HTTP request duration")
        opa_labels = {"job": "opa", "handler": "v1/data", "method": "POST"}
        self.add_histogram(opa, {**opa_labels, "code": "200"}, 40 * 0.9999, 0.003, 0.5, OPA_BUCKETS)
        self.add_histogram(opa, {**opa_labels, "code": "500"}, 40 * 0.0001, 0.003, 0.5, OPA_BUCKETS)

    def _workers(self, bad: bool, api_rate: np.ndarray) -> None:
        ready = self.family("rabbitmq_queue_messages_ready", "gauge", "RabbitMQ messages ready")
        backlog = 50 + 100 * (api_rate / api_rate.max())
        if bad:  # workers stall for the last 3 hours: the queue grows to ~4000
            stalled = self.last(3 * HOUR)
            backlog = np.where(stalled, backlog + 4000 * (1 - self.age / (3 * HOUR)), backlog)
        self.add_gauge(ready, {"vhost": "/", "queue": "workflow-jobs"}, np.round(backlog))
        self.add_gauge(ready, {"vhost": "/", "queue": "automation.dlq"}, 5.0)
        hpa = {"namespace": "app", "horizontalpodautoscaler": "api"}
        current = self.family("kube_horizontalpodautoscaler_status_current_replicas", "gauge", "kube-state-metrics")
        self.add_gauge(current, hpa, np.ceil(api_rate / 5.0))
        maximum = self.family("kube_horizontalpodautoscaler_spec_max_replicas", "gauge", "kube-state-metrics")
        self.add_gauge(maximum, hpa, 10.0)

    def _ingestion(self, bad: bool) -> None:
        offsets = self.family("kafka_topic_partition_current_offset", "gauge", "kafka_exporter topic offsets")
        ingest_rate = 5.0
        dead_share = np.full(self.t.shape, 0.00005)
        if bad:
            dead_share[self.last(DAY)] = 0.01
        for topic, rate in (
            ("ingest", ingest_rate),
            ("ingest.retry", ingest_rate * 0.01),
            ("ingest.dlq", ingest_rate * dead_share),
        ):
            offsets.series.append(
                self.series(offsets.name, {"topic": topic, "partition": "0"}, np.floor(1000 + self.counter(rate)))
            )
        lag = self.family("kafka_consumergroup_lag", "gauge", "kafka_exporter consumer group lag")
        lag_values = np.full(self.t.shape, 400.0)
        if bad:
            lag_values = np.where(self.last(2 * HOUR), 400 + 60000 * (1 - self.age / (2 * HOUR)), lag_values)
        self.add_gauge(lag, {"consumergroup": "indexer", "topic": "ingest", "partition": "0"}, np.round(lag_values))

    def _ai(self, bad: bool) -> None:
        ops = self.family("gen_ai_client_operation_duration_seconds", "histogram", "OTel GenAI operation duration")
        agent = {"job": "agent", "gen_ai_system": "openai"}
        runs = 0.05
        self.add_histogram(ops, {**agent, "gen_ai_operation_name": "invoke_agent"}, runs, 8.0, 0.5, None)
        tools = 0.2
        tool = {**agent, "gen_ai_operation_name": "execute_tool"}
        self.add_histogram(ops, tool, tools * 0.99, 0.8, 0.5, None)
        self.add_histogram(ops, {**tool, "error_type": "timeout"}, tools * 0.002, 30.0, 0.1, None)
        self.add_histogram(ops, {**tool, "error_type": "tool_error"}, tools * 0.008, 0.5, 0.5, None)
        tokens = self.family("gen_ai_client_token_usage", "histogram", "OTel GenAI token usage")
        loop = np.where(self.last(DAY), 3.0, 1.0) if bad else np.ones(self.t.shape)
        for model, response_model, per_run_in, per_run_out in GENAI_CALLS:
            for kind, per_run in (("input", per_run_in), ("output", per_run_out)):
                count = self.counter(runs)
                labels = {
                    **agent,
                    "gen_ai_operation_name": "chat",
                    "gen_ai_request_model": model,
                    "gen_ai_response_model": response_model,
                    "gen_ai_token_type": kind,
                }
                tokens.series.append(self.series(f"{tokens.name}_bucket", {**labels, "le": "+Inf"}, count))
                tokens.series.append(self.series(f"{tokens.name}_sum", labels, self.counter(runs * per_run * loop)))
                tokens.series.append(self.series(f"{tokens.name}_count", labels, count))
        spans = self.family("traces_span_metrics_calls_total", "counter", "OTel Collector spanmetrics calls")
        span_labels = {"service_name": "agent", "span_name": "invoke_agent support", "span_kind": "SPAN_KIND_INTERNAL"}
        self.add_counter(spans, {**span_labels, "status_code": "STATUS_CODE_UNSET"}, runs * 0.99)

        db = self.family("db_client_operation_duration_seconds", "histogram", "OTel DB client duration")
        rag = {"job": "rag", "db_system_name": "qdrant", "db_operation_name": "query"}
        self.add_histogram(db, rag, 2.0 * 0.998, 0.03, 0.5, DB_BUCKETS)
        self.add_histogram(db, {**rag, "error_type": "UNAVAILABLE"}, 2.0 * 0.002, 0.03, 0.5, DB_BUCKETS)
        score = self.family("gen_ai_evaluation_score", "gauge", "Evaluation score of the nightly eval job")
        base = 0.90 + 0.01 * np.sin(2 * np.pi * self.t / (7 * DAY))
        if bad:  # quality sinks to 0.82 over the last two days: under the warning bound, above the floor
            base = np.where(self.last(2 * DAY), 0.82, base)
        self.add_gauge(score, {"gen_ai_evaluation_name": "answer_relevance"}, base)

    def _automation(self) -> None:
        client = self.family("http_client_request_duration_seconds", "histogram", "OTel HTTP client duration")
        connectors = {"job": "connectors", "server_address": "api.crm.example"}
        self.add_histogram(client, connectors, 1.0 * 0.995, 0.2, 0.5, None)
        self.add_histogram(client, {**connectors, "error_type": "503"}, 1.0 * 0.005, 0.2, 0.5, None)
        hooks = self.family("automation_webhook_deliveries_total", "counter", "Outgoing automation webhooks")
        for outcome, rate in (("delivered", 0.5 * 0.999), ("failed", 0.5 * 0.001), ("retried", 0.5 * 0.02)):
            self.add_counter(hooks, {"outcome": outcome}, rate)
        dupes = self.family("automation_idempotency_duplicates_total", "counter", "Duplicate deliveries seen")
        self.add_counter(dupes, {"action": "suppressed"}, 0.005)
        self.add_counter(dupes, {"action": "processed"}, 0.0)
        replays = self.family("automation_replays_total", "counter", "Replays of failed deliveries")
        self.add_counter(replays, {"outcome": "success"}, 0.01 * 0.998)
        self.add_counter(replays, {"outcome": "failure"}, 0.01 * 0.002)

    def _notifications(self) -> None:
        sent = self.family("notification_webhook_deliveries_total", "counter", "Signed notification webhooks")
        self.add_counter(sent, {"signed": "true", "outcome": "success"}, 1.0 * 0.998)
        self.add_counter(sent, {"signed": "true", "outcome": "failure"}, 1.0 * 0.002)
        checks = self.family("webhook_signature_verifications_total", "counter", "Incoming webhook signature checks")
        self.add_counter(checks, {"result": "valid"}, 0.5)
        self.add_counter(checks, {"result": "invalid"}, 2 / DAY)
        lag = self.family("access_sync_lag_seconds", "gauge", "Age of the oldest unsynced access change")
        self.add_gauge(lag, {"target": "directory"}, 30 + 20 * np.sin(2 * np.pi * self.t / HOUR))
        mismatches = self.family("access_sync_mismatches", "gauge", "Mismatches found by the last reconciliation")
        self.add_gauge(mismatches, {"target": "directory"}, 0.0)

    def _loadtest(self, bad: bool) -> None:
        """k6 remote-write series of one 30-minute GA rehearsal at 200 req/s, 6 hours ago."""
        start = self.end - LOADTEST_START_AGO
        stamps = start + 60 * np.arange(LOADTEST_MINUTES + 1)
        labels = {"testid": "ga-rehearsal", "scenario": "default"}
        values = {
            "k6_http_req_duration_p95": 0.31 if bad else 0.22,
            "k6_http_req_duration_p99": 1.4 if bad else 0.45,
            "k6_http_req_failed_rate": 0.002,
        }
        for name, value in values.items():
            family = self.family(name, "gauge", "k6 Prometheus remote-write trend stat")
            family.series.append(Series(name, labels, stamps, np.full(stamps.shape, value)))
        reqs = self.family("k6_http_reqs", "counter", "k6 HTTP requests")
        reqs.series.append(Series("k6_http_reqs_total", labels, stamps, 200.0 * 60 * np.arange(len(stamps))))


def _le(bound: float) -> str:
    return f"{bound:g}" if bound < 1e6 else repr(bound)


def attestations(scenario: str, end: int) -> list[AttestationRecord]:
    """The attestations file of the demo team; in ``degraded`` the risk register is 45 days old."""
    days_ago = {
        ("00-architecture", "dependency-list"): 12,
        ("00-architecture", "environment-policy-baseline"): 40,
        ("00-architecture", "risk-register"): 45 if scenario == "degraded" else 9,
        ("01-cicd", "rollback-notes"): 3,
        ("02-auth-shell", "auth-alert-route"): 6,
        ("10-beta-readiness", "usage-safeguard-alerts"): 8,
        ("10-beta-readiness", "security-checks"): 4,
        ("11-ga-launch", "rollback-rehearsal"): 2,
    }
    records = []
    for (gate, item), ago in days_ago.items():
        attached = item == "security-checks"
        records.append(
            AttestationRecord(
                gate=gate,
                item=item,
                by="dana@demo.example",
                at=rfc3339(end - ago * DAY),
                link=f"https://wiki.demo.example/release/{item}",
                file_name="security-report.pdf" if attached else None,
                file_sha256=("5" * 64) if attached else None,
            )
        )
    return records


def build_world(scenario: str, end: int) -> list[Family]:
    """The OpenMetrics families of ``scenario`` for the 30 days ending at ``end`` (Unix seconds)."""
    return World(scenario, end).build()

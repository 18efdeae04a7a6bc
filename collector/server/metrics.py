"""The server's own Prometheus metrics, in a registry of its own (two apps in one process never collide)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class ServerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        # route is the template (/api/v1/packets/{digest}), never the raw path: bounded label values
        self.requests = Counter(
            "gatepack_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "gatepack_http_request_duration_seconds",
            "Time to answer a request",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.stored = Counter("gatepack_packets_stored", "Packets newly recorded in the store", registry=self.registry)
        self.duplicates = Counter(
            "gatepack_packets_duplicate", "Posted packets that were already in the store", registry=self.registry
        )
        self.rejected = Counter(
            "gatepack_packets_rejected",
            "Posted packets refused (nothing stored), by reason: digest, signature, schema, invalid_json, size, …",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

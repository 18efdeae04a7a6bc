"""Verdict metrics: what a collect run decided, as Prometheus gauges for dashboards and alerts.

Two sinks share one set of families: a node-exporter textfile-collector file (written atomically, so
the collector never reads half a file) and a Pushgateway push. Labels are bounded (gate and check ids
only; verdicts, values and counts are sample values, never labels), and each gate is its own
Pushgateway group (``job="gatepack", gate=<id>``) pushed with PUT, so a rerun replaces the gate's
series, a check removed from the spec disappears, and nothing grows run after run.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
from prometheus_client.exposition import default_handler
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rich.console import Console

from collector.sinks.files import write_atomic
from collector.timeutil import parse_time
from slo.evidence import EvidencePacket
from slo.generate import names

GATE, CHECK = names.VERDICT_GATE_LABEL, names.VERDICT_CHECK_LABEL
_CODES = ", ".join(f"{code}={verdict.value}" for verdict, code in names.VERDICT_CODES.items())


class MetricsSinkError(RuntimeError):
    """A verdict-metrics sink failed (the evidence itself was written)."""


def families(packets: Sequence[EvidencePacket]) -> list[Metric]:
    """The verdict metric families of ``packets`` (one sample per gate or per check)."""
    gate_verdict = GaugeMetricFamily(
        names.GATE_VERDICT, f"Gate verdict of the latest collect run ({_CODES})", labels=[GATE]
    )
    check_verdict = GaugeMetricFamily(names.CHECK_VERDICT, f"Check verdict ({_CODES})", labels=[GATE, CHECK])
    value = GaugeMetricFamily(names.CHECK_VALUE_METRIC, "The value the check measured", labels=[GATE, CHECK])
    budget = GaugeMetricFamily(
        names.SLO_BUDGET_REMAINING, "Share of the SLO error budget left (negative: overspent)", labels=[GATE, CHECK]
    )
    evaluated = GaugeMetricFamily(
        names.EVIDENCE_TIMESTAMP, "Evaluation time the evidence is pinned to (Unix seconds)", labels=[GATE]
    )
    last_run = GaugeMetricFamily(
        names.LAST_RUN_TIMESTAMP,
        "When the collect run that produced the evidence finished (Unix seconds)",
        labels=[GATE],
    )
    for packet in packets:
        gate = packet.gate.id
        gate_verdict.add_metric([gate], names.VERDICT_CODES[packet.verdict])
        evaluated.add_metric([gate], parse_time(packet.evaluation.time))
        last_run.add_metric([gate], parse_time(packet.evaluation.finished_at))
        for check in packet.checks:
            check_verdict.add_metric([gate, check.id], names.VERDICT_CODES[check.verdict])
            if check.value is not None:
                value.add_metric([gate, check.id], check.value)
            if check.slo is not None and check.slo.error_budget is not None:
                budget.add_metric([gate, check.id], check.slo.error_budget.remaining)
    return [gate_verdict, check_verdict, value, budget, evaluated, last_run]


class _Static(Collector):
    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def registry(packets: Sequence[EvidencePacket]) -> CollectorRegistry:
    """A registry holding exactly the verdict metrics of ``packets`` (no process or platform metrics)."""
    result = CollectorRegistry(auto_describe=False)
    result.register(_Static(families(packets)))
    return result


def exposition(packets: Sequence[EvidencePacket]) -> bytes:
    """Prometheus text exposition format of the verdict metrics."""
    return generate_latest(registry(packets))


def write_textfile(target: Path, packets: Sequence[EvidencePacket]) -> list[Path]:
    """Write the metrics for the node-exporter textfile collector, atomically.

    ``target`` a directory (existing, or given with a trailing slash): one ``gatepack_<gate>.prom``
    per gate, so runs for different gates never overwrite each other. Otherwise: one file with all
    gates of this run.
    """
    if target.is_dir() or str(target).endswith("/"):
        written = []
        for packet in packets:
            path = target / f"gatepack_{packet.gate.id}.prom"
            write_atomic(path, exposition([packet]))
            written.append(path)
        return written
    write_atomic(target, exposition(packets))
    return [target]


def redact_url(url: str) -> str:
    """``url`` without user-info, query or fragment: what may appear in messages (sinks sit below sources)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "<unparseable url>"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _handler_for(url: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """The URL without user-info and a push handler that sends it as basic auth when present."""
    parts = urlsplit(url)
    if not parts.username:
        return url, default_handler
    host = parts.hostname or ""
    bare = urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query, ""))
    user, password = unquote(parts.username), unquote(parts.password or "")  # userinfo is percent-encoded
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return default_handler(url, method, timeout, [*headers, ("Authorization", f"Basic {token}")], data)

    return bare, handler


def push(url: str, packets: Sequence[EvidencePacket], timeout: float = 10.0) -> None:
    """Push each gate as its own Pushgateway group (PUT: the gate's previous series are replaced)."""
    if not url.startswith(("http://", "https://")):
        raise MetricsSinkError(f"--push must be an http:// or https:// Pushgateway URL, got {redact_url(url)!r}")
    gateway, handler = _handler_for(url)
    for packet in packets:
        try:
            push_to_gateway(
                gateway,
                job=names.PUSH_JOB,
                registry=registry([packet]),
                grouping_key={GATE: packet.gate.id},
                timeout=timeout,
                handler=handler,
            )
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            reason = getattr(exc, "reason", None) or exc
            raise MetricsSinkError(
                f"pushing verdict metrics of {packet.gate.id} to {redact_url(gateway)} failed: {reason}"
            ) from None


def publish(packets: Sequence[EvidencePacket], textfile: Path | None, push_url: str | None, console: Console) -> None:
    """Run the configured sinks after the evidence is written; a failing sink is reported, never fatal.

    The sealed packets are the record and the exit code is the verdict; a Pushgateway being down must
    not turn a passing gate into a failing one, so the problem is printed on stderr instead.
    """
    if textfile is not None:
        try:
            for path in write_textfile(textfile, packets):
                console.print(f"verdict metrics written: {path}", highlight=False)
        except OSError as exc:
            console.print(f"error: cannot write verdict metrics to {textfile}: {exc.strerror or exc}", style="bold red")
    if push_url:
        try:
            push(push_url, packets)
            console.print(
                f"verdict metrics pushed: {redact_url(push_url)} ({len(packets)} gate group(s))", highlight=False
            )
        except MetricsSinkError as exc:
            console.print(f"error: {exc}", style="bold red")

"""Build the sources a run reads from the command's options: one place, so every command agrees."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # imported by commands at module level: the sources themselves load when a run builds them
    from collector.cli.options import TraceTargets
    from collector.sources.base import Source
    from collector.sources.http import HttpConfig
    from collector.sources.prometheus.context import ContextSettings
    from collector.specs import LoadedGate
    from slo.evidence import InputFile
    from slo.pricing import PriceTable


def prometheus_source(config: HttpConfig | None, context: ContextSettings | None = None) -> list[Source]:
    """The Prometheus source; ``context`` (collect's default) also records a context series per check."""
    if config is None:
        return []
    from collector.sources.prometheus.client import PrometheusClient
    from collector.sources.prometheus.source import PrometheusSource

    return [PrometheusSource(PrometheusClient(config), context=context)]


def rules_drift_source(config: HttpConfig | None, gates: list[LoadedGate]) -> list[Source]:
    """``rules_drift`` checks read the same Prometheus (same HttpConfig) and compare with the run's gates."""
    if config is None:
        return []
    from collector.sources.http import HttpTransport
    from collector.sources.rules_drift import RulesDriftSource

    return [RulesDriftSource(HttpTransport(config), [item.gate for item in gates])]


def attestation_source(path: Path | None) -> Source:
    """The ``attestation`` source over ``path`` (default ./gatepack-attestations.json; missing is fine)."""
    from collector.sources.attestations import DEFAULT_PATH, AttestationSource, load_attestations

    path = path or DEFAULT_PATH
    records = load_attestations(path)
    label = str(path) if path.exists() else f"{path} (missing)"
    return AttestationSource(records, label, path)


def tests_source(paths: list[Path]) -> Source:
    """The ``tests`` source over JUnit XML reports (a file that is not JUnit is a usage error)."""
    from collector.sources.tests_junit import TestsSource, load_reports

    return TestsSource(load_reports(paths))


def load_price_table(targets: TraceTargets | None) -> tuple[PriceTable | None, InputFile | None]:
    """The ``--pricing`` table and its provenance, read once for every source that prices tokens."""
    if targets is None or targets.pricing is None:
        return None, None
    from collector.sources.traces.pricing_file import load_pricing

    return load_pricing(targets.pricing)


def trace_sources(
    targets: TraceTargets | None,
    pricing: PriceTable | None = None,
    pricing_input: InputFile | None = None,
) -> list[Source]:
    """The trace source (Tempo, Jaeger or OTLP files) with the price table, when one is configured."""
    if targets is None:
        return []
    if pricing is None and targets.pricing is not None:
        pricing, pricing_input = load_price_table(targets)
    if targets.tempo is not None:
        from collector.sources.http import HttpTransport
        from collector.sources.traces.tempo import TempoSource

        transport = HttpTransport(targets.tempo)
        return [TempoSource(transport, pricing, pricing_input, max_range=targets.max_range, search_limit=targets.limit)]
    if targets.jaeger is not None:
        from collector.sources.http import HttpTransport
        from collector.sources.traces.jaeger import JaegerSource

        return [JaegerSource(HttpTransport(targets.jaeger), pricing, pricing_input, search_depth=targets.limit)]
    if targets.otlp:
        from collector.sources.traces.otlp_file import OtlpFileSource, check_readable

        for path in targets.otlp:
            check_readable(path)
        return [OtlpFileSource(list(targets.otlp), pricing, pricing_input)]
    return []


def prometheus_cost_source(
    config: HttpConfig | None, gates: list[LoadedGate], pricing: PriceTable | None, pricing_input: InputFile | None
) -> list[Source]:
    """``ai_cost`` checks with ``source: prometheus`` read the token-usage histogram of the same backend."""
    from slo.spec import AiCostCheck

    wanted = any(isinstance(c, AiCostCheck) and c.source == "prometheus" for item in gates for c in item.gate.checks)
    if config is None or not wanted:
        return []
    from collector.sources.prometheus.ai_cost import PrometheusCostSource
    from collector.sources.prometheus.client import PrometheusClient

    return [PrometheusCostSource(PrometheusClient(config), pricing, pricing_input)]


def build_sources(
    gates: list[LoadedGate],
    *,
    backend: HttpConfig | None,
    loadtest: list[Path] = [],
    tests: list[Path] = [],
    attestations: Path | None = None,
    traces: TraceTargets | None = None,
    context: ContextSettings | None = None,
) -> list[Source]:
    """Prometheus and rules drift (when a URL is given), load-test files, JUnit reports, trace sources (when given), attestations."""
    sources = prometheus_source(backend, context)
    if any(check.kind == "rules_drift" for item in gates for check in item.gate.checks):
        sources.extend(rules_drift_source(backend, gates))
    pricing, pricing_input = load_price_table(traces)
    tracing = trace_sources(traces, pricing, pricing_input)
    sources.extend(tracing)
    # the price table is recorded once: by the trace source when there is one
    sources.extend(prometheus_cost_source(backend, gates, pricing, None if tracing else pricing_input))
    if loadtest:
        from collector.cli.ingest import load_inputs
        from collector.sources.loadtest.evaluator import LoadtestSource

        sources.append(LoadtestSource(load_inputs(loadtest, gates=gates)))
    if tests:
        sources.append(tests_source(tests))
    sources.append(attestation_source(attestations))
    return sources

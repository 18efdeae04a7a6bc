"""Build the sources a run reads from the command's options: one place, so every command agrees."""

from __future__ import annotations

from pathlib import Path

from collector.sources.base import Source
from collector.sources.http import HttpConfig
from collector.specs import LoadedGate


def prometheus_source(config: HttpConfig | None) -> list[Source]:
    if config is None:
        return []
    from collector.sources.prometheus.client import PrometheusClient
    from collector.sources.prometheus.source import PrometheusSource

    return [PrometheusSource(PrometheusClient(config))]


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


def build_sources(
    gates: list[LoadedGate],
    *,
    backend: HttpConfig | None,
    loadtest: list[Path] = [],
    tests: list[Path] = [],
    attestations: Path | None = None,
) -> list[Source]:
    """Prometheus (when a URL is given), load-test files and JUnit reports (when given), the attestations file."""
    sources = prometheus_source(backend)
    if loadtest:
        from collector.cli.ingest import load_inputs
        from collector.sources.loadtest.evaluator import LoadtestSource

        sources.append(LoadtestSource(load_inputs(loadtest, gates=gates)))
    if tests:
        sources.append(tests_source(tests))
    sources.append(attestation_source(attestations))
    return sources

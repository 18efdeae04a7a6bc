"""The packet and the alerts agree: the same history, evaluated by `gatepack collect` against a real Prometheus
and by the generated rules under `promtool test rules`, gives the same window ratios and alert conditions.

The history (tests/rules_history.py: quiet, page burst, recovery, slow burn, no traffic) is backfilled into
a real Prometheus starting at T0; `collect` runs at chosen instants T0 + t minutes. The packet's window ratios
and its per-severity alert conditions then become the expectations of a `promtool test rules` file over the
same counters (starting at 0): every recorded ratio must equal the packet's, and each alert must be firing
exactly when the packet says its condition holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from collector.run import CollectOptions, collect
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate
from collector.testing.openmetrics import Family, Series
from collector.testing.promserver import running_prometheus
from slo.durations import parse_duration
from slo.generate.rules import DEFAULT_ALERT_NAME, prom_duration, rules_document
from slo.wire import checks_of
from tests.rules_history import closed_form_gate, count_test, counters, promtool_test_rules

T0 = 1767225600  # 2026-01-01T00:00:00Z, a whole minute like promtool's own sample times
INSTANTS = [30, 62, 70, 77, 78, 79, 90, 94, 95, 96, 150, 300, 330, 360, 420, 480, 500, 540, 545, 560, 580, 600]


def _families(requests: list[float], errors: list[float]) -> list[Family]:
    stamps = np.arange(T0, T0 + 60 * len(requests), 60)
    return [
        Family("requests", "counter", series=[Series("requests_total", {}, stamps, np.array(requests))]),
        Family("errors", "counter", series=[Series("errors_total", {}, stamps, np.array(errors))]),
    ]


@pytest.mark.integration
def test_packet_and_alerts_agree(prometheus_binaries: None, tmp_path: Path) -> None:
    gate = closed_form_gate()
    requests, errors = counters()
    assert max(INSTANTS) <= len(requests) - 1
    loaded = [LoadedGate(gate, "closed-form.yaml", "0" * 64)]
    packets: dict[int, dict[str, object]] = {}
    with running_prometheus(_families(requests, errors)) as prometheus:
        for t in INSTANTS:
            options = CollectOptions(
                at=float(T0 + 60 * t),
                sources=[PrometheusSource(PrometheusClient(PrometheusConfig(url=prometheus.url)))],
                out_dir=tmp_path / "ev" / str(t),
            )
            outcome = collect(loaded, options, env={})
            [path] = outcome.written
            packets[t] = checks_of(json.loads(path.read_bytes()))[0]["slo"]

    tests: list[dict[str, object]] = []
    fired = {"page": 0, "ticket": 0}
    for t, slo in packets.items():
        for row in slo["windows"]:  # type: ignore[attr-defined]
            series = f"slo:sli_error:ratio_rate{prom_duration(parse_duration(row['window']))}"
            if row["error_ratio"] is None:
                tests.append(count_test(f"{series} == {series}", t, 0))
            else:
                tests.append(count_test(f"abs({series} - {row['error_ratio']!r}) < 1e-9", t, 1))
        for severity in ("page", "ticket"):
            holds = any(a["holds"] for a in slo["alerts"] if a["severity"] == severity)  # type: ignore[attr-defined]
            fired[severity] += holds
            alert = f'ALERTS{{alertname="{DEFAULT_ALERT_NAME}",alertstate="firing",sloth_severity="{severity}"}}'
            tests.append(count_test(alert, t, int(holds)))
    assert fired["page"] and fired["ticket"]  # the instants cover both alerts firing (and not firing)
    assert fired["page"] < len(INSTANTS) and fired["ticket"] < len(INSTANTS)

    done = promtool_test_rules(tmp_path, rules_document([gate]), tests)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

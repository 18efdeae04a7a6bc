"""End to end against a real Prometheus backfilled with history whose truth is known in closed form."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from collector.run import CollectOptions, GateRun, collect, evaluate_gate
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate
from slo.burnrate import WORKBOOK_CONDITIONS
from slo.durations import parse_duration
from slo.evidence import verify_bytes
from slo.loader import load_gates
from slo.results import Verdict
from slo.wire import checks_of
from tests import groundtruth as truth

pytestmark = pytest.mark.integration

BUDGET = 0.001
GATE = """
apiVersion: gatepack/v1
kind: Gate
id: foundation
title: Foundation truth
vars: {{service: {service}}}
checks:
  - id: availability
    kind: slo
    bad: sum(increase(http_requests_total{{service="{{{{ service }}}}",code="500"}}[{{{{ window }}}}]))
    total: sum(increase(http_requests_total{{service="{{{{ service }}}}"}}[{{{{ window }}}}]))
    objective: 99.9
    period: 30d
"""


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def run_gate(url: str, text: str, variables: dict[str, str] | None = None) -> tuple[GateRun, int]:
    gate = load_gates(text, "test.yaml")[0]

    async def go() -> tuple[GateRun, int]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            run = await evaluate_gate(gate, at=truth.END, variables=variables or {}, sources=[PrometheusSource(client)])
            return run, client.requests_sent

    return asyncio.run(go())


def expected_burn(service: str, window: str) -> float:
    seconds = parse_duration(window)
    ratio = truth.errors_in_window(service, seconds) / truth.requests_in_window(seconds)
    return ratio / BUDGET


@pytest.mark.parametrize(
    ("service", "verdict"),
    [("checkout", Verdict.FAIL), ("search", Verdict.PASS), ("billing", Verdict.WARN)],
)
def test_ratio_slo_matches_closed_form(prometheus, service, verdict):
    run, _ = run_gate(prometheus.url, GATE.format(service=service))
    result = run.results[0]
    slo = result.slo
    assert slo is not None

    period = parse_duration("30d")
    bad = truth.errors_in_window(service, period)
    total = truth.requests_in_window(period)
    assert slo.sli == pytest.approx((1 - bad / total) * 100, rel=1e-9)
    assert slo.error_budget.consumed == pytest.approx(bad / total / BUDGET, rel=1e-9)
    assert slo.error_budget.remaining == pytest.approx(1 - bad / total / BUDGET, rel=1e-9)
    assert slo.error_budget.total_events == pytest.approx(total)
    assert slo.error_budget.bad_events == pytest.approx(bad)
    assert slo.error_budget.allowed_bad_events == pytest.approx(total * BUDGET)
    assert slo.error_budget.remaining_events == pytest.approx(total * BUDGET - bad)

    rows = {row.window: row for row in slo.windows}
    assert set(rows) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
    for window, row in rows.items():
        assert row.burn_rate == pytest.approx(expected_burn(service, window), rel=1e-9), window

    for condition, alert in zip(WORKBOOK_CONDITIONS, slo.alerts, strict=True):
        factor = condition.budget_share * period / parse_duration(condition.long)
        assert alert.factor == pytest.approx(factor)
        holds = expected_burn(service, condition.long) > factor and expected_burn(service, condition.short) > factor
        assert alert.holds is holds, (condition, alert)
    assert result.verdict is verdict
    assert run.summary.verdict is verdict


def test_good_total_form_gives_the_same_sli(prometheus):
    text = GATE.format(service="checkout").replace(
        'bad: sum(increase(http_requests_total{service="{{ service }}",code="500"}',
        'good: sum(increase(http_requests_total{service="{{ service }}",code="200"}',
    )
    run, _ = run_gate(prometheus.url, text)
    bad = truth.errors_in_window("checkout", parse_duration("30d"))
    assert run.results[0].slo.sli == pytest.approx((1 - bad / truth.requests_in_window(parse_duration("30d"))) * 100)


def test_warn_budget_remaining(prometheus):
    text = GATE.format(service="search") + "    warn_budget_remaining: 0.6\n"
    run, _ = run_gate(prometheus.url, text)
    # search spends exactly half its budget: 0.5 remains, under the 0.6 floor
    assert run.results[0].slo.error_budget.remaining == pytest.approx(0.5)
    assert run.results[0].verdict is Verdict.WARN


THRESHOLDS = """
apiVersion: gatepack/v1
kind: Gate
id: latency
title: Latency
vars: {service: checkout}
checks:
  - id: p95
    kind: threshold
    query: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ service }}"}[5m])))
    op: "<"
    target: 0.3
    unit: s
  - id: p50
    kind: threshold
    query: histogram_quantile(0.50, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ service }}"}[5m])))
    op: "<"
    target: 0.1
    warn: 0.05
    unit: s
  - id: p99-same-query-as-p99-again
    kind: threshold
    query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ service }}"}[5m])))
    op: "<="
    target: 0.5
    unit: s
  - id: p99
    kind: threshold
    query: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ service }}"}[5m])))
    op: "<="
    target: 0.5
    unit: s
  - id: typo
    kind: threshold
    query: sum(rate(http_requests_total{service="chekout"}[5m]))
    op: ">"
    target: 0
  - id: typo-advisory
    kind: threshold
    required: false
    query: sum(rate(http_requests_total{service="chekout"}[5m]))
    op: ">"
    target: 0
  - id: many-series
    kind: threshold
    query: rate(http_requests_total[5m])
    op: ">"
    target: 0
    on_no_data: skip
  - id: invalid
    kind: threshold
    query: sum(rate(http_requests_total[5m])
    op: ">"
    target: 0
"""


def test_thresholds_faults_and_dedup(prometheus):
    run, requests = run_gate(prometheus.url, THRESHOLDS)
    by_id = {r.id: r for r in run.results}
    assert by_id["p95"].value == pytest.approx(truth.histogram_quantile(0.95))
    assert by_id["p95"].verdict is Verdict.FAIL
    assert "0.3889 s" in by_id["p95"].reason
    assert by_id["p50"].value == pytest.approx(truth.histogram_quantile(0.50))
    assert by_id["p50"].verdict is Verdict.WARN  # passes < 0.1 but not the 0.05 warning bound
    assert by_id["p99"].value == pytest.approx(truth.histogram_quantile(0.99))
    assert by_id["p99"].verdict is Verdict.PASS
    # a typo never passes: no_data, and it fails the gate unless advisory
    assert by_id["typo"].verdict is Verdict.NO_DATA
    assert 'service="chekout"' in by_id["typo"].reason
    assert by_id["typo"].effect.value == "fail"
    assert by_id["typo-advisory"].effect.value == "warn"
    assert by_id["many-series"].verdict is Verdict.ERROR
    assert "6 series" in by_id["many-series"].reason
    assert by_id["invalid"].verdict is Verdict.ERROR
    assert "not valid PromQL (unclosed left parenthesis)" in by_id["invalid"].reason  # found before sending
    assert run.summary.verdict is Verdict.FAIL
    # the p99 query appears twice in the spec but is sent once; typo twice, once; the invalid query is
    # refused before sending. Every selector is checked for series: one count() lookup for the histogram
    # (shared by p95, p50 and p99) and one for the typo, which names it; many-series failed, so none there
    assert requests == 7


def test_hostile_variable_cannot_change_the_query(prometheus):
    hostile = 'checkout"} or vector(1) or foo{x="'
    run, _ = run_gate(prometheus.url, THRESHOLDS, {"service": hostile})
    p95 = run.results[0]
    assert p95.verdict is Verdict.NO_DATA  # the whole value is one label value matching nothing
    assert 'service="checkout\\"} or vector(1) or foo{x=\\""' in p95.queries[0].query


def test_collect_writes_a_verifiable_packet(prometheus, tmp_path):
    text = GATE.format(service="search")
    spec = tmp_path / "gate.yaml"
    spec.write_text(text)
    gates = [LoadedGate(load_gates(text, str(spec))[0], str(spec), "0" * 64)]
    options = CollectOptions(
        at=truth.END,
        sources=[PrometheusSource(PrometheusClient(PrometheusConfig(url=prometheus.url)))],
        out_dir=tmp_path / "ev",
        commit="abc123",
        environment="staging",
    )
    outcome = collect(gates, options, env={"GITHUB_SHA": "ignored", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "7"})
    assert outcome.exit_code == 0
    [path] = outcome.written
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    data = path.read_bytes()
    assert verify_bytes(data).ok
    packet = json.loads(data)
    assert packet["subject"]["commit"] == "abc123"
    assert packet["subject"]["ci"]["provider"] == "github-actions"
    assert packet["evaluation"]["time"] == "2026-01-01T00:00:00Z"
    assert packet["verdict"] == "pass"
    queries = checks_of(packet)[0]["queries"]
    assert len(queries) == 16 and all(len(q["response_sha256"]) == 64 for q in queries)
    assert all(q["attempts"] == 1 and q["backend"] == prometheus.url for q in queries)
    tampered = data.replace(b'"verdict":"pass"', b'"verdict":"fail"')
    assert tampered != data and not verify_bytes(tampered).ok


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("service", "extra", "code"),
    [("checkout", [], 1), ("search", [], 0), ("billing", [], 0), ("billing", ["--fail-on", "warn"], 1)],
)
def test_cli_exit_codes(prometheus, tmp_path, service, extra, code):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE.format(service="search"))
    result = cli(
        "collect",
        str(spec),
        "-p",
        prometheus.url,
        "--at",
        "2026-01-01T00:00:00Z",
        "--var",
        f"service={service}",
        "--out",
        str(tmp_path / "ev"),
        "--format",
        "json",
        *extra,
    )
    assert result.returncode == code, result.stderr
    packet = json.loads(result.stdout)
    assert packet["evaluation"]["variables"] == {"service": service}
    written = list((tmp_path / "ev").glob("*.json"))
    assert cli("verify", str(written[0])).returncode == 0


def test_validate_asks_the_server_to_parse(prometheus, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(THRESHOLDS)
    result = cli("validate", str(spec), "-p", prometheus.url)
    assert result.returncode == 2
    assert "invalid" in result.stderr and "not valid PromQL" in result.stderr  # offline, before the server
    good = tmp_path / "good.yaml"
    good.write_text(GATE.format(service="x"))
    result = cli("validate", str(good), "-p", prometheus.url)
    assert result.returncode == 0, result.stderr
    assert "16 queries parsed" in result.stderr


def test_markdown_and_table_formats(prometheus, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(GATE.format(service="checkout"))
    result = cli(
        "collect",
        str(spec),
        "-p",
        prometheus.url,
        "--at",
        str(truth.END),
        "--out",
        str(tmp_path),
        "--format",
        "markdown",
    )
    assert result.returncode == 1
    assert "| availability | ❌ fail |" in result.stdout
    [written] = tmp_path.glob("foundation-*.json")
    assert verify_bytes(written.read_bytes()).ok

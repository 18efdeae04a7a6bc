"""``ai_cost`` with ``source: prometheus``: the GenAI token-usage histogram priced per model on a real Prometheus.

The series are written here with known per-minute token increments; the expected tokens and USD are
computed from those increments and the price table's own numbers, never from gatepack's output.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from collector.run import evaluate_gate
from collector.sources.prometheus.ai_cost import PrometheusCostSource
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.traces.pricing_file import load_pricing
from collector.testing.openmetrics import Family, Series
from slo.loader import load_gates
from slo.results import Verdict
from tests.test_traces_otlp import PRICE_YAML, generate

pytestmark = pytest.mark.integration

END = 1767225600  # 2026-01-01T00:00:00Z, as the trace tests
DAY = 86400
STAMPS = np.arange(END - 2 * DAY, END + 1, 60)
AGE = END - STAMPS
PRICES = {"gpt-4o": (2.5, 10.0), "claude-sonnet-4-5": (3.0, 15.0)}  # USD per 1M tokens, as PRICE_YAML says

# (job, request model, response model, token type) -> tokens per minute, before and within the last day
SERIES: dict[tuple[str, str, str, str], tuple[float, float]] = {
    ("agent", "gpt-4o", "gpt-4o-2024-08-06", "input"): (900.0, 1200.0),
    ("agent", "gpt-4o", "gpt-4o-2024-08-06", "output"): (100.0, 150.0),
    ("agent", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "input"): (0.0, 400.0),
    ("agent", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "output"): (0.0, 80.0),
    ("batch", "mystery-model", "mystery-model", "input"): (50.0, 50.0),  # another job: not priced unless selected
    ("batch", "mystery-model", "mystery-model", "output"): (5.0, 5.0),
}


def increments(key: tuple[str, str, str, str]) -> np.ndarray:
    before, recent = SERIES[key]
    step = np.where(AGE < DAY, recent, before)
    step[0] = 0.0  # the counter starts at 0 at the first sample
    return step


def families() -> list[Family]:
    family = Family("gen_ai_client_token_usage", "histogram", "OTel GenAI token usage")
    for key in SERIES:
        job, request, response, kind = key
        labels = {
            "job": job,
            "gen_ai_operation_name": "chat",
            "gen_ai_request_model": request,
            "gen_ai_response_model": response,
            "gen_ai_token_type": kind,
        }
        tokens = np.cumsum(increments(key))
        calls = np.arange(len(STAMPS), dtype=float)
        family.series.append(Series("gen_ai_client_token_usage_bucket", {**labels, "le": "+Inf"}, STAMPS, calls))
        family.series.append(Series("gen_ai_client_token_usage_sum", labels, STAMPS, tokens))
        family.series.append(Series("gen_ai_client_token_usage_count", labels, STAMPS, calls))
    return [family]


def tokens_in_last_day(job: str) -> dict[tuple[str, str], float]:
    """(request model, token type) -> tokens added in (END - 1d, END], from the increments written."""
    out: dict[tuple[str, str], float] = {}
    for key in SERIES:
        if key[0] == job:
            out[(key[1], key[3])] = float(increments(key)[AGE < DAY].sum())
    return out


def expected_cost(job: str = "agent") -> dict[str, float]:
    tokens = tokens_in_last_day(job)
    return {
        model: (tokens[(model, "input")] * p_in + tokens[(model, "output")] * p_out) / 1e6
        for model, (p_in, p_out) in PRICES.items()
    }


GATE = """
apiVersion: gatepack/v1
kind: Gate
id: ai-metrics
title: AI cost from the token-usage metric
vars: {agent_job: agent, tokens_metric: gen_ai_client_token_usage}
checks:
  - {id: cost-per-day, kind: ai_cost, source: prometheus, metric: "{{ tokens_metric }}", matchers: '{job="{{ agent_job }}"}', window: 1d, op: "<=", target: 50, unit: USD}
  - {id: cost-by-model, kind: ai_cost, source: prometheus, matchers: '{job="{{ agent_job }}"}', window: 1d, per: model, aggregate: max, op: "<=", target: 1}
  - {id: tokens-per-day, kind: ai_cost, source: prometheus, matchers: '{job="{{ agent_job }}"}', window: 1d, measure: tokens, op: "<=", target: 1e9}
  - {id: all-jobs, kind: ai_cost, source: prometheus, window: 1d, op: "<=", target: 50}
  - {id: typo, kind: ai_cost, source: prometheus, matchers: '{job="agnt"}', window: 1d, op: "<=", target: 50}
"""


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("genai-token-usage", families)


@pytest.fixture
def pricing(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(PRICE_YAML))
    return path


def evaluate(url: str, pricing_path, text: str = GATE, variables: dict[str, str] | None = None):
    table, pricing_input = load_pricing(pricing_path)

    async def go():
        source = PrometheusCostSource(PrometheusClient(PrometheusConfig(url=url)), table, pricing_input)
        try:
            return await evaluate_gate(
                load_gates(text, "g.yaml")[0], at=END, sources=[source], variables=variables or {}
            )
        finally:
            await source.aclose()

    return {r.id: r for r in asyncio.run(go()).results}


def test_tokens_priced_per_model_like_the_series_written(prometheus, pricing):
    results = evaluate(prometheus.url, pricing)
    cost = expected_cost()
    day = results["cost-per-day"]
    assert day.verdict is Verdict.PASS, day.reason
    assert day.value == pytest.approx(sum(cost.values()), rel=1e-9)
    assert day.unit == "USD"
    details = day.details
    assert details["cost_source"] == "prometheus" and details["price_table"] == "gatepack"
    tokens = tokens_in_last_day("agent")
    for model in PRICES:
        row = details["by_model"][model] if model in details["by_model"] else None
        # gpt-4o-2024-08-06 is not in the table: priced as the request model; claude matches the regex
        billed = row or details["by_model"][{"claude-sonnet-4-5": "claude-sonnet-4-5-20250929"}[model]]
        assert billed["input_tokens"] == pytest.approx(tokens[(model, "input")])
        assert billed["output_tokens"] == pytest.approx(tokens[(model, "output")])
        assert billed["cost"] == pytest.approx(cost[model], rel=1e-9)
    [query] = day.queries
    assert query.query == details["query"]
    assert query.query == (
        "sum by (gen_ai_request_model, gen_ai_response_model, gen_ai_token_type) "
        '(increase(gen_ai_client_token_usage_sum{job="agent"}[1d]))'
    )
    assert query.series == 4 and query.response_sha256 and query.backend == prometheus.url
    assert query.value == pytest.approx(sum(tokens.values()))

    by_model = results["cost-by-model"]
    assert by_model.value == pytest.approx(max(cost.values()), rel=1e-9)
    assert sorted(by_model.details["per_model"].values()) == pytest.approx(sorted(cost.values()), rel=1e-9)
    assert results["tokens-per-day"].value == pytest.approx(sum(tokens.values()))
    assert results["tokens-per-day"].unit == "tokens"


def test_a_model_missing_from_the_table_is_an_error_naming_it(prometheus, pricing):
    result = evaluate(prometheus.url, pricing)["all-jobs"]
    assert result.verdict is Verdict.ERROR
    unknown = tokens_in_last_day("batch")
    assert "mystery-model" in result.reason and "not priced as zero" in result.reason
    assert result.details["unpriced_models"] == {"mystery-model": pytest.approx(sum(unknown.values()))}


def test_no_matching_series_is_no_data_naming_the_selector(prometheus, pricing):
    result = evaluate(prometheus.url, pricing)["typo"]
    assert result.verdict is Verdict.NO_DATA
    assert 'gen_ai_client_token_usage_sum{job="agnt"}' in result.reason


def test_a_var_cannot_break_out_of_its_label_value(prometheus, pricing):
    result = evaluate(prometheus.url, pricing, variables={"agent_job": 'agent"} or vector(1e9) #'})["cost-per-day"]
    assert result.verdict is Verdict.NO_DATA  # the value stayed one (non-matching) label value
    assert '\\"} or vector(1e9) #' in result.queries[0].query


def test_over_budget_fails_with_the_number(prometheus, pricing):
    text = GATE.replace("target: 50, unit: USD}", "target: 0.01, unit: USD}", 1)
    result = evaluate(prometheus.url, pricing, text)["cost-per-day"]
    assert result.verdict is Verdict.FAIL
    assert result.value == pytest.approx(sum(expected_cost().values()), rel=1e-9)


MIXED = """
apiVersion: gatepack/v1
kind: Gate
id: mixed-cost
title: Cost from traces and from the metric in one packet
checks:
  - {id: cost-from-traces, kind: ai_cost, window: 24h, filter: {service: agent}, aggregate: sum, op: "<=", target: 100}
  - {id: cost-from-metric, kind: ai_cost, source: prometheus, matchers: '{job="agent"}', window: 1d, op: "<=", target: 100}
"""


def test_one_run_routes_each_cost_check_to_the_source_its_spec_names(prometheus, pricing, tmp_path):
    spans, spec = tmp_path / "spans.jsonl", tmp_path / "gate.yaml"
    record = generate(spans, runs=30)
    spec.write_text(MIXED)
    args = ["collect", str(spec), "-p", prometheus.url, "--at", str(END), "--out", str(tmp_path / "ev")]
    args += ["--traces", f"otlp:{spans}", "--pricing", str(pricing), "--output", "json"]
    ran = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    packet = json.loads(ran.stdout)
    checks = {c["id"]: c for c in packet["checks"]}
    assert checks["cost-from-metric"]["details"]["cost_source"] == "prometheus"
    assert checks["cost-from-metric"]["value"] == pytest.approx(sum(expected_cost().values()), rel=1e-9)
    assert checks["cost-from-traces"]["details"]["cost_source"].startswith("traces")
    assert checks["cost-from-traces"]["details"]["genai_calls"] == sum(
        1 for r in record if r["name"] == "chat" and r["kind"] == "client" and r["inside"] and r["service"] == "agent"
    )
    assert [i["role"] for i in packet["inputs"]].count("pricing") == 1  # the price table is recorded once
    assert [b["kind"] for b in packet["backends"]] == ["prometheus"]


def test_without_prometheus_the_metric_check_says_what_to_pass(pricing, tmp_path):
    spans, spec = tmp_path / "spans.jsonl", tmp_path / "gate.yaml"
    generate(spans, runs=5)
    spec.write_text(MIXED)
    args = ["collect", str(spec), "--at", str(END), "--out", str(tmp_path / "ev"), "--output", "json"]
    ran = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args, "--otlp", str(spans), "--pricing", str(pricing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    checks = {c["id"]: c for c in json.loads(ran.stdout)["checks"]}
    assert checks["cost-from-metric"]["verdict"] == "error"
    assert "--prometheus URL" in checks["cost-from-metric"]["reason"]
    assert checks["cost-from-traces"]["verdict"] == "pass"

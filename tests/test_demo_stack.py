"""The demo feeds Grafana: ``make demo`` writes dashboards and verdict metrics, ``demo --serve`` runs the rules.

Expected values come from elsewhere than the code under test: the dashboards must equal the shipped
``dashboards/`` files, the verdict metrics the packets on disk, the served rules the shipped
``deploy/rules/catalog.yml`` (which tests/test_dashboards_stack.py keeps equal to ``gatepack rules``),
and a recorded SLO series the value Prometheus computes from the rule's own expression at the same time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from slo.generate import names
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

SHIPPED_RULES = yaml.safe_load((ROOT / "deploy" / "rules" / "catalog.yml").read_text(encoding="utf-8"))


def test_make_demo_writes_dashboards_and_verdict_metrics_next_to_the_packets(prometheus_binaries, tmp_path):
    out = tmp_path / "evidence"
    ran = subprocess.run(
        [sys.executable, "-m", "collector.demo", "--scenario", "degraded", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "400"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    metrics_file = out / "degraded-verdicts.prom"
    assert str(metrics_file) in ran.stdout and f"{out / 'dashboards'}/" in ran.stdout, ran.stdout
    shipped = {p.name: p.read_bytes() for p in (ROOT / "dashboards").glob("*.json")}
    written = {p.name: p.read_bytes() for p in (out / "dashboards").glob("*.json")}
    assert written == shipped  # the demo world is the catalog: the same files `gatepack dashboards` ships
    packets = [json.loads(p.read_text()) for p in sorted((out / "degraded").glob("*.json"))]
    assert len(packets) >= 12
    samples = {
        (sample.name, sample.labels.get(names.VERDICT_GATE_LABEL), sample.labels.get(names.VERDICT_CHECK_LABEL)): sample.value
        for family in text_string_to_metric_families(metrics_file.read_text(encoding="utf-8"))
        for sample in family.samples
    }  # fmt: skip
    codes = {verdict.value: code for verdict, code in names.VERDICT_CODES.items()}
    for packet in packets:
        gate = packet["gate"]["id"]
        assert samples[(names.GATE_VERDICT, gate, None)] == codes[packet["verdict"]], gate
        for check in packet["checks"]:
            assert samples[(names.CHECK_VERDICT, gate, check["id"])] == codes[check["verdict"]], (gate, check["id"])
    assert {p["verdict"] for p in packets} != {"pass"}  # degraded: the gate board has something red to show


def expected_rules() -> dict[tuple[str, str, str], dict[str, str]]:
    """(group, kind, name) → labels of every rule in the shipped catalog rules file."""
    return {
        (group["name"], "recording" if "record" in rule else "alerting", rule.get("record") or rule["alert"]): {}
        for group in SHIPPED_RULES["groups"]
        for rule in group["rules"]
    }


def served_rules(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]


def wait_until_evaluated(url: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    """The rule groups once every rule was evaluated at least once (evaluation_interval is a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        groups = served_rules(url)
        rules = [rule for group in groups for rule in group["rules"]]
        if rules and all(rule["health"] != "unknown" for rule in rules):
            return groups
        assert time.monotonic() < deadline, "rules were not evaluated in time"
        time.sleep(1)


def instant(url: str, query: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": query} if at is None else {"query": query, "time": f"{at:.3f}"}
    body = httpx.get(f"{url}/api/v1/query", params=params, timeout=60).json()
    assert body["status"] == "success", (query, body)
    return body["data"]["result"]


def test_demo_serve_runs_the_generated_rules_healthy_with_slo_data(prometheus_binaries, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "demo", "--serve", "--attestations", str(tmp_path / "att.json"),
         "--traces", str(tmp_path / "traces.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        groups = wait_until_evaluated(url)
        listed = {
            (group["name"], rule["type"], rule["name"]): rule["health"] for group in groups for rule in group["rules"]
        }
        assert set(listed) == set(expected_rules())
        unhealthy = {key: health for key, health in listed.items() if health != "ok"}
        assert not unhealthy, unhealthy
        # an SLO recording rule has data, equal to its expression evaluated by Prometheus at the same instant
        slo_rules = [
            rule
            for group in SHIPPED_RULES["groups"]
            for rule in group["rules"]
            if rule.get("record") == "slo:sli_error:ratio_rate1h"
        ]
        assert slo_rules
        with_data = 0
        for rule in slo_rules:
            selector = ",".join(f'{k}="{v}"' for k, v in sorted(rule.get("labels", {}).items()))
            series = f"{rule['record']}{{{selector}}}"
            stamped = instant(url, f"timestamp({series})")
            if not stamped:
                continue
            with_data += 1
            at = float(stamped[0]["value"][1])  # the evaluation instant the rule recorded its sample at
            [sample] = instant(url, series, at=at)
            value = float(sample["value"][1])
            [again] = instant(url, rule["expr"], at=at)
            assert 0.0 <= value <= 1.0
            assert float(again["value"][1]) == pytest.approx(value, rel=1e-9, abs=1e-12)
        assert with_data >= len(slo_rules) // 2, f"only {with_data} of {len(slo_rules)} SLO rules have data"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err

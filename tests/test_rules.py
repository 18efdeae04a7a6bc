"""`gatepack rules`: windows shared with the packet, promtool-valid output, golden files, real Prometheus."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.catalog import load_catalog
from collector.testing.promserver import find_binary
from slo.durations import format_duration, parse_duration
from slo.evaluate import evaluate_slo
from slo.generate.rules import dump_yaml, prom_duration, prometheus_rule, rules_document
from slo.imports.sloth import import_sloth
from slo.promql.plan import plan_check
from slo.results import QueryOutcome
from slo.spec import Gate, SloCheck
from tests.rules_support import all_rules, load_yaml_all, prometheus_with_rules

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "rules"
GOLDEN_GATES = ["04-core-workflow", "11-ga-launch"]


def _gate(check: dict[str, Any]) -> Gate:
    base = {
        "id": "availability",
        "kind": "slo",
        "bad": 'sum(increase(http_requests_total{code=~"5.."}[{{ window }}]))',
        "total": "sum(increase(http_requests_total[{{ window }}]))",
        "objective": 99.9,
    }
    return Gate.model_validate(
        {"apiVersion": "gatepack/v1", "kind": "Gate", "id": "g", "title": "t", "checks": [{**base, **check}]}
    )


CUSTOM = [
    {"long": "30m", "short": "2m", "factor": 20, "severity": "page"},
    {"long": "12h", "short": "1h", "factor": 2.5, "severity": "ticket"},
]
WINDOW_CASES = {"1d": {"period": "1d"}, "7d": {"period": "7d"}, "28d": {"period": "28d"}, "30d": {"period": "30d"}}
WINDOW_CASES["custom"] = {"period": "30d", "alerting": CUSTOM}

_CONDITION = re.compile(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > \(([\d.e+-]+) \* ([\d.e+-]+)\)")


def _packet_windows_and_alerts(check: SloCheck) -> tuple[set[int], list[tuple[str, int, int, float]]]:
    """What the packet evaluation uses: the windows it queries and the alert conditions it reports."""
    planned = plan_check(check, {})
    outcomes = [
        QueryOutcome(role=p.role, window=p.window, query=p.query, status="ok", value=10.0 if p.role == "total" else 0)
        for p in planned
    ]
    result = evaluate_slo(check, outcomes, "2026-01-01T00:00:00Z")
    assert result.slo is not None
    windows = {parse_duration(p.window) for p in planned if p.window}
    alerts = [(a.severity, parse_duration(a.long), parse_duration(a.short), a.factor) for a in result.slo.alerts]
    return windows, alerts


@pytest.mark.parametrize("case", sorted(WINDOW_CASES))
def test_rule_windows_equal_packet_windows(case: str) -> None:
    gate = _gate(WINDOW_CASES[case])
    check = gate.checks[0]
    assert isinstance(check, SloCheck)
    packet_windows, packet_alerts = _packet_windows_and_alerts(check)
    rules = all_rules([rules_document([gate])])
    recorded = {parse_duration(r["labels"]["sloth_window"]) for r in rules if "sloth_window" in r.get("labels", {})}
    assert recorded == packet_windows
    assert parse_duration(check.period) in recorded
    rule_alerts: list[tuple[str, int, int, float]] = []
    for rule in rules:
        if "alert" not in rule:
            continue
        pairs = _CONDITION.findall(rule["expr"])
        assert len(pairs) % 2 == 0 and pairs
        for short, long in zip(pairs[::2], pairs[1::2], strict=True):
            assert short[1:] == long[1:]  # one factor and budget per condition
            assert float(short[2]) == pytest.approx(0.001)
            rule_alerts.append(
                (rule["labels"]["sloth_severity"], parse_duration(long[0]), parse_duration(short[0]), float(short[1]))
            )
    assert sorted(rule_alerts) == sorted(packet_alerts)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_prom_duration_round_trips(seconds: int) -> None:
    """Rule names use Prometheus' spelling (28d → 4w); it must denote the same span as the packet's."""
    assert parse_duration(prom_duration(seconds)) == seconds
    assert prom_duration(parse_duration(format_duration(seconds))) == prom_duration(seconds)


def test_prom_duration_matches_sloth_names() -> None:
    assert [prom_duration(parse_duration(d)) for d in ("30d", "28d", "7d", "1d", "3d", "6h", "5m")] == [
        "30d",
        "4w",
        "1w",
        "1d",
        "3d",
        "6h",
        "5m",
    ]


def test_threshold_checks_record_values_and_opt_in_alerts() -> None:
    gate = Gate.model_validate(
        {
            "apiVersion": "gatepack/v1",
            "kind": "Gate",
            "id": "g",
            "title": "t",
            "vars": {"job": "api"},
            "checks": [
                {"id": "p95", "kind": "threshold", "query": 'x{job="{{ job }}"}', "op": "<", "target": 0.5},
                {"id": "up", "kind": "threshold", "query": "up", "op": ">=", "target": 1, "alert": True, "for": "10m"},
            ],
        }
    )
    rules = all_rules([rules_document([gate])])
    values = [r for r in rules if r.get("record") == "gatepack:check_value"]
    assert [r["labels"]["gatepack_check"] for r in values] == ["p95", "up"]
    assert values[0]["expr"] == 'x{job="api"}'
    alerts = [r for r in rules if "alert" in r]
    assert len(alerts) == 1 and alerts[0]["for"] == "10m"
    assert alerts[0]["expr"] == 'gatepack:check_value{gatepack_gate="g", gatepack_check="up"} < 1'


def _promtool_check(text: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([find_binary("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _generated_files(fixtures: Path) -> dict[str, str]:
    """Rules files: the whole catalog and every importable Sloth example (each SLO once: several examples
    define the same SLO, and one Prometheus must not record the same series from two files)."""
    files = {"catalog": dump_yaml(rules_document([g.gate for g in load_catalog()]))}
    seen: set[str] = set()
    for spec in sorted((fixtures / "specs/sloth").glob("*.y*ml")):
        if ".gen." in spec.name:
            continue
        try:
            gates = [Gate.model_validate(g) for g in import_sloth(load_yaml_all(spec), spec.name)]
        except ValueError:
            continue  # unrepresentable inputs are tested in test_rules_sloth
        if seen & {g.id for g in gates}:
            continue
        seen.update(g.id for g in gates)
        files[f"sloth-{spec.stem}"] = dump_yaml(rules_document(gates))
    return files


def test_every_generated_file_passes_promtool(
    prometheus_binaries: None, contract_fixtures: Path, tmp_path: Path
) -> None:
    files = _generated_files(contract_fixtures)
    assert len(files) >= 5
    for name, text in files.items():
        _promtool_check(text, tmp_path, name)
    for path in sorted(GOLDEN.glob("*.yml")):
        _promtool_check(path.read_text(), tmp_path, f"golden-{path.stem}")


def test_prometheus_operator_format_holds_the_same_groups(prometheus_binaries: None, tmp_path: Path) -> None:
    document = rules_document([g.gate for g in load_catalog() if g.gate.id == "04-core-workflow"])
    resource = prometheus_rule(document, "gatepack-slos", "monitoring")
    assert resource["apiVersion"] == "monitoring.coreos.com/v1" and resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["namespace"] == "monitoring"
    _promtool_check(dump_yaml({"groups": yaml.safe_load(dump_yaml(resource))["spec"]["groups"]}), tmp_path, "cr")
    assert yaml.safe_load(dump_yaml(resource))["spec"]["groups"] == document["groups"]


@pytest.mark.parametrize("gate_id", GOLDEN_GATES)
def test_golden_rules_for_catalog_gates(gate_id: str, tmp_path: Path, golden: Callable[[str, str], None]) -> None:
    """What operators load: the CLI's output for two catalog gates, byte for byte."""
    out = tmp_path / "rules.yml"
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "rules", "--gate", gate_id, "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    golden(f"rules/{gate_id}.yml", out.read_text())


def test_cli_unknown_gate_is_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "rules", "--gate", "nope"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nope" in done.stderr


@pytest.mark.integration
def test_generated_rules_evaluate_in_a_real_prometheus(prometheus_binaries: None, contract_fixtures: Path) -> None:
    """Load every generated file as rule_files; every rule must report health ok."""
    files = _generated_files(contract_fixtures)
    with prometheus_with_rules(files) as (_, rules):
        expected = sum(len(all_rules([yaml.safe_load(t)])) for t in files.values())
        assert len(rules) == expected
        bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not bad, bad[:5]

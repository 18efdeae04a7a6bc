"""`gatepack import openslo`: schema validation, conversion, refusals naming the field, Sloth equivalence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo.imports.openslo import OpenSloError, import_openslo, validator
from slo.spec import Gate
from tests.rules_support import all_rules, generated_rules, load_yaml_all, rule_key, sloth_template
from tests.test_rules_sloth import compare_rule


@pytest.fixture(scope="module")
def schemas(contract_fixtures: Path) -> dict[str, Any]:
    found = {}
    for path in (contract_fixtures / "specs/openslo/schema").rglob("*.json"):
        data = json.loads(path.read_text())
        found[data["$id"]] = data
    return found


def _objects(path: Path) -> list[Any]:
    return load_yaml_all(path)


SLO_V1 = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "checkout-availability", "displayName": "Checkout availability"},
    "spec": {
        "service": "checkout",
        "indicatorRef": "checkout-ok",
        "timeWindow": [{"duration": "28d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": "ok", "target": 0.995}],
        "alertPolicies": ["fast-burn"],
    },
}
SLI_V1 = {
    "apiVersion": "openslo/v1",
    "kind": "SLI",
    "metadata": {"name": "checkout-ok"},
    "spec": {
        "ratioMetric": {
            "counter": True,
            "good": {"metricSource": {"metricSourceRef": "prom"}},
            "total": {"metricSource": {"type": "Prometheus", "spec": {"query": 'http_requests_total{job="checkout"}'}}},
        }
    },
}
SLI_V1["spec"]["ratioMetric"]["good"]["metricSource"]["spec"] = {  # type: ignore[index]
    "query": 'http_requests_total{job="checkout",code!~"5.."}'
}
SOURCE_V1 = {
    "apiVersion": "openslo/v1",
    "kind": "DataSource",
    "metadata": {"name": "prom"},
    "spec": {"type": "Prometheus", "connectionDetails": {"url": "http://prometheus:9090"}},
}
POLICY_V1 = {
    "apiVersion": "openslo/v1",
    "kind": "AlertPolicy",
    "metadata": {"name": "fast-burn"},
    "spec": {
        "alertWhenNoData": False,
        "alertWhenBreaching": True,
        "alertWhenResolved": False,
        "conditions": [{"conditionRef": "burn-14"}],
        "notificationTargets": [{"targetRef": "oncall"}],
    },
}
CONDITION_V1 = {
    "apiVersion": "openslo/v1",
    "kind": "AlertCondition",
    "metadata": {"name": "burn-14"},
    "spec": {
        "severity": "page",
        "condition": {"kind": "burnrate", "op": "gt", "threshold": 14.4, "lookbackWindow": "1h", "alertAfter": "5m"},
    },
}


def _doc(**changes: Any) -> list[Any]:
    slo = json.loads(json.dumps(SLO_V1))
    slo["spec"].update(changes)
    return [slo, SLI_V1, SOURCE_V1, POLICY_V1, CONDITION_V1]


def test_schema_accepts_its_valid_cases_and_rejects_its_invalid_ones(
    contract_fixtures: Path, schemas: dict[str, Any]
) -> None:
    check = validator(schemas)
    cases = contract_fixtures / "specs/openslo/schema-cases"
    valid = sorted((cases / "valid").glob("*.yaml"))
    invalid = sorted((cases / "invalid").glob("*.yaml"))
    assert len(valid) >= 8 and len(invalid) >= 4
    for path in valid:
        for obj in _objects(path):
            plain = json.loads(json.dumps(obj, default=str))
            assert not list(check.iter_errors(plain)), path.name
    for path in invalid:
        with pytest.raises(OpenSloError, match="OpenSLO v1 schema"):
            import_openslo(_objects(path), path.name, schemas)


def test_v1_ratio_slo_with_refs_and_alert_policy(schemas: dict[str, Any]) -> None:
    (gate_doc,) = import_openslo(_doc(), "f.yaml", schemas)
    gate = Gate.model_validate(gate_doc)
    (check,) = gate.checks
    assert check.kind == "slo" and check.objective == pytest.approx(99.5) and check.period == "28d"
    assert check.good == 'sum(increase(http_requests_total{job="checkout",code!~"5.."}[{{ window }}]))'
    assert check.total == 'sum(increase(http_requests_total{job="checkout"}[{{ window }}]))'
    assert check.alerting is not None
    assert [(c.long, c.short, c.factor, c.severity.value) for c in check.alerting] == [("1h", "5m", 14.4, "page")]
    rules = generated_rules([gate])
    assert any(r.get("record") == "slo:sli_error:ratio_rate4w" for r in rules)


def test_v1_threshold_metric_counts_occurrences(schemas: dict[str, Any]) -> None:
    sli = {
        "apiVersion": "openslo/v1",
        "kind": "SLI",
        "metadata": {"name": "latency"},
        "spec": {"thresholdMetric": {"metricSource": {"type": "Prometheus", "spec": {"query": "p95_latency_ms"}}}},
    }
    slo = json.loads(json.dumps(SLO_V1))
    slo["spec"].update(indicatorRef="latency", objectives=[{"target": 0.99, "op": "lt", "value": 500}])
    del slo["spec"]["alertPolicies"]
    (gate_doc,) = import_openslo([slo, sli], "f.yaml", schemas)
    check = Gate.model_validate(gate_doc).checks[0]
    assert check.good == "sum(count_over_time(((p95_latency_ms) < 500.0)[{{ window }}:]))"
    assert "subquery" in (check.description or "")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "budgetingMethod": "Timeslices",
                "objectives": [{"target": 0.995, "timeSliceTarget": 0.9, "timeSliceWindow": "1m"}],
            },
            "spec.budgetingMethod: Timeslices",
        ),
        ({"budgetingMethod": "Timeslices"}, r"spec.objectives\[0\]: 'timeSliceWindow' is a required property"),
        ({"timeWindow": [{"duration": "1M", "isRolling": True}]}, "timeWindow[0].duration"),
        (
            {"timeWindow": [{"duration": "1w", "calendar": {"startTime": "2022-01-01 00:00:00", "timeZone": "UTC"}}]},
            "timeWindow[0].calendar",
        ),
        ({"indicatorRef": "missing-sli"}, "spec.indicatorRef"),
        ({"alertPolicies": ["no-such-policy"]}, "alertPolicies[0]"),
    ],
)
def test_unrepresentable_v1_input_names_the_field(schemas: dict[str, Any], changes: dict[str, Any], field: str) -> None:
    pattern = field if "\\[" in field else field.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(OpenSloError, match=pattern):
        import_openslo(_doc(**changes), "f.yaml", schemas)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("budgeting-timeslices-slo.yaml", "OpenSLO v1 schema"),
        ("schema-cases/valid/slo-no-indicatorref-calendar-alerts.yaml", "timeWindow[0].calendar"),
        ("alert-condition.yaml", "spec.condition: 'op' is a required property"),
        ("validate-v2alpha.yaml", "only openslo/v1 is imported"),
        ("invalid-unknown-field.yaml", "OpenSLO v1 schema"),
    ],
)
def test_real_openslo_files_are_refused_with_the_field(
    contract_fixtures: Path, schemas: dict[str, Any], name: str, field: str
) -> None:
    with pytest.raises(OpenSloError, match=field.replace("[", r"\[").replace("]", r"\]")):
        import_openslo(_objects(contract_fixtures / "specs/openslo" / name), name, schemas)


def test_non_prometheus_source_names_the_field(contract_fixtures: Path, schemas: dict[str, Any]) -> None:
    sli = _objects(
        contract_fixtures / "specs/openslo/schema-cases/valid/sli-description-ratio-good-inline-metricsource.yaml"
    )
    slo = json.loads(json.dumps(SLO_V1))
    slo["spec"]["indicatorRef"] = "great-sli"
    del slo["spec"]["alertPolicies"]
    with pytest.raises(OpenSloError, match=r"ratioMetric\.good\.metricSource\.type: only Prometheus"):
        import_openslo([slo, *sli], "f.yaml", schemas)


def test_burnrate_condition_with_lte_is_refused(schemas: dict[str, Any]) -> None:
    docs = _doc()
    docs[4] = json.loads(json.dumps(CONDITION_V1))
    docs[4]["spec"]["condition"]["op"] = "lte"
    with pytest.raises(OpenSloError, match=r"condition\.op"):
        import_openslo(docs, "f.yaml", schemas)


V1ALPHA_CASES = [
    ("sloth/openslo-getting-started.yml", "sloth/openslo-getting-started.gen.yml"),
    ("sloth/openslo-kubernetes-apiserver.yml", "sloth/openslo-kubernetes-apiserver.gen.yml"),
    ("sloth/golden/in-openslo.yaml", "sloth/golden/out-openslo.yaml.tpl"),
]


@pytest.mark.parametrize(("spec", "output"), V1ALPHA_CASES, ids=[c[0] for c in V1ALPHA_CASES])
def test_v1alpha_as_sloth_reads_it_gives_sloths_rules(
    contract_fixtures: Path, schemas: dict[str, Any], spec: str, output: str
) -> None:
    root = contract_fixtures / "specs"
    gates = [Gate.model_validate(g) for g in import_openslo(load_yaml_all(root / spec), spec, schemas)]
    ours = {rule_key(r): r for r in generated_rules(gates)}
    out = root / output
    theirs = all_rules(sloth_template(out) if out.name.endswith(".tpl") else load_yaml_all(out))
    assert theirs and len(ours) == len(theirs)
    for rule in theirs:
        compare_rule(rule, ours[rule_key(rule)], gates)


def test_cli_openslo_exit_codes(contract_fixtures: Path, tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(yaml.safe_dump_all(_doc()))
    schema_dir = contract_fixtures / "specs/openslo/schema"
    run = [sys.executable, "-m", "collector.cli", "import", "openslo"]
    done = subprocess.run([*run, str(path), "--schema-dir", str(schema_dir)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Gate.model_validate(yaml.safe_load(done.stdout.split("\n", 1)[1])).id == "checkout-checkout-availability"
    bad = contract_fixtures / "specs/openslo/alert-policy.yaml"
    done = subprocess.run([*run, str(bad), "--schema-dir", str(schema_dir)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "targetRef" in done.stderr and "[a-z0-9]" in done.stderr  # the schema's pattern, not eaten as markup
    assert len(done.stderr.strip().splitlines()) == 1
    done = subprocess.run([*run, str(path)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "--schema-dir" in done.stderr


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(_json | st.fixed_dictionaries({"apiVersion": st.just("openslo/v1"), "kind": st.just("SLO")}), max_size=3)
)
def test_arbitrary_input_is_refused_cleanly_or_imported(schemas: dict[str, Any], documents: list[Any]) -> None:
    """Whatever YAML holds, the importer answers with gates or one OpenSloError, never another exception."""
    try:
        gates = import_openslo(documents, "fuzz.yaml", schemas)
    except OpenSloError:
        return
    for gate in gates:
        Gate.model_validate(gate)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.floats(min_value=0.5, max_value=0.9999),
    days=st.sampled_from([1, 7, 14, 28, 30]),
    threshold=st.floats(min_value=1.0, max_value=50.0),
)
def test_valid_v1_specs_always_import(schemas: dict[str, Any], target: float, days: int, threshold: float) -> None:
    docs = _doc(objectives=[{"target": target}], timeWindow=[{"duration": f"{days}d", "isRolling": True}])
    docs[4] = json.loads(json.dumps(CONDITION_V1))
    docs[4]["spec"]["condition"]["threshold"] = threshold
    (gate_doc,) = import_openslo(docs, "f.yaml", schemas)
    check = Gate.model_validate(gate_doc).checks[0]
    assert check.objective == pytest.approx(target * 100)
    assert check.alerting is not None and check.alerting[0].factor == pytest.approx(threshold)

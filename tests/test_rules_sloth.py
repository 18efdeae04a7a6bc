"""`gatepack import sloth` + `gatepack rules` against Sloth's own generated rules (real Sloth outputs).

Every recording series and alert Sloth generates must exist in ours with an equivalent expression (both
parsed by the PromQL parser and compared as canonical trees) and the same labels, except for the
differences listed in INTENTIONAL_DIFFERENCES, each checked in its own way below.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo.imports.sloth import ImportError_, import_sloth
from tests.rules_support import (
    all_rules,
    gates_from_sloth,
    generated_rules,
    load_yaml_all,
    rule_key,
    same_promql,
    sloth_template,
)

INTENTIONAL_DIFFERENCES = {
    "period ratio": (
        "slo:sli_error:ratio_rate<period> is computed from the event queries over the whole period, exactly as "
        "the packet computes its period SLI; Sloth averages the 5m ratios (sum_over_time/count_over_time), which "
        "weighs a quiet 5 minutes like a busy one and would make the packet and the budget rules disagree"
    ),
    "error budget literal": (
        "slo:error_budget:ratio is written as the number the packet uses (1 - objective, rounded to 12 digits: "
        "0.001), Sloth writes vector(1-0.9990000000000001); the values are compared numerically"
    ),
    "float noise": "numbers in expressions (factors, budgets) are compared with a relative tolerance of 1e-9",
    "extra labels": "every rule also carries gatepack_gate and gatepack_check (Sloth's labels are all kept)",
    "extra annotations": "alerts also carry runbook_url, gate, check, windows and factors annotations",
    "info labels": "sloth_slo_info says sloth_mode=gatepack, sloth_spec=gatepack/v1 and gatepack's version",
}
IGNORED_SLOTH_LABELS = {"cmd", "sloth_version", "sloth_mode", "sloth_spec"}
OUR_EXTRA_LABELS = {"gatepack_gate", "gatepack_check"}

# (Sloth spec, Sloth's output, import options, SLO names to leave out because they cannot be imported)
CASES: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("sloth/getting-started.yml", "sloth/getting-started.gen.yml", {}, set()),
    ("sloth/slo-plugin-getting-started.yml", "sloth/slo-plugin-getting-started.gen.yml", {}, set()),
    ("sloth/home-wifi.yml", "sloth/home-wifi.gen.yml", {}, set()),
    ("sloth/kubernetes-apiserver.yml", "sloth/kubernetes-apiserver.gen.yml", {}, set()),
    ("sloth/multifile.yml", "sloth/multifile.gen.yml", {}, set()),
    ("sloth/no-alerts.yml", "sloth/no-alerts.gen.yml", {}, set()),
    ("sloth/k8s-getting-started.yml", "sloth/k8s-getting-started.gen.yml", {}, set()),
    ("sloth/golden/in-base.yaml", "sloth/golden/out-base.yaml.tpl", {}, {"slo02"}),
    ("sloth/golden/in-base.yaml", "sloth/golden/out-base-28d.yaml.tpl", {"period": "28d"}, {"slo02"}),
    (
        "sloth/golden/in-base.yaml",
        "sloth/golden/out-base-custom-windows-7d.yaml.tpl",
        {"period": "7d", "windows": "sloth/golden/windows/7d.yaml"},
        {"slo02"},
    ),
]


def _drop_slos(docs: list[Any], names: set[str]) -> list[Any]:
    """The input without SLOs that cannot be imported (``raw`` SLIs; see test_raw_sli_is_refused)."""
    kept = []
    for doc in docs:
        spec = doc["spec"] if doc.get("kind") == "PrometheusServiceLevel" else doc
        spec = {**spec, "slos": [s for s in spec["slos"] if s["name"] not in names]}
        kept.append({**doc, "spec": spec} if doc.get("kind") == "PrometheusServiceLevel" else spec)
    return kept


def _expected(path: Path) -> list[Any]:
    return sloth_template(path) if path.name.endswith(".tpl") else load_yaml_all(path)


@pytest.mark.parametrize(("spec", "output", "options", "skip"), CASES, ids=[c[1].split("/")[-1] for c in CASES])
def test_same_rules_as_sloth(
    contract_fixtures: Path, spec: str, output: str, options: dict[str, Any], skip: set[str]
) -> None:
    root = contract_fixtures / "specs"
    kwargs: dict[str, Any] = {}
    if "period" in options:
        kwargs["period"] = options["period"]
    if "windows" in options:
        kwargs["windows_doc"] = load_yaml_all(root / options["windows"])[0]
    gates = gates_from_sloth(_drop_slos(load_yaml_all(root / spec), skip), spec, **kwargs)
    ours = {rule_key(r): r for r in generated_rules(gates)}
    theirs = [r for r in all_rules(_expected(root / output)) if r["labels"].get("sloth_slo") not in skip]
    assert theirs, "no Sloth rules to compare with"
    assert len(ours) == len(theirs), sorted(set(ours) ^ {rule_key(r) for r in theirs})
    compared = 0
    for rule in theirs:
        key = rule_key(rule)
        assert key in ours, f"missing {key}"
        mine = ours[key]
        compare_rule(rule, mine, gates)
        compared += 1
    assert compared == len(theirs)


def compare_rule(theirs: dict[str, Any], mine: dict[str, Any], gates: list[Any]) -> None:
    name = theirs.get("record") or theirs["alert"]
    labels_theirs = {k: str(v) for k, v in theirs["labels"].items() if k not in IGNORED_SLOTH_LABELS}
    labels_mine = {k: v for k, v in mine["labels"].items() if k not in OUR_EXTRA_LABELS | IGNORED_SLOTH_LABELS}
    assert labels_mine == labels_theirs, name
    assert mine["labels"]["gatepack_check"] == theirs["labels"].get("sloth_slo", mine["labels"]["gatepack_check"])
    if "alert" in theirs:
        assert mine["alert"] == theirs["alert"]
        annotations = mine["annotations"]
        assert {k: annotations[k] for k in theirs["annotations"]} == theirs["annotations"]
        assert {"runbook_url", "gate", "check", "windows", "factors"} <= set(annotations)
        assert same_promql(mine["expr"], theirs["expr"]), (mine["expr"], theirs["expr"])
        return
    if name == "slo:error_budget:ratio":  # "error budget literal"
        sloth_value = float(theirs["expr"].removeprefix("vector(1-").removesuffix(")"))
        ours_value = float(mine["expr"].removeprefix("vector(").removesuffix(")"))
        assert abs((1 - sloth_value) - ours_value) < 1e-12
        return
    if name.startswith("slo:sli_error:ratio_rate") and "sum_over_time" in theirs["expr"]:  # "period ratio"
        check = next(c for g in gates for c in g.checks if c.id == theirs["labels"]["sloth_slo"])
        window = theirs["labels"]["sloth_window"]
        assert "slo:sli_error" not in mine["expr"]
        total = check.total.replace("{{ window }}", window)
        if check.bad is not None:
            expected = f"({check.bad.replace('{{ window }}', window)})/({total})"
        else:
            expected = f"(1 - (({check.good.replace('{{ window }}', window)})/({total})))"
        assert same_promql(mine["expr"], expected)
        return
    assert same_promql(mine["expr"], theirs["expr"]), (name, mine["expr"], theirs["expr"])


def test_intentional_differences_are_each_explained() -> None:
    assert all(len(why) > 40 for why in INTENTIONAL_DIFFERENCES.values())


def test_imported_spec_carries_sloths_windows(contract_fixtures: Path) -> None:
    """28d: Sloth's factors 13.44/5.6/2.8/0.933 (share × period ÷ long) as explicit alerting."""
    gates = gates_from_sloth(load_yaml_all(contract_fixtures / "specs/sloth/getting-started.yml"), "x", period="28d")
    alerting = gates[0].checks[0].alerting
    assert alerting is not None
    expected = [(0.02, "1h", "5m"), (0.05, "6h", "30m"), (0.10, "1d", "2h"), (0.10, "3d", "6h")]
    hours = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}
    for condition, (share, long, short) in zip(alerting, expected, strict=True):
        assert (condition.long, condition.short) == (long, short)
        assert condition.factor == pytest.approx(share * 28 * 24 / hours[long])


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("raw-home-wifi.yml", "slos[0].sli.raw"),
        ("plugin-getting-started.yml", "slos[0].sli.plugin"),
        ("contrib-slo-plugins.yml", "plugins.chain[0].id"),
        ("contrib-denominator-corrected.yaml", "plugins.chain[0].id"),
        ("openslo-getting-started.yml", "not a Sloth spec"),
    ],
)
def test_unrepresentable_sloth_input_is_an_error_naming_the_field(
    contract_fixtures: Path, name: str, field: str
) -> None:
    with pytest.raises(ImportError_, match=field.replace("[", r"\[").replace("]", r"\]")):
        import_sloth(load_yaml_all(contract_fixtures / "specs/sloth" / name), name)


def test_period_without_sloth_windows_is_refused(contract_fixtures: Path) -> None:
    with pytest.raises(ImportError_, match="period 7d"):
        import_sloth(load_yaml_all(contract_fixtures / "specs/sloth/getting-started.yml"), "x", period="7d")


def test_cli_import_then_rules_round_trip(contract_fixtures: Path, tmp_path: Path) -> None:
    """The commands a user runs: import a multi-document Sloth file, generate rules, both exit 0."""
    spec = tmp_path / "gates.yaml"
    rules = tmp_path / "rules.yml"
    source = contract_fixtures / "specs/sloth/multifile.yml"
    run = [sys.executable, "-m", "collector.cli"]
    done = subprocess.run([*run, "import", "sloth", str(source), "-o", str(spec)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*run, "rules", str(spec), "-o", str(rules)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = all_rules(load_yaml_all(contract_fixtures / "specs/sloth/multifile.gen.yml"))
    assert len(all_rules([yaml.safe_load(rules.read_text())])) == len(expected)


def test_cli_bad_sloth_input_is_one_line_exit_2(contract_fixtures: Path, tmp_path: Path) -> None:
    source = contract_fixtures / "specs/sloth/raw-home-wifi.yml"
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "import", "sloth", str(source)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "sli.raw" in done.stderr and "raw-home-wifi.yml" in done.stderr

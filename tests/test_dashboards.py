"""The shipped Grafana dashboards: regenerated from the catalog, schema-valid, and every query runs.

Without a Grafana server (none is installable here) the dashboards are checked three ways: against
the strict dashboard JSON Schemas Grafana's ``cog`` generates (``../shared/fixtures/dashboards``),
against the spec they came from (windows, factors, targets, variables, units), and by executing
every panel query, with Grafana's variables and macros substituted, on a real Prometheus holding the
demo world plus the SLO recording rules' series backfilled with ``promtool``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jsonschema
import pytest
import yaml

from collector.catalog import load_catalog
from collector.testing.promserver import find_binary, start_prometheus
from slo.burnrate import windows_to_query
from slo.generate import names
from slo.generate.dashboards import (
    OVERVIEW_FILE,
    dashboard_filename,
    dashboard_files,
    encode,
    gate_dashboard,
    gate_uid,
    used_placeholders,
)
from slo.loader import load_gates
from slo.promql.plan import conditions_for, plan_check
from slo.spec import Gate, SloCheck, ThresholdCheck
from tests.conftest import ROOT
from tests.test_catalog_world import END, families

SHIPPED = ROOT / "dashboards"
GATES = [g.gate for g in load_catalog()]
# Grafana's macros, as Grafana would expand them on a 24-hour dashboard with a 1-minute scrape interval
MACROS = {"__rate_interval": "4m", "__interval": "1m", "__range": "1d", "__range_s": "86400", "datasource": "prom"}

USER_SPEC = """
apiVersion: gatepack/v1
kind: Gate
id: checkout.v2
title: Checkout
vars: {job: checkout, budget_metric: ai_cost_usd_total}
checks:
  - id: checkout-success
    kind: slo
    description: Orders that complete.
    good: sum(increase(http_requests_total{job="{{ job }}",code!~"5.."}[{{ window }}]))
    total: sum(increase(http_requests_total{job="{{ job }}"}[{{ window }}]))
    objective: 99.5
    period: 7d
    warn_budget_remaining: 0.4
    alerting:
      - {long: 1h, short: 5m, factor: 10, severity: page}
      - {long: 1d, short: 2h, factor: 2, severity: ticket}
  - id: daily-cost
    kind: threshold
    query: sum(increase({{ budget_metric }}[1d]))
    op: "<"
    target: 100
    warn: 80
    unit: USD
  - id: min-replicas
    kind: threshold
    query: min(kube_deployment_status_replicas_available{deployment="{{ job }}"})
    op: ">="
    target: 2
    warn: 3
  - id: runbook
    kind: attestation
    item: runbook
"""


def user_gate() -> Gate:
    return load_gates(USER_SPEC, "user.yaml")[0]


@cache
def shipped() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SHIPPED.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def sections(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title → the panels below it."""
    result: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            result[current] = []
        else:
            result.setdefault(current, []).append(panel)
    return result


# -- shipped files ---------------------------------------------------------------------------------


def test_shipped_dashboards_are_what_the_cli_generates_from_the_catalog(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "dashboards", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    generated = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    on_disk = {p.name: p.read_bytes() for p in SHIPPED.iterdir()}
    expected_names = {f"{g.id}.json" for g in load_catalog_gates()} | {OVERVIEW_FILE}
    assert set(generated) == expected_names
    assert set(on_disk) == expected_names, "dashboards/ must hold exactly one file per catalog gate + the board"
    stale = [name for name in expected_names if generated[name] != on_disk[name]]
    assert not stale, f"shipped dashboards differ from the generator: {stale} (run `gatepack dashboards -o dashboards`)"


def load_catalog_gates() -> list[Gate]:
    return GATES


def test_generation_is_byte_reproducible():
    assert dashboard_files(GATES) == dashboard_files(GATES)


def test_golden_user_dashboard(golden):
    golden("dashboard-checkout.v2.json", encode(gate_dashboard(user_gate())).decode("utf-8"))


# -- schema ------------------------------------------------------------------------------------------


def _schema(root: Path, name: str, definition: str | None = None) -> dict[str, Any]:
    document = json.loads((root / f"{name}.jsonschema.json").read_text(encoding="utf-8"))
    if definition is None:
        return document
    return {
        "$schema": document["$schema"],
        "$ref": f"#/definitions/{definition}",
        "definitions": document["definitions"],
    }


def schema_problems(root: Path, dashboard: dict[str, Any]) -> list[str]:
    """Strict validation: the dashboard model, each panel's plugin options/field config, each target."""

    def where(error: jsonschema.ValidationError) -> str:
        return "/".join(str(p) for p in error.absolute_path)

    problems = [
        f"{where(e)}: {e.message[:160]}"
        for e in jsonschema.Draft7Validator(_schema(root, "dashboard")).iter_errors(dashboard)
    ]
    target_schema = jsonschema.Draft7Validator(_schema(root, "prometheus"))
    for panel in panels(dashboard):
        plugin = panel["type"].replace("-", "")
        options = jsonschema.Draft7Validator(_schema(root, plugin, "Options"))
        problems += [
            f"panel {panel['id']} options {where(e)}: {e.message[:160]}"
            for e in options.iter_errors(panel.get("options"))
        ]
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None:
            field = jsonschema.Draft7Validator(_schema(root, plugin, "FieldConfig"))
            problems += [f"panel {panel['id']} custom: {e.message[:160]}" for e in field.iter_errors(custom)]
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        for target in panel["targets"]:
            problems += [f"panel {panel['id']} target: {e.message[:160]}" for e in target_schema.iter_errors(target)]
        if unit is not None:
            problems += [f"panel {panel['id']}: unknown unit {unit}"] if unit not in unit_ids(root) else []
    return problems


@cache
def unit_ids(root: Path) -> frozenset[str]:
    text = (root / "units.jsonschema.json").read_text(encoding="utf-8")
    return frozenset(re.findall(r'"const":\s*"([^"]+)"', text))


@pytest.fixture(scope="module")
def schemas(contract_fixtures: Path) -> Path:
    return contract_fixtures / "dashboards" / "grafana-foundation-sdk-jsonschema"


@pytest.mark.parametrize("name", sorted(p.name for p in SHIPPED.glob("*.json")))
def test_every_shipped_dashboard_passes_the_strict_schema(schemas, name):
    assert schema_problems(schemas, shipped()[name]) == []


def test_the_validator_rejects_what_grafana_would_not_load(schemas, contract_fixtures):
    broken = json.loads(json.dumps(shipped()["04-core-workflow.json"]))
    del broken["schemaVersion"]
    broken["panels"][1]["gridPos"]["w"] = "wide"
    broken["panels"][2]["options"]["colorMode"] = "rainbow"
    problems = schema_problems(schemas, broken)
    assert any("schemaVersion" in p for p in problems)
    assert any("colorMode" in p or "rainbow" in p for p in problems)
    pyrra = json.loads((contract_fixtures / "dashboards" / "pyrra" / "detail.json").read_text())
    assert schema_problems(schemas, pyrra)  # hand-made dashboards miss fields the strict schema requires


# -- model: what each dashboard promises ------------------------------------------------------------


@pytest.mark.parametrize("gate", GATES, ids=lambda g: g.id)
def test_gate_dashboard_model(gate):
    board = shipped()[dashboard_filename(gate.id)]
    assert board["schemaVersion"] >= 39
    assert board["uid"] == gate_uid(gate.id) and len(board["uid"]) <= 40
    assert re.fullmatch(r"[A-Za-z0-9_-]+", board["uid"])
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    spec_vars = {name for check in gate.checks for name in _placeholders(check)} - {"window"}
    assert set(variables) - {"datasource"} == spec_vars
    for name in spec_vars:
        assert variables[name]["type"] == "textbox" and variables[name]["query"] == gate.vars[name]
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
    ids = [p["id"] for p in board["panels"]]
    assert ids == list(range(1, len(ids) + 1))


def _placeholders(check) -> set[str]:
    texts = [getattr(check, a, None) for a in ("query", "good", "bad", "total")]
    return {m for t in texts if t for m in re.findall(r"\{\{\s*(\w+)\s*\}\}", t)}


def test_uids_are_stable_unique_and_short():
    assert len({gate_uid(g.id) for g in GATES}) == len(GATES)
    long_a, long_b = "x" * 60 + "-payments", "x" * 60 + "-checkout"
    assert gate_uid(long_a) != gate_uid(long_b)
    assert max(len(gate_uid(long_a)), len(gate_uid(long_b)), len(gate_uid("a.b"))) <= 40
    assert gate_uid("04-core-workflow") == "gatepack-04-core-workflow"
    assert gate_uid("a.b") != gate_uid("a-b")  # a dot is not silently merged with a dash


def test_units_cover_seconds_ratios_and_money():
    units = {p.get("fieldConfig", {}).get("defaults", {}).get("unit") for b in shipped().values() for p in panels(b)}
    assert {"s", "percentunit", "currencyUSD"} <= units
    cost = next(p for p in panels(shipped()["06-ai-action.json"]) if "cost" in p["title"].lower())
    assert cost["fieldConfig"]["defaults"]["unit"] == "currencyUSD"


def _slo_section(board: dict[str, Any], check: SloCheck) -> list[dict[str, Any]]:
    return next(v for k, v in sections(board).items() if k.startswith(f"SLO {check.id}:"))


def slo_checks() -> list[tuple[Gate, SloCheck]]:
    return [(g, c) for g in GATES for c in g.checks if isinstance(c, SloCheck)]


@pytest.mark.parametrize(("gate", "check"), slo_checks(), ids=lambda x: getattr(x, "id", ""))
def test_slo_panels_follow_the_burn_rate_plan(gate, check):
    section = _slo_section(shipped()[dashboard_filename(gate.id)], check)
    by_title = {p["title"]: p for p in section}
    burn = by_title["Burn rate per window"]
    windows = [t["legendFormat"] for t in burn["targets"]]
    assert windows == windows_to_query(check.period, conditions_for(check))
    steps = [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"]][1:]
    assert steps == sorted({c.factor for c in conditions_for(check)})
    alerts = by_title["Alert conditions"]
    assert len(alerts["targets"]) == len(conditions_for(check))
    for target, condition in zip(alerts["targets"], conditions_for(check), strict=True):
        assert f"[{condition.long}]" not in target["expr"]  # recorded series, not raw ranges
        assert names.sli_error(condition.long) in target["expr"] and names.sli_error(condition.short) in target["expr"]
        assert target["expr"].count(f"> bool {condition.factor:g}") == 2


def test_workbook_factors_in_closed_form():
    """30-day SLOs carry the workbook's 14.4/6/3/1; 28-day ones scale by 28/30 (share × period ÷ long window)."""
    board = shipped()["04-core-workflow.json"]
    burn = next(p for p in panels(board) if p["title"] == "Burn rate per window")
    assert [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"]][1:] == [1, 3, 6, 14.4]
    ga = next(p for p in panels(shipped()["11-ga-launch.json"]) if p["title"] == "Burn rate per window")
    got = [s["value"] for s in ga["fieldConfig"]["defaults"]["thresholds"]["steps"]][1:]
    assert got == pytest.approx(sorted([0.02 * 28 * 24, 0.05 * 28 * 4, 0.1 * 28, 0.1 * 28 / 3]))


def test_custom_alerting_and_budget_warning_from_a_user_spec():
    board = gate_dashboard(user_gate())
    check = next(c for c in user_gate().checks if isinstance(c, SloCheck))
    section = {p["title"]: p for p in _slo_section(board, check)}
    burn = section["Burn rate per window"]
    assert [t["legendFormat"] for t in burn["targets"]] == ["5m", "1h", "2h", "1d", "7d"]
    assert [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"]][1:] == [2, 10]
    stat = section["Error budget remaining"]
    assert [s["value"] for s in stat["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.0, 0.4]
    events = section["Events (good/total)"]
    assert [t["legendFormat"] for t in events["targets"]] == ["good", "total"]
    assert 'job="${job}"' in events["targets"][0]["expr"] and "[$__rate_interval]" in events["targets"][0]["expr"]


def test_threshold_panels_draw_target_and_warn_lines():
    board = gate_dashboard(user_gate())
    by_id = {p["targets"][0]["legendFormat"]: p for p in panels(board) if p["targets"] and len(p["targets"]) == 1}
    cost = by_id["daily-cost"]["fieldConfig"]["defaults"]
    assert cost["unit"] == "currencyUSD"
    assert cost["custom"]["thresholdsStyle"]["mode"] == "line"
    assert [(s["value"], s["color"]) for s in cost["thresholds"]["steps"]] == [
        (None, "green"),
        (80, "yellow"),
        (100, "red"),
    ]
    replicas = by_id["min-replicas"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in replicas] == [(None, "red"), (2, "yellow"), (3, "green")]
    for gate in GATES:
        board = shipped()[dashboard_filename(gate.id)]
        for check in gate.checks:
            if isinstance(check, ThresholdCheck):
                panel = next(p for p in panels(board) if p["targets"][0].get("legendFormat") == check.id)
                values = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
                assert check.target in values and (check.warn is None or check.warn in values), check.id


def test_every_check_panel_links_docs_and_the_exact_query():
    for gate in [*GATES, user_gate()]:
        board = gate_dashboard(gate)
        planned = {p.query for c in gate.checks for p in plan_check(c, gate.vars)}
        checked = 0
        for panel in panels(board):
            if not panel.get("links"):
                continue
            titles = [link["title"] for link in panel["links"]]
            assert titles[0].startswith("Docs: ") and panel["links"][0]["url"].startswith("http")
            explore = next(link["url"] for link in panel["links"] if link["title"] == "Explore the exact query")
            query = parse_qs(urlsplit(explore).query)["panes"][0]
            panes = json.loads(query.replace("${datasource}", "x"))
            expr = panes["gp"]["queries"][0]["expr"]
            assert expr in planned  # byte for byte what `gatepack collect` sends
            assert expr in panel["description"]
            checked += 1
        with_queries = [c for c in gate.checks if isinstance(c, SloCheck | ThresholdCheck)]
        assert checked >= len(with_queries), gate.id


def test_signals_side_by_side_with_pyrra_and_sloth(contract_fixtures):
    """Each signal Pyrra's detail dashboard (fixture) and Sloth's SLO dashboard show, and where ours has it."""
    pyrra = json.loads((contract_fixtures / "dashboards" / "pyrra" / "detail.json").read_text())
    pyrra_titles = {p["title"] for p in pyrra["panels"]}
    side_by_side = {
        # Pyrra panel  → (our panel title, target legend that carries the signal or None)
        "Objective": ("SLI vs objective", "objective"),
        "Window": ("Error budget burn-down", None),  # the period: in the row title and the panel's time range
        "Availability": ("SLI vs objective", "SLI ("),
        "Error Budget": ("Error budget remaining", "remaining"),
        "Rate": ("Events (", "total"),
        "Errors": ("Events (", "bad"),
        # Sloth's "SLO / detail" dashboard signals
        "sloth: current burn rate": ("Burn rate per window", "5m"),
        "sloth: period burn rate": ("Burn rate per window", "30d"),
        "sloth: remaining error budget (period)": ("Error budget burn-down", "budget remaining"),
        "sloth: alerts firing": ("Alert conditions", "page: 1h & 5m > 14.4"),
    }
    assert {k for k in side_by_side if not k.startswith("sloth:")} == pyrra_titles
    board = shipped()["04-core-workflow.json"]
    section = _slo_section(board, next(c for g, c in slo_checks() if c.id == "write-availability"))
    for signal, (title, legend) in side_by_side.items():
        panel = next((p for p in section if title in p["title"]), None)
        assert panel is not None, signal
        if legend is not None:
            assert any(legend in t.get("legendFormat", "") for t in panel["targets"]), signal
    assert next(p for p in section if "burn-down" in p["title"])["timeFrom"] == "30d"


# -- every query runs on a real Prometheus ---------------------------------------------------------------


def grafana_substitute(expr: str, variables: dict[str, str]) -> str:
    """Expand ``$__macro``, ``${var}``, ``${var:fmt}`` and ``$var`` like Grafana would for these values."""
    values = {**MACROS, **variables}

    def swap(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"unknown variable ${name} in {expr}"
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", swap, expr)


def dashboard_variables(board: dict[str, Any]) -> dict[str, str]:
    result = {}
    for variable in board["templating"]["list"]:
        if variable["type"] == "textbox":
            result[variable["name"]] = variable["query"]
        elif variable["type"] == "custom":
            result[variable["name"]] = variable.get("allValue") or variable["query"].split(",")[0]
    return result


def test_substitution_is_complete():
    assert grafana_substitute('rate(x{a="${job}"}[$__rate_interval]) / $gate', {"job": "api", "gate": ".*"}) == (
        'rate(x{a="api"}[4m]) / .*'
    )


def rules_under_test(gates: list[Gate]) -> str:
    """The recording rules the rules generator (issue 12) writes for ``gates``: what the SLO panels read."""
    from slo.generate.rules import dump_yaml, rules_document

    return dump_yaml(rules_document(gates))


def split_rules(text: str) -> tuple[str, str]:
    """(recording rules over raw series, recording rules over recorded ``slo:``/``gatepack:`` series)."""
    raw: list[dict[str, Any]] = []
    chained: list[dict[str, Any]] = []
    for group in yaml.safe_load(text)["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                (chained if re.search(r"\b(slo|gatepack):", rule["expr"]) else raw).append(rule)
    return tuple(  # type: ignore[return-value]
        yaml.safe_dump({"groups": [{"name": "g", "interval": "1m", "rules": rules}] if rules else []})
        for rules in (raw, chained)
    )


@pytest.fixture(scope="module")
def world_with_rules(prometheus_pool) -> Iterator[str]:
    """The degraded demo world plus the SLO rules' series backfilled by promtool, served by a fresh Prometheus."""
    source = prometheus_pool.get("catalog-degraded", lambda: list(families("degraded")))
    text = rules_under_test(GATES)
    work = Path(tempfile.mkdtemp(prefix="gatepack-dash-"))
    try:
        (work / "rules.yml").write_text(text, encoding="utf-8")
        check = subprocess.run(
            [find_binary("promtool"), "check", "rules", str(work / "rules.yml")], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        data = work / "data"
        shutil.copytree(
            source.workdir / "data", data, ignore=shutil.ignore_patterns("wal", "chunks_head", "lock", "queries.active")
        )
        # promtool evaluates each rule against the server only, so a rule reading another rule's series
        # (Sloth's burn rates and budget read the SLI rules) needs the previous pass's blocks served
        raw, chained = split_rules(text)
        (work / "raw.yml").write_text(raw, encoding="utf-8")
        (work / "chained.yml").write_text(chained, encoding="utf-8")
        passes = ["raw.yml", "chained.yml", "chained.yml", "chained.yml"]  # Sloth's chain is 3 rules deep at most
        for index, rules_file in enumerate(passes):
            server = source if index == 0 else start_prometheus(data)
            out = work / f"rules-blocks-{index}"
            result = subprocess.run(
                [
                    find_binary("promtool"), "tsdb", "create-blocks-from", "rules",
                    f"--start={END - 1800}", f"--end={END}", f"--url={server.url}",
                    f"--output-dir={out}", "--eval-interval=60s", str(work / rules_file),
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if server is not source:
                server.stop()
            assert result.returncode == 0, result.stderr[-2000:]
            for block in out.iterdir():
                if (block / "meta.json").exists():
                    shutil.move(str(block), data / f"{block.name}")
        verdicts = work / "verdicts.om"
        verdicts.write_text(verdict_history(source.url), encoding="utf-8")
        loaded = subprocess.run(
            [find_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(verdicts), str(data)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        server = start_prometheus(data, workdir=work)
        try:
            yield server.url
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verdict_history(url: str) -> str:
    """The verdict metrics of a real evaluation of every catalog gate, as OpenMetrics samples at END-2m..END.

    The same text the textfile sink writes, parsed back and given timestamps so promtool can backfill it
    (as if Prometheus had scraped the textfile collector every minute).
    """
    from prometheus_client.parser import text_string_to_metric_families

    from collector.run import build_packet
    from collector.sinks.metrics import exposition
    from collector.subject import build_subject
    from tests.test_catalog_world import evaluate

    runs = evaluate(url, "degraded", [])
    packets = [
        build_packet(r, spec_path="catalog", spec_sha256="0" * 64, subject=build_subject({}), started_at=END,
                     finished_at=END + 5, backends=[])
        for r in runs
    ]  # fmt: skip
    lines = []
    for family in text_string_to_metric_families(exposition(packets).decode()):
        lines.append(f"# TYPE {family.name} gauge")
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            lines += [f"{sample.name}{{{labels}}} {sample.value!r} {t}" for t in (END - 120, END - 60, END)]
    return "\n".join([*lines, "# EOF", ""])


def _query(url: str, expr: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": END}, timeout=30).json()


def test_every_panel_query_parses_and_slo_panels_return_data(world_with_rules):
    url = world_with_rules
    failures: list[str] = []
    empty_slo: list[str] = []
    jobs = []
    for name, board in shipped().items():
        variables = dashboard_variables(board)
        for section, members in sections(board).items():
            for panel in members:
                for target in panel["targets"]:
                    jobs.append(
                        (
                            name,
                            section,
                            panel["title"],
                            target.get("legendFormat"),
                            grafana_substitute(target["expr"], variables),
                        )
                    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda job: _query(url, job[-1]), jobs))
    executed = len(answers)
    for (name, section, title, legend, expr), answer in zip(jobs, answers, strict=True):
        if answer["status"] != "success":
            failures.append(f"{name} / {title}: {answer.get('errorType')}: {answer.get('error')}: {expr}")
        elif section.startswith("SLO ") and not answer["data"]["result"]:
            empty_slo.append(f"{name} / {title} / {legend}: {expr}")
    assert not failures, "\n".join(failures)
    assert not empty_slo, "SLO panels without data from the generated rules:\n" + "\n".join(empty_slo)
    assert executed == sum(len(p["targets"]) for b in shipped().values() for p in panels(b)) > 200


def test_degraded_write_path_shows_on_its_slo_panels(world_with_rules):
    """The documented degradation (3 % errors for the last 90 minutes, budget overspent) is what the panels read."""
    url = world_with_rules
    board = shipped()["04-core-workflow.json"]
    check = next(c for g, c in slo_checks() if c.id == "write-availability")
    section = {p["title"]: p for p in _slo_section(board, check)}
    remaining = float(
        _query(url, section["Error budget remaining"]["targets"][0]["expr"])["data"]["result"][0]["value"][1]
    )
    assert remaining < 0
    page = section["Alert conditions"]["targets"][0]
    assert page["legendFormat"].startswith("page: 1h & 5m")
    assert float(_query(url, page["expr"])["data"]["result"][0]["value"][1]) == 1.0
    ticket = section["Alert conditions"]["targets"][-1]
    assert ticket["legendFormat"].startswith("ticket: 3d & 6h")


def test_gate_board_shows_every_gate_verdict_and_the_failing_checks(world_with_rules):
    url = world_with_rules
    from tests.test_catalog_world import DEGRADED, GATE_TRUTH

    board = shipped()[OVERVIEW_FILE]
    variables = dashboard_variables(board)
    by_title = {p["title"]: p for p in panels(board)}
    rows = _query(url, grafana_substitute(by_title["Gate board"]["targets"][0]["expr"], variables))["data"]["result"]
    assert {r["metric"]["gate"]: r["metric"]["verdict"] for r in rows} == {
        g: v.value for g, v in GATE_TRUTH["degraded"].items()
    }
    ages = _query(url, grafana_substitute(by_title["Gate board"]["targets"][1]["expr"], variables))["data"]["result"]
    assert {float(r["value"][1]) for r in ages} == {END - (END + 5)}  # evaluated at END, the run finished at END+5
    failing = _query(url, grafana_substitute(by_title["Failing checks"]["targets"][0]["expr"], variables))
    got = {(r["metric"]["gate"], r["metric"]["check"]) for r in failing["data"]["result"]}
    assert got == {k for k, v in DEGRADED.items() if v.value == "fail"}
    budgets = _query(
        url, grafana_substitute(by_title["Error budget remaining per SLO"]["targets"][0]["expr"], variables)
    )
    assert len(budgets["data"]["result"]) == len(slo_checks())


def test_used_placeholders_lists_every_spec_variable_in_order():
    gate = next(g for g in GATES if g.id == "04-core-workflow")
    assert used_placeholders(gate)[:3] == ["http_duration_metric", "api_job", "write_methods"]


def test_every_recorded_series_a_dashboard_reads_is_written_by_the_rules_generator():
    """Offline twin of the Prometheus test: names and identity labels agree with slo.generate.rules."""
    document = yaml.safe_load(rules_under_test(GATES))
    recorded: dict[str, list[dict[str, str]]] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                recorded.setdefault(rule["record"], []).append(rule.get("labels", {}))
    read = set()
    for board in shipped().values():
        for panel in panels(board):
            for target in panel["targets"]:
                for metric, matchers in re.findall(r"((?:slo|gatepack):[a-z_:0-9]+)\{([^}]*)\}", target["expr"]):
                    read.add(metric)
                    wanted = dict(re.findall(r'(\w+)="([^"]*)"', matchers))
                    assert any(wanted.items() <= labels.items() for labels in recorded.get(metric, [])), (
                        f"{metric}{{{matchers}}} is read by a panel but no rule records it"
                    )
    assert {names.OBJECTIVE, names.ERROR_BUDGET, names.PERIOD_ERROR_BUDGET_REMAINING, names.sli_error("28d")} <= read

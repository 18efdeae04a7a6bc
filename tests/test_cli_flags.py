"""Flags that catch mistakes: unknown vars, items and gates, --set overrides, --at now-1h, usage errors (exit 2)."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from collector.catalog import catalog_gates, load_catalog
from collector.cli.overrides import parse_overrides
from collector.timeutil import TimeError, parse_time, relative_time
from slo.durations import parse_duration
from slo.evidence import EvidencePacket, verify_bytes
from slo.loader import load_gates
from tests.test_catalog_world import END, families

ATTESTATION_GATE = """\
apiVersion: gatepack/v1
kind: Gate
id: only
title: Only gate
checks:
  - {id: notes, kind: attestation, item: release-notes}
"""


def usage_error(ran) -> str:
    assert ran.code == 2, ran
    assert "Traceback" not in ran.err
    (line,) = [line for line in ran.err.splitlines() if line.strip()]
    return line


# -- --var ------------------------------------------------------------------------------------


def test_an_unknown_var_is_exit_2_naming_it_and_the_gate_vars(gatepack):
    line = usage_error(gatepack("validate", "--gate", "04-core-workflow", "--var", "api_jb=x"))
    assert "unknown --var api_jb" in line
    for name in catalog_gates(["04-core-workflow"])[0].gate.vars:
        assert name in line
    assert gatepack("validate", "--gate", "04-core-workflow", "--var", "api_job=orders").code == 0


def test_the_readme_service_var_on_04_is_refused(gatepack):
    line = usage_error(gatepack("validate", "--gate", "04-core-workflow", "--var", "service=orders"))
    assert "unknown --var service" in line


# -- gates ID / --export ----------------------------------------------------------------------


def test_gates_id_shows_vars_with_defaults_checks_targets_and_sources(gatepack):
    ran = gatepack("gates", "04-core-workflow")
    assert ran.code == 0, ran
    gate = catalog_gates(["04-core-workflow"])[0].gate
    lines = ran.out.splitlines()
    for name, default in gate.vars.items():
        assert any(line.split() == [name, default] for line in lines), name
    for check in gate.checks:
        (row,) = [line for line in lines if line.split()[:1] == [check.id]]
        assert check.kind in row and "prometheus" in row
        if check.kind == "threshold":
            assert f"{check.op.value} {check.target:g}" in row
        else:
            assert f"{check.objective:g} % over {check.period}" in row
    assert usage_error(gatepack("gates", "04-core-workflo")).startswith("error: no gate '04-core-workflo'")


def test_export_writes_a_catalog_gate_that_loads_back_as_the_same_gate(gatepack, tmp_path):
    for loaded in load_catalog():
        ran = gatepack("gates", loaded.gate.id, "--export")
        assert ran.code == 0, ran
        (again,) = load_gates(ran.out, "exported")
        assert again == loaded.gate
    exported = tmp_path / "my-gate.yaml"
    exported.write_text(gatepack("gates", "01-cicd", "--export").out)
    assert gatepack("validate", exported).code == 0


# -- attest -----------------------------------------------------------------------------------


def test_attest_refuses_unknown_items_and_gates_and_lists_the_known_ones(gatepack, tmp_path):
    store = tmp_path / "att.json"
    line = usage_error(
        gatepack("attest", "00-architecture", "environment-policy", "--by", "a", "--attestations", store)
    )
    assert "environment-policy-baseline" in line and "dependency-list" in line and "--force" in line
    line = usage_error(gatepack("attest", "00-architectur", "risk-register", "--by", "a", "--attestations", store))
    assert "00-architecture" in line
    assert not store.exists()
    ok = gatepack("attest", "00-architecture", "environment-policy-baseline", "--by", "a", "--attestations", store)
    assert ok.code == 0, ok
    forced = gatepack("attest", "00-architecture", "new-item", "--by", "a", "--force", "--attestations", store)
    assert forced.code == 0, forced
    items = [r["item"] for r in json.loads(store.read_text())["attestations"]]
    assert items == ["environment-policy-baseline", "new-item"]


def test_attest_knows_gates_from_a_spec_file(gatepack, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(ATTESTATION_GATE)
    store = tmp_path / "att.json"
    assert gatepack("attest", "only", "release-notes", "--by", "a", "-s", spec, "--attestations", store).code == 0
    assert "release-notes" in usage_error(gatepack("attest", "only", "notes", "--by", "a", "-s", spec))


# -- --set ------------------------------------------------------------------------------------


@pytest.fixture()
def degraded_url(prometheus_pool) -> str:
    return prometheus_pool.get("catalog-degraded", lambda: list(families("degraded"))).url


def test_set_overrides_a_target_for_one_run_and_the_packet_records_it(gatepack, degraded_url, tmp_path):
    base = ("collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "--output", "json", "-o", tmp_path)
    plain = EvidencePacket.model_validate_json(gatepack(*base).out)
    stalled = next(c for c in plain.checks if c.id == "queue-backlog")
    assert stalled.verdict.value == "fail"  # the documented truth: workers stalled for 3 hours
    above = stalled.value * 2
    ran = gatepack(*base, "--set", f"queue-backlog.target={above}", "--set", "write-availability.objective=50")
    packet = EvidencePacket.model_validate_json(ran.out)
    assert verify_bytes(ran.out.strip().encode()).ok
    moved = next(c for c in packet.checks if c.id == "queue-backlog")
    assert moved.verdict.value == "pass" and moved.value == stalled.value
    spec_gate = catalog_gates(["04-core-workflow"])[0].gate
    spec_targets = {c.id: c for c in spec_gate.checks}
    assert [o.model_dump() for o in packet.overrides] == [
        {
            "check": "queue-backlog",
            "field": "target",
            "value": above,
            "spec_value": spec_targets["queue-backlog"].target,
        },
        {
            "check": "write-availability",
            "field": "objective",
            "value": 50.0,
            "spec_value": spec_targets["write-availability"].objective,
        },
    ]
    assert plain.overrides == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("queue-backlog.objective=1", "settable: target, warn"),
        ("write-availability.target=1", "settable: objective, warn_budget_remaining"),
        ("nope.target=1", "no check 'nope'"),
        ("queue-backlog.target=fast", "is not a number"),
        ("queue-backlog=1", "use CHECK.target=VALUE"),
        ("write-availability.objective=100", "less than 100"),
    ],
)
def test_set_mistakes_are_usage_errors(gatepack, value, expected):
    line = usage_error(gatepack("collect", "-g", "04-core-workflow", "-p", "http://127.0.0.1:9", "--set", value))
    assert expected in line


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), st.sampled_from(["target", "warn", "objective"]),
       st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
def test_parse_overrides_reads_back_what_was_written(check, field, value):
    (parsed,) = parse_overrides([f"{check}.{field}={value!r}"])
    assert (parsed.gate, parsed.check, parsed.field, parsed.value) == (None, check, field, value)
    (scoped,) = parse_overrides([f"g1/{check}.{field}={value!r}"])
    assert scoped.gate == "g1"


# -- ingest: --gate optional with one gate; missing --prometheus ------------------------------


def test_ingest_needs_no_gate_when_the_spec_holds_one(gatepack, contract_fixtures, tmp_path):
    spec = tmp_path / "perf.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: Perf\nchecks:\n"
        '  - {id: volume, kind: loadtest, metric: requests, threshold: "count>=1"}\n'
    )
    hey = contract_fixtures / "loadtest/hey/generated-0.1.4/hey.csv"
    ran = gatepack("ingest", hey, "--spec", spec, "-o", tmp_path / "ev")
    assert ran.code == 0, ran
    assert re.search(r"^perf\s+volume\s+pass", ran.out, flags=re.M)
    two = tmp_path / "two.yaml"
    two.write_text(spec.read_text() + "---\n" + spec.read_text().replace("id: perf", "id: perf2"))
    line = usage_error(gatepack("ingest", hey, "--spec", two))
    assert "perf, perf2" in line and "--gate" in line


def test_a_gate_that_needs_prometheus_without_one_is_a_usage_error(gatepack, tmp_path):
    line = usage_error(gatepack("collect", "-g", "04-core-workflow", "-o", tmp_path))
    assert "--prometheus" in line and "04-core-workflow (5)" in line
    assert not list(tmp_path.iterdir())  # no sealed packet full of errors
    spec = tmp_path / "att.yaml"
    spec.write_text(ATTESTATION_GATE)
    ran = gatepack("collect", spec, "-o", tmp_path / "ev", "--attestations", tmp_path / "none.json")
    assert ran.code == 1  # no backend needed: the missing attestation is the failure


# -- undefined placeholders with the other spec errors, with file:line -------------------------

BROKEN = """\
apiVersion: gatepack/v1
kind: Gate
id: broken
title: Broken
vars:
  job: api
checks:
  - id: up
    kind: threshold
    query: up{job="{{ job }}", env="{{ envv }}"}
    op: ">"
    target: 0
    colour: red
  - id: ratio
    kind: slo
    total: |
      sum(rate(x{job="{{ job }}"}[{{ window }}]))
      / sum(rate(y{svc="{{ service }}"}[{{ window }}]))
    bad: sum(rate(z[{{ window }}]))
    objective: 99
"""


@pytest.mark.parametrize("command", ["validate", "collect"])
def test_undefined_placeholders_are_reported_with_schema_errors_and_lines(gatepack, tmp_path, command):
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN)
    lines = BROKEN.splitlines()
    envv_line = next(i for i, line in enumerate(lines, 1) if "envv" in line)
    service_line = next(i for i, line in enumerate(lines, 1) if "{{ service }}" in line)
    colour_line = next(i for i, line in enumerate(lines, 1) if "colour" in line)
    extra = ("-o", tmp_path / "ev") if command == "collect" else ()
    ran = gatepack(command, spec, "-p", "http://127.0.0.1:9", *extra)
    assert ran.code == 2, ran
    assert f"{spec}:{envv_line}: checks[0].query: placeholder {{{{ envv }}}} is not defined" in ran.err
    assert f"{spec}:{service_line}: checks[1].total: placeholder {{{{ service }}}} is not defined" in ran.err
    assert f"{spec}:{colour_line}: checks[0].colour: unknown field" in ran.err
    assert "{{ job }}" not in ran.err and "{{ window }}" not in ran.err
    assert not (tmp_path / "ev").exists()
    fixed = BROKEN.replace("    colour: red\n", "")
    spec.write_text(fixed)
    defined = gatepack("validate", spec, "--var", "envv=prod", "--var", "service=checkout")
    assert defined.code == 0, defined


# -- --at now-1h ------------------------------------------------------------------------------


def test_at_accepts_now_and_now_minus_a_duration():
    before = int(time.time())
    assert before <= parse_time("now") <= time.time() + 1
    assert abs(parse_time("now-1h") - (time.time() - 3600)) < 2
    assert parse_time("NOW - 30m") == pytest.approx(time.time() - 1800, abs=2)
    with pytest.raises(TimeError, match="now-1h"):
        parse_time("now-soon")


@given(st.from_regex(r"(\d{1,4}[smhdw]){1,3}", fullmatch=True), st.integers(0, 2_000_000_000))
def test_relative_time_is_now_minus_the_prometheus_duration(duration, now):
    try:
        seconds = parse_duration(duration)
    except ValueError:
        with pytest.raises(TimeError):
            relative_time(f"now-{duration}", float(now))
        return
    assert relative_time(f"now-{duration}", float(now)) == now - seconds


def test_collect_at_now_minus_1h_pins_the_queries_an_hour_back(gatepack, tmp_path):
    spec = tmp_path / "att.yaml"
    spec.write_text(ATTESTATION_GATE)
    ran = gatepack("collect", spec, "--at", "now-1h", "--output", "json", "-o", tmp_path / "ev",
                   "--attestations", tmp_path / "none.json")  # fmt: skip
    from datetime import datetime

    moment = datetime.fromisoformat(json.loads(ran.out)["evaluation"]["time"].replace("Z", "+00:00")).timestamp()
    assert abs(moment - (time.time() - 3600)) < 5


# -- conventions: --version, -h, exit codes, metavars, --quiet ----------------------------------


def test_version_and_help_conventions(gatepack):
    from slo import __version__

    assert gatepack("--version").out.strip() == f"gatepack {__version__}"
    top = gatepack("-h")
    assert top.code == 0 and "Exit codes: 0 pass" in top.out
    for command in ("collect", "ingest", "validate", "gates", "attest", "demo"):
        ran = gatepack(command, "-h")
        assert ran.code == 0, ran
        assert "<list[" not in ran.out and "<str>" not in ran.out and "<path>" not in ran.out, (command, ran.out)
    collect = gatepack("collect", "-h").out
    assert "SPEC..." in collect and "--output" in collect and "NDJSON" in " ".join(collect.split())
    assert "FILE..." in gatepack("ingest", "-h").out


def test_help_never_cuts_option_names_at_80_columns(gatepack, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = gatepack("collect", "-h").out
    for name in ("--bearer-token-file", "--password-file", "--prometheus", "--concurrency", "--attestations"):
        assert re.search(rf"(^|\s){re.escape(name)}(\s|,|$)", out, flags=re.M), name
    assert "GATEPACK_PROMETHEUS_URL" in out.replace("\n", " ").replace("  ", " ") or "GATEPACK_PROMETHEUS_URL" in out


def test_quiet_prints_only_errors(gatepack, tmp_path):
    spec = tmp_path / "att.yaml"
    spec.write_text(ATTESTATION_GATE)
    args = ("collect", spec, "-o", tmp_path / "ev", "--attestations", tmp_path / "none.json")
    loud = gatepack(*args)
    quiet = gatepack(*args, "--quiet")
    assert loud.code == quiet.code == 1
    assert "evidence written" in loud.err and loud.out
    assert quiet.out == "" and quiet.err == ""


def test_shell_completion_is_offered(gatepack):
    assert "--install-completion" in gatepack("-h").out


def test_every_readme_gate_example_uses_vars_the_gate_has():
    text = open("README.md", encoding="utf-8").read()
    for gate_id, var in re.findall(r"--gate (\S+)[^\n]*?--var (\w+)=", text):
        gate = catalog_gates([gate_id])[0].gate
        assert var in gate.vars, (gate_id, var)
    assert yaml  # the README YAML blocks are checked in tests/test_docs.py

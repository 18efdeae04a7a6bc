"""The catalog as data, attestation verdicts, the selector finder and the `attest`/`gates` commands.

No Prometheus needed: these run in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.catalog import catalog_gates, load_catalog
from collector.cli.app import app
from collector.sources.attestations import AttestationFileError, append_attestation, load_attestations
from slo.attestation import AttestationRecord, evaluate_attestation
from slo.loader import SpecError
from slo.promql.plan import plan_check
from slo.promql.selectors import find_selectors
from slo.results import Verdict
from slo.spec import AttestationCheck

ROOT = Path(__file__).resolve().parent.parent
ISSUE_GATES = [
    "00-architecture",
    "01-cicd",
    "02-auth-shell",
    "03-tenant-isolation",
    "04-core-workflow",
    "05-discoverability",
    "06-ai-action",
    "07-ai-quality",
    "08-automation",
    "09-notification-access-sync",
    "10-beta-readiness",
    "11-ga-launch",
]


def test_catalog_has_every_release_gate_in_order():
    loaded = load_catalog()
    assert [g.gate.id for g in loaded] == ISSUE_GATES
    for item in loaded:
        assert item.path == f"catalog:{item.gate.id}.yaml"
        assert re.fullmatch(r"[0-9a-f]{64}", item.sha256)


def test_every_query_renders_and_metric_names_are_bare_vars():
    for item in load_catalog():
        gate = item.gate
        for name, value in gate.vars.items():
            if name.endswith("_metric"):
                assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", value), (gate.id, name, value)
        for check in gate.checks:
            for planned in plan_check(check, gate.vars):
                assert "{{" not in planned.query
                # no metric name is hard-coded: every selector's name comes from a *_metric var
                for selector in find_selectors(planned.query):
                    assert selector.metric is not None, planned.query
                    stem = re.sub(r"_(bucket|count|sum|p95|p99)$", "", selector.metric)
                    metric_vars = {v for k, v in gate.vars.items() if k.endswith("_metric")}
                    assert selector.metric in metric_vars or stem in metric_vars, (gate.id, check.id, selector)


def test_docs_name_every_gate_check_and_default_metric():
    text = (ROOT / "docs" / "gates.md").read_text(encoding="utf-8")
    for item in load_catalog():
        assert f"`{item.gate.id}`" in text
        for check in item.gate.checks:
            assert f"`{check.id}`" in text, (item.gate.id, check.id)
        for name, value in item.gate.vars.items():
            if name.endswith("_metric"):
                assert value in text, (item.gate.id, name)


def test_unknown_catalog_gate_is_a_spec_error():
    with pytest.raises(SpecError, match="no catalog gate 99-nope"):
        catalog_gates(["99-nope"])
    with pytest.raises(SpecError, match=r"no catalog gate 99-nope \(have: 00-architecture, 01-cicd"):
        catalog_gates(["02-auth-shell", "99-nope"])  # one known id does not hide the unknown one


def test_selected_gates_read_from_their_own_file_are_the_full_catalogs():
    """``--gate ID`` reads ``ID.yaml`` alone (start-up): the same gates, paths and digests as the whole catalog."""
    everything = {item.gate.id: item for item in load_catalog()}
    assert len(everything) == len(ISSUE_GATES)  # ids are unique, so picking by file cannot pick another copy
    for gate_id in ISSUE_GATES:
        assert catalog_gates([gate_id]) == [everything[gate_id]]
    picked = ["11-ga-launch", "02-auth-shell", "02-auth-shell"]
    assert catalog_gates(picked) == [everything[i] for i in picked]
    assert catalog_gates([]) == list(everything.values())


# -- attestations --------------------------------------------------------------------------------

CHECK = AttestationCheck(id="risk", kind="attestation", item="risk-register", max_age="30d")
NOW = "2026-06-30T00:00:00Z"


def record(at: str, **fields) -> AttestationRecord:
    base = {"gate": "g", "item": "risk-register", "by": "dana", "at": at, "link": "https://wiki/x"}
    return AttestationRecord(**{**base, **fields})


@pytest.mark.parametrize(
    ("records", "verdict", "fragment"),
    [
        ([], Verdict.FAIL, "no attestation of 'risk-register' for gate 'g'"),
        ([record("2026-06-20T00:00:00Z")], Verdict.PASS, "attested by dana"),
        ([record("2026-05-31T00:00:00Z")], Verdict.PASS, "attested by dana"),  # exactly 30 days: still fresh
        ([record("2026-05-30T23:59:59Z")], Verdict.FAIL, "older than 30d"),
        ([record("2026-05-01T00:00:00Z"), record("2026-06-29T00:00:00Z")], Verdict.PASS, "2026-06-29"),
        ([record("2026-07-01T00:00:00Z")], Verdict.FAIL, "no attestation"),  # made after the evaluation time
        ([record("2026-06-20T00:00:00Z", gate="other")], Verdict.FAIL, "no attestation"),
        ([record("2026-06-20T00:00:00Z", link=None)], Verdict.FAIL, "has no link"),
    ],
)
def test_attestation_verdicts(records, verdict, fragment):
    result = evaluate_attestation(CHECK, "g", records, NOW)
    assert result.verdict is verdict
    assert fragment in result.reason


def test_attestation_requiring_a_file():
    check = CHECK.model_copy(update={"require_file": True})
    assert evaluate_attestation(check, "g", [record("2026-06-20T00:00:00Z")], NOW).verdict is Verdict.FAIL
    with_file = record("2026-06-20T00:00:00Z", file_name="r.pdf", file_sha256="a" * 64)
    result = evaluate_attestation(check, "g", [with_file], NOW)
    assert result.verdict is Verdict.PASS
    assert result.value == pytest.approx(10.0)
    assert result.details["attestation"]["file_sha256"] == "a" * 64


def test_attest_command_records_who_when_link_and_file_hash(tmp_path):
    attached = tmp_path / "report.pdf"
    attached.write_bytes(b"%PDF- security report")
    store = tmp_path / "att.json"
    args = ["attest", "10-beta-readiness", "security-checks", "--by", "dana", "--link", "https://wiki/sec"]
    args += ["--file", str(attached), "--attestations", str(store), "--at", "2026-06-01T12:00:00Z"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (saved,) = load_attestations(store)
    assert saved.file_sha256 == hashlib.sha256(b"%PDF- security report").hexdigest()
    assert (saved.gate, saved.item, saved.by, saved.at, saved.file_name) == (
        "10-beta-readiness",
        "security-checks",
        "dana",
        "2026-06-01T12:00:00Z",
        "report.pdf",
    )
    append_attestation(store, record("2026-06-02T00:00:00Z"))
    assert len(load_attestations(store)) == 2  # history is kept


def test_broken_attestations_file_is_reported(tmp_path):
    path = tmp_path / "att.json"
    path.write_text(json.dumps({"attestations": [{"gate": "g"}]}))
    with pytest.raises(AttestationFileError, match=r"attestations\[0\]"):
        load_attestations(path)
    assert load_attestations(tmp_path / "missing.json") == []


def test_gates_command_lists_the_catalog():
    result = CliRunner().invoke(app, ["gates"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for gate_id in ISSUE_GATES:
        assert gate_id in result.output


# -- selectors -----------------------------------------------------------------------------------


def test_selectors_skip_functions_groupings_keywords_and_ranges():
    query = (
        'histogram_quantile(0.95, sum by (le) (rate(m_bucket{job="a",le="0.3"}[5m]))) '
        '/ on (job) group_left sum(x_total{code=~"5.."} offset 1h) > bool 3 or vector(0) '
        "+ max_over_time((up >= bool limit_metric)[1d:5m])"
    )
    found = {s.text: s for s in find_selectors(query)}
    assert list(found) == ['m_bucket{job="a",le="0.3"}', 'x_total{code=~"5.."}', "up", "limit_metric"]
    bucket = found['m_bucket{job="a",le="0.3"}']
    assert bucket.range == "5m"
    assert [(m.label, m.op, m.value) for m in bucket.matchers] == [("job", "=", "a"), ("le", "=", "0.3")]
    assert bucket.without("le") == 'm_bucket{job="a"}'


def test_selector_values_with_quotes_and_braces_survive():
    (selector,) = find_selectors(r'sum(m{path="/a{b}\"c", x!=""})')
    assert [(m.label, m.value) for m in selector.matchers] == [("path", '/a{b}"c'), ("x", "")]


def test_collect_resolves_catalog_gate_and_records_the_attestations_file(tmp_path):
    store = tmp_path / "att.json"
    for item in ("dependency-list", "environment-policy-baseline", "risk-register"):
        append_attestation(
            store, AttestationRecord(gate="00-architecture", item=item, by="dana", at=NOW, link="https://wiki/a")
        )
    out = tmp_path / "evidence"
    args = ["collect", "--gate", "00-architecture", "--attestations", str(store), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--at", "2026-07-01T00:00:00Z", "--format", "json"])
    assert result.exit_code == 0, result.output
    (written,) = out.glob("00-architecture-*.json")
    packet = json.loads(written.read_text())
    assert packet["verdict"] == "pass"
    assert packet["spec"]["path"] == "catalog:00-architecture.yaml"
    (recorded,) = packet["inputs"]
    assert recorded["role"] == "attestations"
    assert recorded["sha256"] == hashlib.sha256(store.read_bytes()).hexdigest()
    assert {c["details"]["attestation"]["item"] for c in packet["checks"]} == {
        "dependency-list",
        "environment-policy-baseline",
        "risk-register",
    }

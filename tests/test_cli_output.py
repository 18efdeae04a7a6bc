"""Output CI and scripts can use: nothing cut at any width, plain rows in pipes, one line per message.

The packets come from the real ``gatepack collect`` against a real Prometheus holding the degraded demo
world; which checks fail is the documented truth in ``tests/test_catalog_world.py`` (never what this
run printed). Terminal rendering is checked at 80 columns with rich's own console.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from collector.catalog import load_catalog
from collector.report.annotations import escape_data, escape_property, github_annotations
from collector.report.layout import Column, fitted_table, plain_rows
from collector.report.loadtest import plain_table, rich_table
from collector.report.table import verdict_table
from slo.evidence import EvidencePacket, verify_bytes
from slo.results import Effect, Verdict
from tests.test_catalog_world import DEGRADED, END, families, trace_file
from tests.test_demo_genai import PRICE_FILE

pytestmark = pytest.mark.integration


def render(renderable: object, width: int) -> list[str]:
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.fixture()
def degraded_url(prometheus_pool) -> str:
    return prometheus_pool.get("catalog-degraded", lambda: list(families("degraded"))).url


@pytest.fixture()
def demo_attestations(tmp_path) -> Path:
    from collector.demo.world import attestations
    from collector.sources.attestations import dump_attestations

    path = tmp_path / "attestations.json"
    path.write_bytes(dump_attestations(attestations("degraded", END)))
    return path


@pytest.fixture()
def degraded_packets(gatepack, degraded_url, tmp_path) -> list[EvidencePacket]:
    ran = gatepack("collect", "-p", degraded_url, "--at", END, "--output", "json", "--out", tmp_path / "ev")
    assert ran.code == 1, ran
    return [EvidencePacket.model_validate_json(line) for line in ran.out.splitlines()]


# -- layout: ids never cut ----------------------------------------------------------------------

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=60)
free = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\r\n\t\x0b\x0c"), max_size=200)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(ids, ids, free), min_size=1, max_size=6), width=st.integers(40, 200))
def test_a_fitted_table_never_cuts_a_whole_cell(rows, width):
    columns = [Column("id"), Column("other", priority=1), Column("text", whole=False)]
    lines = render(fitted_table(columns, [list(r) for r in rows], width), width)
    text = "\n".join(lines)
    for row in rows:
        assert any(row[0] in line for line in lines), (row[0], text)
    shown_other = "other" in lines[1] if len(lines) > 1 else False
    if shown_other:
        for row in rows:
            assert any(row[1] in line for line in lines), (row[1], text)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.text(alphabet="ab-c.\n\tx /", min_size=0, max_size=20), min_size=3, max_size=3)))
def test_plain_rows_are_one_line_per_item(rows):
    text = plain_rows(["a", "b", "c"], rows)
    lines = text.splitlines()
    assert len(lines) == len(rows) + 1
    for line, row in zip(lines[1:], rows, strict=True):
        expected = [" ".join(c.split()) or "-" for c in row]
        assert re.split(r" {2,}", line) == expected


# -- gatepack gates -----------------------------------------------------------------------------


def test_gates_in_a_pipe_prints_whole_ids_that_collect_accepts(gatepack):
    ran = gatepack("gates")
    assert ran.code == 0, ran
    catalog = [g.gate.id for g in load_catalog()]
    first_words = [line.split()[0] for line in ran.out.splitlines()]
    assert first_words == catalog
    grepped = [line for line in ran.out.splitlines() if "09" in line]
    gate_id = grepped[0].split()[0]
    assert gate_id == "09-notification-access-sync"
    checked = gatepack("validate", "--gate", gate_id)
    assert checked.code == 0, checked


def test_gates_table_at_80_columns_keeps_every_id(monkeypatch):
    from collector.cli import catalog

    console = Console(width=80, record=True, force_terminal=True, color_system=None)
    monkeypatch.setattr(catalog, "Console", lambda: console)
    monkeypatch.setattr("collector.cli.output.stdout_is_terminal", lambda: True)
    catalog.gates_command(None, False, [])
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    for gate in load_catalog():
        assert any(gate.gate.id in line for line in lines), gate.gate.id
    wide = Console(width=200, record=True, force_terminal=True, color_system=None)
    monkeypatch.setattr(catalog, "Console", lambda: wide)
    catalog.gates_command(None, False, [])
    assert "kinds" in wide.export_text()


# -- collect: verdicts piped, at 80 columns, as JSON/Markdown, annotations ----------------------


def test_piped_collect_of_the_catalog_prints_every_check_id_whole(gatepack, degraded_url, demo_attestations, tmp_path):
    ran = gatepack(
        "collect", "-p", degraded_url, "--at", END, "--out", tmp_path / "ev", "--attestations", demo_attestations,
        "--traces", f"otlp:{trace_file('degraded')}", "--pricing", PRICE_FILE,
    )  # fmt: skip
    assert ran.code == 1, ran
    rows = [line.split() for line in ran.out.splitlines()[1:] if not line.startswith("gate ")]
    expected = [(g.gate.id, c.id) for g in load_catalog() for c in g.gate.checks]
    assert [(r[0], r[1]) for r in rows] == expected
    assert len(expected) == 61
    failing = {(r[0], r[1]) for r in rows if r[2] == "fail"}
    assert failing == {k for k, v in DEGRADED.items() if v is Verdict.FAIL}
    assert "…" not in ran.out


def test_verdict_table_at_80_columns_keeps_ids_and_drops_columns_by_priority(degraded_packets):
    for packet in degraded_packets:
        lines = render(verdict_table(packet, width=80), 80)
        assert all(len(line) <= 80 for line in lines)
        for check in packet.checks:
            assert any(check.id in line for line in lines), (packet.gate.id, check.id)
        assert "…" not in "\n".join(lines)
    wide = render(verdict_table(degraded_packets[4], width=200), 200)
    assert "objective" in wide[1] or "objective" in "\n".join(wide[:3])


def test_output_json_is_one_sealed_packet_per_gate_and_format_still_works(gatepack, degraded_url, tmp_path):
    new = gatepack(
        "collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "--output", "json", "-o", tmp_path
    )
    old = gatepack(
        "collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "--format", "json", "-o", tmp_path
    )
    assert new.code == old.code == 1
    assert "deprecated" in old.err and "--output" in old.err and "deprecated" not in new.err
    for ran in (new, old):
        (line,) = ran.out.splitlines()
        assert verify_bytes(line.encode()).ok
        assert json.loads(line)["gate"]["id"] == "04-core-workflow"
    markdown = gatepack("collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "--output", "markdown")
    assert markdown.out.startswith("### ❌ 04-core-workflow")


def test_github_annotations_name_each_failing_check(gatepack, degraded_url, tmp_path):
    ran = gatepack(
        "collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "-o", tmp_path,
        env={"GITHUB_ACTIONS": "true"},
    )  # fmt: skip
    found = re.findall(r"^::error title=gatepack 04-core-workflow/([^%]+)%3A fail::", ran.out, flags=re.M)
    assert sorted(found) == sorted(c for (g, c), v in DEGRADED.items() if g == "04-core-workflow" and v is Verdict.FAIL)
    quiet = gatepack("collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "-o", tmp_path)
    assert "::error" not in quiet.out + quiet.err


def _unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


@given(st.text(max_size=100))
def test_annotation_escaping_round_trips_and_keeps_one_line(text):
    for escaped in (escape_data(text), escape_property(text)):
        assert "\n" not in escaped and "\r" not in escaped
        assert _unescape(escaped) == text
    assert ":" not in escape_property(text) and "," not in escape_property(text)


def test_a_hostile_reason_cannot_inject_a_second_command(degraded_packets):
    packet = degraded_packets[0]
    check = packet.checks[0].model_copy(update={"reason": "bad\n::set-output name=x::1 100%", "effect": Effect.FAIL})
    lines = github_annotations([packet.model_copy(update={"checks": [check]})])
    assert len(lines) == 1 and lines[0].endswith("::bad%0A::set-output name=x::1 100%25")


# -- reports: --junit on collect, --markdown appends, empty path is a usage error ---------------


def test_collect_writes_junit_and_appends_markdown_to_the_step_summary(gatepack, degraded_url, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("## earlier step\n")
    ran = gatepack(
        "collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "-o", tmp_path / "ev",
        "--junit", tmp_path / "junit.xml", "--markdown", summary, env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert ran.code == 1, ran
    text = summary.read_text()
    assert text.startswith("## earlier step\n") and "04-core-workflow" in text
    again = gatepack("collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "-o", tmp_path / "ev",
                     "--markdown", summary, env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert again.code == 1 and summary.read_text().count("### ❌ 04-core-workflow") == 2
    from xml.etree import ElementTree as ET

    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    failures = int(suite.get("failures"))
    assert failures == sum(1 for (g, _), v in DEGRADED.items() if g == "04-core-workflow" and v is Verdict.FAIL)


def test_an_empty_markdown_path_is_a_clear_usage_error(gatepack, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: a\ntitle: A\nchecks:\n  - {id: x, kind: attestation, item: x}\n"
    )
    ran = gatepack("collect", spec, "--markdown", "", "-o", tmp_path / "ev", "--attestations", tmp_path / "none.json")
    assert ran.code == 2
    assert "--markdown was given an empty path" in ran.err and "GITHUB_STEP_SUMMARY" in ran.err
    assert "Traceback" not in ran.err and "busy" not in ran.err


# -- stderr: one line per message, never hard-wrapped ------------------------------------------


def test_stderr_messages_are_one_line_even_at_80_columns(gatepack, degraded_url, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    deep = tmp_path / ("a-directory-with-a-long-name-" * 3) / "evidence"
    ran = gatepack("collect", "-g", "04-core-workflow", "-p", degraded_url, "--at", END, "-o", deep, "--output", "json")
    (written,) = [line for line in ran.err.splitlines() if line.startswith("evidence written: ")]
    path = Path(written.removeprefix("evidence written: "))
    assert path.exists() and path.parent == deep
    verified = gatepack("verify", path)
    line = verified.err.splitlines()[0]
    assert re.fullmatch(rf"ok: {re.escape(str(path))}: sha256:[0-9a-f]{{64}}.*", line), line
    assert all(len(message) for message in verified.err.splitlines())


# -- ingest summary -----------------------------------------------------------------------------


@pytest.fixture()
def hey_data(contract_fixtures):
    from collector.cli.ingest import load_inputs

    return load_inputs([contract_fixtures / "loadtest/hey/generated-0.1.4/hey.csv"])


def test_ingest_summary_at_80_columns_drops_columns_not_digits(hey_data):
    lines = render(rich_table(hey_data, 80), 80)
    assert all(len(line) <= 80 for line in lines)
    body = "\n".join(lines)
    assert "…" not in body
    for heading in ("requests", "req/s", "errors", "p95"):
        assert heading in body
    assert "not shown at 80 columns" in body
    wide = "\n".join(render(rich_table(hey_data, 200), 200))
    for heading in ("min", "mean", "p50", "p90", "p99.9", "max"):
        assert heading in wide
    assert "not shown" not in wide


def test_ingest_summary_in_a_pipe_is_plain_rows_with_every_column(hey_data):
    text = plain_table(hey_data)
    header, *rows = text.splitlines()
    assert header.split() == ["label", "requests", "req/s", "errors", "min", "mean", "p50", "p90", "p95", "p99",
                              "p99.9", "max"]  # fmt: skip
    assert len(rows) == len(hey_data.sources and {r for r in hey_data.requests["label"]})


def test_ingest_format_keeps_working_with_one_meaning_per_value(gatepack, contract_fixtures, tmp_path):
    hey = contract_fixtures / "loadtest/hey/generated-0.1.4/hey.csv"
    spec = tmp_path / "perf.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: perf\ntitle: Perf\nchecks:\n"
        '  - {id: volume, kind: loadtest, metric: requests, threshold: "count>=1"}\n'
    )
    as_output = gatepack("ingest", hey, "--spec", spec, "--format", "json", "-o", tmp_path / "a")
    assert as_output.code == 0 and json.loads(as_output.out)["gate"]["id"] == "perf"
    assert "--format json on ingest is read as --output json" in as_output.err
    as_input = gatepack("ingest", hey, "--spec", spec, "--format", "hey", "-o", tmp_path / "b")
    assert as_input.code == 0 and "use --input-format hey" in as_input.err
    new = gatepack("ingest", hey, "--spec", spec, "--input-format", "hey", "--output", "json", "-o", tmp_path / "c")
    assert new.code == 0 and "deprecated" not in new.err and json.loads(new.out)["verdict"] == "pass"
    wrong = gatepack("ingest", hey, "--spec", spec, "--input-format", "json")
    assert wrong.code == 2 and "unknown --input-format 'json'" in wrong.err

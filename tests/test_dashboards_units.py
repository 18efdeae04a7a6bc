"""Small pure pieces of the dashboard generator and the shared names, with properties where they fit."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from slo.durations import parse_duration
from slo.generate import names
from slo.generate.dashboards import gate_dashboard, grafana_expr, percent_encode, used_placeholders
from slo.loader import load_gates


@given(st.text())
def test_percent_encoding_round_trips_and_leaves_only_safe_characters(text):
    encoded = percent_encode(text)
    assert unquote(encoded, errors="strict") == text
    assert all(c.isascii() and (c.isalnum() or c in "-._~%") for c in encoded)


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_rule_window_is_a_prometheus_duration_of_the_same_length(seconds):
    text = names.rule_window(f"{seconds}s")
    assert parse_duration(text) == seconds
    assert names.rule_window(text) == text  # canonical: formatting a formatted window changes nothing


def test_rule_window_names_follow_prometheus():
    assert [names.rule_window(w) for w in ("28d", "7d", "30d", "90m", "1d", "365d")] == [
        "4w", "1w", "30d", "1h30m", "1d", "1y",
    ]  # fmt: skip
    assert names.sli_error("28d") == "slo:sli_error:ratio_rate4w"


def test_placeholders_become_grafana_variables_and_quoting_rules_hold():
    query = 'sum(rate({{ metric }}{job="{{ job }}"}[{{ window }}]))'
    assert (
        grafana_expr(query, ["metric", "job"], "$__rate_interval")
        == 'sum(rate(${metric}{job="${job}"}[$__rate_interval]))'
    )
    # a threshold query may use a spec variable called "window": it stays a variable there
    gate = load_gates(
        """
apiVersion: gatepack/v1
kind: Gate
id: w
title: W
vars: {window: 2h}
checks:
  - {id: t, kind: threshold, query: 'max_over_time(up[{{ window }}])', op: ">", target: 0}
""",
        "w.yaml",
    )[0]
    assert used_placeholders(gate) == ["window"]
    board = gate_dashboard(gate)
    expr = next(p for p in board["panels"] if p.get("title", "").startswith("t ("))["targets"][0]["expr"]
    assert expr == "max_over_time(up[${window}])"
    assert {v["name"] for v in board["templating"]["list"]} == {"datasource", "window"}


def test_verdict_codes_order_by_severity():
    codes = names.VERDICT_CODES
    assert (
        codes[names.Verdict.PASS] < codes[names.Verdict.WARN] < codes[names.Verdict.FAIL] < codes[names.Verdict.ERROR]
    )
    assert len(set(codes.values())) == len(codes) == len(names.Verdict)


def test_dashboards_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: gatepack/v1\nkind: Gate\nid: x\ntitle: X\nchecks: []\n")
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "dashboards", str(spec), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.yaml" in result.stderr and "checks" in result.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "dashboards", "--gate", "01-cicd", "-o", str(blocker)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "is not a directory" in result.stderr and "Traceback" not in result.stderr


def test_dashboards_cli_writes_one_gate_and_the_board(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "dashboards", "--gate", "04-core-workflow", "-o", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["04-core-workflow.json", "gate-board.json"]
    board = json.loads((tmp_path / "gate-board.json").read_text())
    gate_var = next(v for v in board["templating"]["list"] if v["name"] == "gate")
    assert gate_var["query"] == "04-core-workflow"

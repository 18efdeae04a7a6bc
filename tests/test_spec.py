"""Spec loading: every problem at once, each with file, line and field; safe YAML; templating."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slo.burnrate import default_conditions
from slo.durations import DurationError, format_duration, parse_duration
from slo.loader import SpecError, load_gates
from slo.promql.plan import PlanError, plan_check
from slo.templating import TemplateError, escape_promql_string, render

BROKEN = """\
apiVersion: gatepack/v1
kind: Gate
id: broken
title: Broken on purpose
checks:
  - id: latency
    kind: threshold
    query: up
    op: "=<"
    target: 1
  - id: availability
    kind: slo
    bad: sum(rate(errors[{{ window }}]))
    total: sum(rate(requests[{{ window }}]))
    objective: 99.9
    period: 30 days
    colour: blue
  - id: no-window
    kind: slo
    good: sum(rate(ok[5m]))
    total: sum(rate(requests[{{ window }}]))
    objective: 99
"""


def test_every_problem_is_reported_with_line_and_field():
    with pytest.raises(SpecError) as caught:
        load_gates(BROKEN, "gates/broken.yaml")
    problems = {(p.line, p.field) for p in caught.value.problems}
    assert (9, "checks[0].op") in problems
    assert (16, "checks[1].period") in problems
    assert (17, "checks[1].colour") in problems
    assert any(line == 18 and field == "checks[2]" for line, field in problems)
    text = str(caught.value)
    assert "gates/broken.yaml:17: checks[1].colour: unknown field" in text
    assert "window" in text


def test_missing_required_field_and_duplicate_keys():
    text = "apiVersion: gatepack/v1\nkind: Gate\nid: g\nid: h\nchecks: []\n"
    with pytest.raises(SpecError) as caught:
        load_gates(text, "x.yaml")
    messages = {(p.line, p.field, p.message) for p in caught.value.problems}
    assert (4, "id", "duplicate key") in messages
    assert any(f == "title" and m == "required field is missing" for _, f, m in messages)


def test_yaml_is_loaded_safely():
    with pytest.raises(SpecError) as caught:
        load_gates("!!python/object/apply:os.system ['echo pwned']\n", "evil.yaml")
    assert "invalid YAML" in str(caught.value)


def test_syntax_error_has_a_line():
    with pytest.raises(SpecError) as caught:
        load_gates("apiVersion: gatepack/v1\nkind: [\n", "bad.yaml")
    assert caught.value.problems[0].line >= 2


def test_cli_reports_spec_errors_with_exit_2_and_no_traceback(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN)
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "validate", str(spec)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"{spec}:17: checks[1].colour: unknown field" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("value", "escaped"), [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb")])
def test_promql_string_escaping(value, escaped):
    assert escape_promql_string(value) == escaped


def test_render_escapes_inside_quotes_and_refuses_outside():
    query = 'sum(rate({{ metric }}{service="{{ service }}"}[{{ window }}]))'
    rendered = render(query, {"metric": "http_requests_total", "service": 'x"} or vector(1', "window": "5m"})
    assert rendered == 'sum(rate(http_requests_total{service="x\\"} or vector(1"}[5m]))'
    with pytest.raises(TemplateError, match="outside quotes"):
        render(query, {"metric": "up) or vector(1", "service": "x", "window": "5m"})
    with pytest.raises(TemplateError, match="no value"):
        render(query, {"service": "x", "window": "5m"})


def test_spec_vars_and_overrides_reach_the_query():
    gate = load_gates(
        "apiVersion: gatepack/v1\nkind: Gate\nid: g\ntitle: t\nvars: {svc: api, port: 8080}\n"
        'checks:\n  - {id: c, kind: threshold, query: \'up{svc="{{ svc }}",port="{{ port }}"}\', '
        "op: '>', target: 0}\n"
    )[0]
    [planned] = plan_check(gate.checks[0], {**gate.vars, "svc": "web"})
    assert planned.query == 'up{svc="web",port="8080"}'
    with pytest.raises(PlanError):
        plan_check(gate.checks[0], {})


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("28d", 28 * 86400), ("1w", 604800)])
def test_durations_round_trip(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "-1h", "1.5h", "0m"])
def test_invalid_durations(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(("period", "factors"), [("30d", [14.4, 6, 3, 1]), ("28d", [13.44, 5.6, 2.8, 28 / 30])])
def test_default_burn_rate_factors_keep_the_budget_share(period, factors):
    # share × period ÷ long window, with the workbook's shares 2 %, 5 %, 10 %, 10 %
    assert [c.factor for c in default_conditions(period)] == pytest.approx(factors)
    assert [(c.long, c.short) for c in default_conditions(period)] == [
        ("1h", "5m"),
        ("6h", "30m"),
        ("1d", "2h"),
        ("3d", "6h"),
    ]


def test_validate_defaults_to_the_catalog():
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "validate", "--gate", "04-core-workflow"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "1 gate(s)" in result.stderr


def test_durations_are_kept_in_one_spelling_so_windows_match_by_name():
    """``alerting: long: 24h`` used to crash the evaluation (rows keyed ``1d``); any spelling now reads alike."""
    from slo.evaluate import evaluate_check
    from slo.results import QueryOutcome

    spec = """
apiVersion: gatepack/v1
kind: Gate
id: spelled
title: Spelled windows
checks:
  - id: s
    kind: slo
    bad: sum(increase(errors_total[{{ window }}]))
    total: sum(increase(requests_total[{{ window }}]))
    objective: 99
    period: 720h
    alerting: [{long: 24h, short: 120m, factor: 3, severity: ticket}]
"""
    [gate] = load_gates(spec, "g.yaml")
    [check] = gate.checks
    assert (check.period, check.alerting[0].long, check.alerting[0].short) == ("30d", "1d", "2h")
    outcomes = [
        QueryOutcome(role=p.role, window=p.window, query=p.query, status="ok", value=1.0 if p.role == "bad" else 1000.0)
        for p in plan_check(check, {})
    ]
    result = evaluate_check(check, outcomes, "2026-01-01T00:00:00Z")
    [alert] = result.slo.alerts
    assert (alert.long, alert.short) == ("1d", "2h") and alert.long_burn_rate == pytest.approx(0.001 / 0.01)

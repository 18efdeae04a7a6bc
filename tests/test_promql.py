"""slo.promql on the real parser: syntax errors, selectors of every catalog query, subqueries and ``@``.

Expected selectors are counted independently with the binding's own ``walk`` traversal, and every
selector text gatepack prints is parsed back and compared with the node it came from.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import promql_parser as pp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.catalog import load_catalog
from slo.loader import load_gates
from slo.promql.escape import escape_string
from slo.promql.parse import PromqlSyntaxError, parse, structure, validate
from slo.promql.plan import PlanError, plan_check
from slo.promql.selectors import find_selectors

ROOT = Path(__file__).resolve().parent.parent


def catalog_queries() -> list[tuple[str, str]]:
    found = []
    for item in load_catalog():
        for check in item.gate.checks:
            found.extend((f"{item.gate.id}/{check.id}", p.query) for p in plan_check(check, item.gate.vars))
    return found


def walked_selectors(query: str) -> list[pp.VectorSelector]:
    """Vector selectors as the binding's own depth-first ``walk`` visits them (an independent count)."""
    seen: list[pp.VectorSelector] = []

    def pre(node: pp.Expr) -> None:
        if isinstance(node, pp.VectorSelector):
            seen.append(node)

    pp.walk(pp.parse(query), pre)
    return seen


# --- parse ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sum(rate(foo[5m])", "unclosed left parenthesis"),
        ("foo{", "inside braces"),
        ("sum(rate(foo[5m])))", "unexpected right parenthesis"),
        ("nosuchfunction(foo)", "unknown function"),
    ],
)
def test_invalid_queries_raise_our_error_with_the_parser_message(query, message):
    with pytest.raises(PromqlSyntaxError, match=message) as caught:
        parse(query)
    assert isinstance(caught.value, ValueError)
    assert message in (validate(query) or "")


@pytest.mark.parametrize(
    "query",
    [
        'max_over_time(rate(x{a="1"}[5m])[1h:1m] @ end()) or vector(0)',
        "holt_winters(x[1h], 0.5, 0.5)",  # Prometheus 2.x (Debian's 2.42) still answers it
        'sum by (le) (rate(x_bucket{a=~"b|c"}[5m] offset 1h)) > bool 3',
        "x # a comment with a ' quote\n + 1",
    ],
)
def test_valid_queries_validate(query):
    assert validate(query) is None


# --- selectors over the catalog ---------------------------------------------------------------------------


def test_every_catalog_query_parses_and_every_selector_is_found():
    queries = catalog_queries()
    assert len(queries) > 100
    for where, query in queries:
        walked = walked_selectors(query)
        found = find_selectors(query)
        assert walked, (where, query)
        # every walked node is represented (duplicates removed), in first-seen order, nothing extra
        expected = list(dict.fromkeys(structure(node) for node in walked))
        got = [structure(parse(s.instant)) for s in found]
        assert got == expected, (where, query)
        for selector in found:
            assert selector.metric is not None, (where, selector)
            assert validate(selector.text) is None
            if selector.lookup_range:
                assert validate(f"last_over_time({selector.over(selector.lookup_range)})") is None


def test_subquery_at_and_offset_are_read_from_the_ast():
    query = (
        'max_over_time(rate(req_total{job="a"}[5m])[1h:1m] @ end()) '
        '+ min_over_time(up{job="b"}[30m:] offset 1h) + x_total @ 100 offset -5m'
    )
    found = {s.metric: s for s in find_selectors(query)}
    assert list(found) == ["req_total", "up", "x_total"]
    req, up, x = found["req_total"], found["up"], found["x_total"]
    assert (req.range, req.within, req.lookup_range, req.at) == ("5m", "1h", "1h5m", None)
    assert (up.range, up.within, up.lookup_range) == (None, "30m", "30m")
    assert (x.range, x.offset, x.at, x.lookup_range) == (None, "-5m", "@ 100.000", None)
    assert x.instant == "x_total offset -5m @ 100.000"
    assert x.over("10m") == "x_total[10m] offset -5m @ 100.000"
    assert structure(parse(x.instant)) == structure(parse("x_total @ 100 offset -5m"))


def test_selector_text_names_and_alternatives():
    (named,) = find_selectors('sum({__name__="m_bucket",le="0.5"})')
    assert named.metric == "m_bucket"  # from the __name__ matcher, so bucket checks find it
    assert named.text == '{__name__="m_bucket",le="0.5"}'
    assert named.without("le") == '{__name__="m_bucket"}'
    (alternatives,) = find_selectors('m{a="1" or b="2"}')
    assert [[(m.label, m.value) for m in g] for g in alternatives.or_matchers] == [[("a", "1")], [("b", "2")]]
    assert structure(parse(alternatives.text)) == structure(parse('m{a="1" or b="2"}'))
    assert alternatives.without("b") == "m{}"
    assert structure(parse(alternatives.without("c"))) == structure(parse('m{a="1" or b="2"}'))
    (bare,) = find_selectors("up")
    assert (bare.text, bare.without("job")) == ("up", "up{}")


def test_find_selectors_refuses_text_that_is_not_promql():
    with pytest.raises(PromqlSyntaxError):
        find_selectors("sum(rate(foo[5m])")


@settings(max_examples=200, deadline=None)
@given(
    value=st.text(),
    quote=st.sampled_from(['"', "'"]),
    op=st.sampled_from(["=", "!="]),
)
def test_selector_values_are_unescaped_and_texts_round_trip(value, quote, op):
    query = f'sum(rate(m{{a{op}{quote}{escape_string(value, quote)}{quote},b="x"}}[5m]))'
    (selector,) = find_selectors(query)
    assert [(m.label, m.op, m.value) for m in selector.matchers] == [("a", op, value), ("b", "=", "x")]
    assert structure(parse(selector.over("5m"))) == structure(parse(query).expr.args[0])


# --- plan_check and validate ---------------------------------------------------------------------------


BROKEN_QUERY_GATE = """\
apiVersion: gatepack/v1
kind: Gate
id: broken
title: Broken query
checks:
  - id: fine
    kind: threshold
    query: 'sum(rate(foo[5m]))'
    op: '<'
    target: 1
  - id: unclosed
    kind: threshold
    query: 'sum(rate(foo[5m])'
    op: '<'
    target: 1
"""


def test_plan_check_refuses_a_query_that_does_not_parse():
    gate = load_gates(BROKEN_QUERY_GATE, "broken.yaml")[0]
    assert [p.query for p in plan_check(gate.checks[0], {})] == ["sum(rate(foo[5m]))"]
    with pytest.raises(PlanError, match=r"value query is not valid PromQL \(unclosed left parenthesis\)"):
        plan_check(gate.checks[1], {})


def test_offline_validate_rejects_a_query_that_does_not_parse(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text(BROKEN_QUERY_GATE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "validate", str(spec)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    stderr = result.stderr.replace("\n", "")
    assert f"{spec}: broken/unclosed: value query is not valid PromQL (unclosed left parenthesis)" in stderr
    assert "broken/fine" not in stderr
    assert "Traceback" not in result.stderr


def test_offline_validate_accepts_the_catalog_and_the_example_gate():
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "validate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ok: 12 gate(s)" in result.stderr
    example = subprocess.run(
        [sys.executable, "-m", "collector.cli", "validate", str(ROOT / "examples" / "ci" / "loadtest-gate.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert example.returncode == 0, example.stderr


# --- one owner ----------------------------------------------------------------------------------------------


def test_only_slo_promql_imports_the_parser():
    """Everything else reads PromQL through slo.promql, so one module owns PromQL text."""
    offenders = []
    for folder in ("slo", "collector", "gatepack", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "slo" / "promql") or ".venv" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name.split(".")[0] == "promql_parser" for name in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- against Prometheus' own parser (promtool) -------------------------------------------------------------

AGREEMENT = [
    "sum(rate(foo[5m])",
    'sum(rate(foo{a="1"}[5m]))',
    "foo{",
    'foo{a="1",}',
    "foo{a='x\\'y'}",
    'foo{a="x\\\'y"}',  # \' is not an escape inside double quotes
    "foo{a=`raw\\n`}",
    "rate(foo[5m:1m])",
    "max_over_time(rate(foo[5m])[1h:1m] offset 5m @ 100)",
    "foo @ start() offset -5m",
    "vector(foo)",  # a vector where a scalar is expected
    "rate(foo)",  # an instant vector where a range is expected
    "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    'label_replace(up, "a", "$1", "b", "(.*)")',
    "up / on (job) group_left (x) up",
    "up and bool up",
    "sum(up) by (job) > bool 3",
    "holt_winters(up[1h], 0.5, 0.5)",
    "foo # comment\n + 1",
    "1 +",
]


def promtool_accepts(path: Path, queries: list[str]) -> subprocess.CompletedProcess[str]:
    rules = "".join(f"  - record: r{i}\n    expr: {json.dumps(q)}\n" for i, q in enumerate(queries))
    path.write_text(f"groups:\n- name: g\n  rules:\n{rules}", encoding="utf-8")
    return subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.integration
@pytest.mark.usefixtures("prometheus_binaries")
def test_offline_validation_agrees_with_prometheus_own_parser(tmp_path):
    """promtool (Prometheus' parser) and ours accept and refuse the same queries, the catalog included."""
    verdicts = []
    for index, query in enumerate(AGREEMENT):
        checked = promtool_accepts(tmp_path / f"r{index}.yaml", [query])
        ours = validate(query)
        assert (checked.returncode == 0) == (ours is None), (query, checked.stdout, ours)
        verdicts.append(ours is None)
    assert 0 < sum(verdicts) < len(verdicts)  # both kinds are exercised
    catalog = list(dict.fromkeys(q for _, q in catalog_queries()))
    checked = promtool_accepts(tmp_path / "catalog.yaml", catalog)
    assert checked.returncode == 0, checked.stdout
    assert f"SUCCESS: {len(catalog)} rules found" in checked.stdout

"""Properties of the Prometheus token-usage pricing (pure: no server).

The answer reader never raises anything but ValueError whatever JSON it gets, and the cost of a
well-formed answer is the sum over its rows of tokens × the table's rate, computed here independently.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.aicost_metrics import TokenRow, cost_query, decide_metric_cost, rows_of
from slo.pricing import gatepack_table
from slo.promql.plan import PlanError
from slo.results import QueryOutcome, Status, Verdict
from slo.spec import AiCostCheck

AT = 1767225600
TABLE = gatepack_table(
    {
        "models": [
            {"model": "gpt-4o", "input": 2.5, "output": 10.0},
            {"match": "^claude", "input": 3.0, "output": 15.0},
        ]
    },
    "t.yaml",
)
RATES = {"gpt-4o": (2.5, 10.0), "claude-x": (3.0, 15.0)}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["vector", "matrix", "scalar", None]), json_values)
def test_rows_of_only_raises_value_error(result_type, result):
    try:
        rows = rows_of(result_type, result)
    except ValueError:
        return
    assert result_type == "vector"
    assert all(isinstance(r.value, float) for r in rows)


row_strategy = st.tuples(
    st.sampled_from(list(RATES)),
    st.sampled_from(["input", "output", "completion"]),
    st.integers(min_value=0, max_value=10**9),
)


def check(**fields) -> AiCostCheck:
    return AiCostCheck.model_validate({"id": "c", "kind": "ai_cost", "source": "prometheus", "op": "<=", **fields})


def outcome() -> QueryOutcome:
    return QueryOutcome(role="tokens", query="q", status=Status.OK)


@settings(max_examples=200, deadline=None)
@given(st.lists(row_strategy, min_size=1, max_size=12))
def test_cost_is_tokens_times_rates(rows):
    answer = [
        TokenRow({"gen_ai_request_model": model, "gen_ai_token_type": kind, "i": str(i)}, float(tokens))
        for i, (model, kind, tokens) in enumerate(rows)
    ]
    expected = math.fsum(tokens * RATES[model][0 if kind == "input" else 1] / 1e6 for model, kind, tokens in rows)
    result = decide_metric_cost(check(target=1e12), answer, TABLE, AT, None, outcome())
    assert result.verdict is Verdict.PASS, result.reason
    assert result.value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    per_model = decide_metric_cost(check(target=1e12, per="model", aggregate="max"), answer, TABLE, AT, None, outcome())
    by_model: dict[str, float] = {}
    for model, kind, tokens in rows:
        by_model[model] = by_model.get(model, 0.0) + tokens * RATES[model][0 if kind == "input" else 1] / 1e6
    assert per_model.value == pytest.approx(max(by_model.values()), rel=1e-9, abs=1e-12)


def test_unknown_token_type_and_bad_numbers_are_errors():
    rows = [TokenRow({"gen_ai_request_model": "gpt-4o", "gen_ai_token_type": "total"}, 5.0)]
    result = decide_metric_cost(check(target=1), rows, TABLE, AT, None, outcome())
    assert result.verdict is Verdict.ERROR and "'total' is neither input nor output" in result.reason
    rows = [TokenRow({"gen_ai_request_model": "gpt-4o", "gen_ai_token_type": "input"}, -1.0)]
    assert decide_metric_cost(check(target=1), rows, TABLE, AT, None, outcome()).verdict is Verdict.ERROR
    rows = [TokenRow({"gen_ai_token_type": "input"}, 3.0)]
    result = decide_metric_cost(check(target=1), rows, TABLE, AT, None, outcome())
    assert result.verdict is Verdict.ERROR and "(no model label)" in result.reason
    no_table = decide_metric_cost(check(target=1), rows, None, AT, None, outcome())
    assert no_table.verdict is Verdict.ERROR and "--pricing" in no_table.reason


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"per": "run", "aggregate": "avg"}, "per run needs spans"),
        ({"filter": {"service": "agent"}}, "'filter' selects spans"),
        ({"matchers": 'job="agent"'}, "must be label matchers in braces"),
        ({"metric": "bad name"}, "String should match pattern"),
    ],
)
def test_spec_refuses_trace_only_fields(fields, message):
    with pytest.raises(ValueError, match=message):
        check(target=1, **fields)
    with pytest.raises(ValueError, match="apply to source: prometheus"):
        AiCostCheck.model_validate({"id": "c", "kind": "ai_cost", "op": "<=", "target": 1, "matchers": "{a='b'}"})


def test_matchers_that_are_more_than_matchers_are_refused():
    with pytest.raises(PlanError, match="only add label matchers"):
        cost_query(check(target=1, matchers='{a="b"}[5m])) or sum by (x) (increase(y_sum{b="c"}'), {})
    with pytest.raises(PlanError, match="no value"):
        cost_query(check(target=1, matchers='{job="{{ missing }}"}'), {})


def test_validate_renders_the_token_usage_query_offline(gatepack, tmp_path):
    spec = tmp_path / "gate.yaml"
    spec.write_text(
        "apiVersion: gatepack/v1\nkind: Gate\nid: g\ntitle: g\nchecks:\n"
        "  - {id: c, kind: ai_cost, source: prometheus, matchers: '{job=\"{{ nope }}\"}', op: '<=', target: 1}\n"
    )
    ran = gatepack("validate", spec)
    assert ran.code == 2 and "gate.yaml:6: checks[0].matchers: placeholder {{ nope }} is not defined" in ran.err, ran
    assert "Traceback" not in ran.err
    assert gatepack("validate", spec, "--var", "nope=agent").code == 0

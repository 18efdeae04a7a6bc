"""Grouped queries: which queries may share one ``sum by (label)`` query, and that verdicts do not move.

The integration part runs a gate of per-service SLOs against a real Prometheus twice, grouped and
ungrouped, and compares both with numbers computed here from the generated per-minute rates alone.
"""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.run import GateRun, evaluate_gate
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.testing.openmetrics import Family, Series
from slo.durations import parse_duration
from slo.loader import load_gates
from slo.promql.grouping import grouped_text, plan_groups, shapes
from slo.promql.parse import parse, structure

END = 1767225600  # 2026-01-01T00:00:00Z
STEP = 60
HOURS = 8
# per-minute requests and per-minute bad requests; "svc.1" and "svcx1" make an unescaped regex wrong
SERVICES = {"svc.1": (600.0, 6.0), "svcx1": (300.0, 30.0), "alpha": (1200.0, 1.2), "beta": (60.0, 0.0)}
MISSING = "gamma"  # in the gate, not in the data


def q(service: str, outcome: str | None, window: str = "5m") -> str:
    extra = f',outcome="{outcome}"' if outcome else ""
    return f'sum(increase(requests_total{{service="{service}"{extra}}}[{window}]))'


def test_shapes_accepts_an_aggregated_range_function_over_one_selector():
    found = {s.label: s.value for s in shapes(q("a", "good"))}
    assert found == {"service": "a", "outcome": "good"}
    assert shapes('max(max_over_time(up{job="x"}[1h]))')[0].label == "job"
    assert shapes('sum({__name__="up",job="x"})')[0].label == "job"


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate(a{x="1"}[5m])) / sum(rate(b{x="1"}[5m]))',  # two aggregations
        'sum by (job) (rate(a{x="1"}[5m]))',  # already grouped
        'sum(sum by (job) (rate(a{x="1"}[5m])))',  # inner aggregation drops the label
        'sum(label_replace(a{x="1"}, "x", "y", "", ""))',  # rewrites labels
        'sum(rate(a{x="1"}[5m]) * 2)',  # arithmetic
        'sum(rate(a{x="1"}[5m] offset 1h))',  # modifiers are left alone
        'sum(rate(a{x=~"1"}[5m]))',  # no equality matcher
        'sum(rate(a{x=""}[5m]))',  # empty value also matches series without the label
        'sum(rate(a{x="1",x="2"}[5m]))',  # the label is named twice
        'rate(a{x="1"}[5m])',  # no aggregation: several series per value
        'quantile(0.9, a{x="1"})',
        'sum(rate(a{x="1"}[5m] @ 100))',  # @ is a modifier too
        'sum(max_over_time(rate(a{x="1"}[5m])[1h:5m]))',  # subquery
        'sum(rate(a{x="1" or y="2"}[5m]))',  # alternatives
        'sum without () (rate(a{x="1"}[5m]))',  # any grouping modifier
        'sum(rate(a{x="1"}[5m])',  # does not parse: sent as written, fails on its own
    ],
)
def test_shapes_refuses_queries_whose_grouped_answer_could_differ(query):
    assert shapes(query) == []


def test_plan_groups_groups_queries_that_differ_in_one_label_value():
    queries = [q(s, "good") for s in ("a", "b", "c")] + [q(s, None) for s in ("a", "b", "c")] + [q("a", "good")]
    plan = plan_groups(queries)
    assert set(plan) == set(queries)
    good = plan[q("a", "good")]
    assert good is plan[q("c", "good")] and good is not plan[q("a", None)]
    assert good.label == "service"
    assert good.text == 'sum by (service) (increase(requests_total{service=~"a|b|c",outcome="good"}[5m]))'
    assert good.members == {"a": q("a", "good"), "b": q("b", "good"), "c": q("c", "good")}


def test_plan_groups_leaves_singletons_and_different_windows_alone():
    plan = plan_groups([q("a", "good", "5m"), q("b", "good", "1h"), 'sum(up{job="x"})'])
    assert plan == {}


def test_plan_groups_chunks_large_groups():
    queries = [q(f"s{i}", None) for i in range(7)]
    plan = plan_groups(queries, max_values=3)
    groups = {id(g): g for g in plan.values()}
    assert sorted(len(g.members) for g in groups.values()) == [3, 3]  # the seventh stays on its own
    assert len(plan) == 6
    assert plan_groups(queries, max_values=0) == {}


def test_a_thousand_services_share_one_query_per_role_and_window_by_default():
    """The default group size answers a gate of 1000 per-service SLOs with one request per role and window.

    Each request costs the client CPU of its own on a machine it shares with the backend (issue 16): at
    100 values per group the same gate sent 160 value queries, at the default 16.
    """
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    queries = [q(f"svc-{i:04d}", outcome, w) for i in range(1000) for w in windows for outcome in ("good", None)]
    plan = plan_groups(queries)
    assert len(plan) == len(queries)
    groups = {id(g): g for g in plan.values()}
    assert len(groups) == 2 * len(windows)
    assert all(len(g.members) == 1000 for g in groups.values())


def test_layout_and_quote_style_do_not_matter_but_the_selector_does():
    queries = [
        "sum(increase(requests_total{service='a',outcome=\"good\"}[5m]))",
        'sum ( increase( requests_total{ service = "b" , outcome="good" } [5m] ) )',
        'sum(increase(requests_total{service="c",outcome="good"}[300s]))',  # the same range, written otherwise
        'sum(increase(requests_total{service="d",outcome="bad"}[5m]))',  # another selector: not in the group
    ]
    plan = plan_groups(queries)
    assert set(plan) == set(queries[:3])
    group = plan[queries[0]]
    assert structure(parse(group.text)) == structure(
        parse('sum by (service) (increase(requests_total{service=~"a|b|c",outcome="good"}[5m]))')
    )


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(min_size=1), min_size=2, max_size=5, unique=True), other=st.text())
def test_grouped_regex_matches_exactly_the_member_values(values, other):
    (shape,) = [s for s in shapes('sum(rate(m{job="x",service="v"}[5m]))') if s.label == "service"]
    tree = parse(grouped_text(shape, values))  # parses, whatever the values contain
    (grouped,) = [m for m in tree.expr.args[0].vector_selector.matchers.matchers if m.name == "service"]
    pattern = re.compile(grouped.value)  # RE2 and Python agree on escaped literals and "|"
    assert all(pattern.fullmatch(v) for v in values)
    assert bool(pattern.fullmatch(other)) == (other in values)


def test_grouped_text_escapes_regex_and_string_characters():
    shape = shapes(q("a.b", None))[0]
    text = grouped_text(shape, ["a.b", 'x|y"z', "c\\d"])
    assert text == ('sum by (service) (increase(requests_total{service=~"a\\\\.b|x\\\\|y\\"z|c\\\\\\\\d"}[5m]))')


# --- against a real Prometheus -------------------------------------------------------------------------


def families() -> list[Family]:
    stamps = np.arange(END - HOURS * 3600, END + 1, STEP, dtype=np.float64)
    minutes = (stamps - stamps[0]) / 60.0
    family = Family("requests", "counter")
    for name, (per_minute, bad_per_minute) in SERVICES.items():
        family.series.append(
            Series(
                "requests_total", {"service": name, "outcome": "good"}, stamps, minutes * (per_minute - bad_per_minute)
            )
        )
        family.series.append(
            Series("requests_total", {"service": name, "outcome": "bad"}, stamps, minutes * bad_per_minute)
        )
    return [family]


def gate_text() -> str:
    checks = "".join(
        f"""
  - id: {name.replace(".", "-")}
    kind: slo
    good: 'sum(increase(requests_total{{service="{name}",outcome="good"}}[{{{{ window }}}}]))'
    total: 'sum(increase(requests_total{{service="{name}"}}[{{{{ window }}}}]))'
    objective: 99
    period: 6h
    alerting: [{{long: 1h, short: 5m, factor: 2}}]
"""
        for name in [*SERVICES, MISSING]
    )
    return f"apiVersion: gatepack/v1\nkind: Gate\nid: grouped\ntitle: Grouped\nchecks:{checks}"


def evaluate(url: str, monkeypatch: pytest.MonkeyPatch, max_values: str | None) -> tuple[GateRun, int]:
    gate = load_gates(gate_text(), "grouped.yaml")[0]
    if max_values is None:
        monkeypatch.delenv("GATEPACK_GROUP_MAX", raising=False)
    else:
        monkeypatch.setenv("GATEPACK_GROUP_MAX", max_values)

    async def go() -> tuple[GateRun, int]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            run = await evaluate_gate(gate, at=END, sources=[PrometheusSource(client)])
            return run, client.requests_sent

    return asyncio.run(go())


@pytest.fixture(scope="module")
def url(prometheus_pool) -> str:
    return prometheus_pool.get("grouping", families).url


@pytest.mark.integration
def test_grouped_values_match_the_truth_and_the_ungrouped_run(url, monkeypatch):
    grouped, grouped_requests = evaluate(url, monkeypatch, None)
    single, single_requests = evaluate(url, monkeypatch, "0")
    windows = ["5m", "1h", "6h"]
    # ungrouped: good + total for each window and service, then diagnostics for the missing service
    assert single_requests >= 2 * len(windows) * (len(SERVICES) + 1)
    # grouped: one query per role and window, plus the missing service's own queries and diagnostics
    assert grouped_requests <= 2 * len(windows) + (single_requests - 2 * len(windows) * len(SERVICES))
    assert grouped_requests < single_requests

    for result, reference in zip(grouped.results, single.results, strict=True):
        assert result.verdict == reference.verdict
        assert result.value == reference.value  # bit for bit: the same series summed in the same order
        for outcome, plain in zip(result.queries, reference.queries, strict=True):
            assert (outcome.role, outcome.window, outcome.value, outcome.status) == (
                plain.role,
                plain.window,
                plain.value,
                plain.status,
            )

    for result, name in zip(grouped.results, [*SERVICES, MISSING], strict=True):
        for outcome in result.queries:
            if name == MISSING:
                assert outcome.status == "no_data"
                assert outcome.selected is None
                assert f'service="{MISSING}"' in outcome.query  # sent on its own, as written
                continue
            per_minute, bad_per_minute = SERVICES[name]
            minutes = parse_duration(outcome.window) / 60
            expected = minutes * (per_minute - bad_per_minute if outcome.role == "good" else per_minute)
            assert outcome.value == pytest.approx(expected, rel=1e-9)
            assert outcome.selected == {"service": name}
            assert outcome.query.startswith("sum by (service) (")
            assert outcome.response_sha256
        if name != MISSING:
            per_minute, bad_per_minute = SERVICES[name]
            assert result.value == pytest.approx(100 * (1 - bad_per_minute / per_minute), rel=1e-9)

"""Every selector of every query is checked for series: `or vector(0)` can no longer hide a typo.

Against a real Prometheus backfilled with :mod:`tests.groundtruth` (services checkout, search, billing;
codes 200 and 500; a latency histogram for checkout, all over the 7 days ending at ``END``). Which
selectors are empty is known from that generator's own record (``truth.SERVICES``), never from gatepack.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from collector.run import GateRun, evaluate_gate
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.source import PrometheusSource
from collector.testing.openmetrics import Family, Series
from slo.loader import SpecError, load_gates
from slo.promql.grouping import MAX_GROUP_VALUES
from slo.results import Status, Verdict
from tests import groundtruth as truth

pytestmark = pytest.mark.integration

TYPO = 'http_requests_total{service="checkuot",code=~"5.."}'
TYPO_QUERY = f"sum(rate({TYPO}[5m])) or vector(0)"


@pytest.fixture(scope="module")
def prometheus(prometheus_pool):
    return prometheus_pool.get("foundation", truth.families)


def gate(checks: str) -> str:
    return f"apiVersion: gatepack/v1\nkind: Gate\nid: selectors\ntitle: Selectors\nchecks:\n{checks}"


def threshold(query: str, extra: str = "", op: str = "<", target: float = 1) -> str:
    return f"  - id: t\n    kind: threshold\n    query: '{query}'\n    op: '{op}'\n    target: {target}\n{extra}"


def run_gate(url: str, text: str, at: float = truth.END) -> tuple[GateRun, int]:
    loaded = load_gates(text, "test.yaml")[0]

    async def go() -> tuple[GateRun, int]:
        async with PrometheusClient(PrometheusConfig(url=url)) as client:
            run = await evaluate_gate(loaded, at=at, variables={}, sources=[PrometheusSource(client)])
            return run, client.requests_sent

    return asyncio.run(go())


def test_typo_behind_or_vector_is_no_data_naming_the_selector(prometheus):
    run, _ = run_gate(prometheus.url, gate(threshold(TYPO_QUERY)))
    result = run.results[0]
    assert result.verdict is Verdict.NO_DATA
    assert TYPO in result.reason and "over 5m" in result.reason
    assert result.queries[0].status is Status.NO_DATA
    assert result.queries[0].empty_selectors == [TYPO]


def test_correct_spelling_with_or_vector_still_passes(prometheus):
    query = 'sum(rate(http_requests_total{service="search",code=~"5.."}[5m])) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(query)))
    result = run.results[0]
    expected = truth.SERVICES["search"][0] / 60  # errors per second at the end of the history
    assert result.verdict is Verdict.PASS
    assert result.value == pytest.approx(expected, rel=1e-9)
    assert result.queries[0].empty_selectors == []


SLO_BAD = """  - id: s
    kind: slo
    bad: 'sum(increase(http_requests_total{{service="{bad}",code="500"}}[{{{{ window }}}}])) or vector(0)'
    total: 'sum(increase(http_requests_total{{service="search"}}[{{{{ window }}}}]))'
    objective: 99.9
    period: 30d
{extra}"""


WINDOWS = 8  # the 30d period and the workbook's seven alert windows


def test_typo_in_slo_bad_is_no_data_not_a_perfect_sli(prometheus):
    run, sent = run_gate(prometheus.url, gate(SLO_BAD.format(bad="serach", extra="")))
    result = run.results[0]
    assert result.verdict is Verdict.NO_DATA
    assert 'http_requests_total{service="serach",code="500"}' in result.reason
    assert "bad over 30d" in result.reason
    assert result.slo is not None and result.slo.sli is None
    # 2 queries per window; the total's answers prove its selector; the bad selector is asked over its
    # shortest window first and, empty there, over the 7 longer ones
    assert sent == 2 * WINDOWS + 1 + (WINDOWS - 1)


def test_present_slo_bad_costs_one_presence_query(prometheus):
    run, sent = run_gate(prometheus.url, gate(SLO_BAD.format(bad="search", extra="")))
    result = run.results[0]
    period = 30 * 86400
    expected = 100 * (1 - truth.errors_in_window("search", period) / truth.requests_in_window(period))
    assert result.slo.sli == pytest.approx(expected, rel=1e-9)
    assert sent == 2 * WINDOWS + 1  # present over 5m covers every longer window


def test_allow_empty_true_restores_the_old_reading(prometheus):
    run, _ = run_gate(prometheus.url, gate(SLO_BAD.format(bad="serach", extra="    allow_empty: true\n")))
    result = run.results[0]
    assert result.verdict is Verdict.PASS
    assert result.slo.sli == pytest.approx(100.0)  # the old reading: the empty bad counts as 0 errors
    bad = next(q for q in result.queries if q.role == "bad" and q.window == "30d")
    assert bad.empty_selectors == ['http_requests_total{service="serach",code="500"}']


def test_allow_empty_list_covers_exactly_the_listed_selector(prometheus):
    query = (
        'sum(rate(http_requests_total{service="checkuot",code="500"}[5m])) or vector(0)'
        ' + sum(rate(http_requests_total{service="nope",code="500"}[5m]))'
    )
    listed = '    allow_empty: [\'http_requests_total{code="500",service="checkuot"}\']\n'
    run, _ = run_gate(prometheus.url, gate(threshold(query, listed)))
    result = run.results[0]
    assert result.verdict is Verdict.NO_DATA
    assert 'service="nope"' in result.reason and "checkuot" not in result.reason
    assert len(result.queries[0].empty_selectors) == 2

    alone = 'sum(rate(http_requests_total{service="checkuot",code="500"}[5m])) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(alone, listed)))
    assert run.results[0].verdict is Verdict.PASS
    assert run.results[0].value == 0


def test_allow_empty_entry_naming_no_selector_is_refused():
    listed = "    allow_empty: ['http_requests_total{service=\"other\"}']\n"
    with pytest.raises(SpecError, match="allow_empty entry"):
        load_gates(gate(threshold(TYPO_QUERY, listed)), "test.yaml")
    with pytest.raises(SpecError, match="allow_empty entry"):
        load_gates(gate(threshold(TYPO_QUERY, "    allow_empty: ['sum(x)']\n")), "test.yaml")


def test_absent_of_a_missing_series_is_the_measurement(prometheus):
    # absent() answers 1 exactly because its selector is empty: that emptiness is not a fault
    run, _ = run_gate(prometheus.url, gate(threshold('absent(up{job="gone"})', op="==", target=1)))
    assert run.results[0].verdict is Verdict.PASS
    assert run.results[0].queries[0].empty_selectors == []
    # ... but a typo elsewhere in the same query is still named
    query = 'absent(up{job="gone"}) * on() group_left() (sum(rate(nope_total[5m])) or vector(1))'
    run, _ = run_gate(prometheus.url, gate(threshold(query, op="==", target=1)))
    assert run.results[0].verdict is Verdict.NO_DATA
    assert "nope_total" in run.results[0].reason and "gone" not in run.results[0].reason


def test_offset_reads_the_span_the_query_reads(prometheus):
    # 8 days back the history (7 days) did not exist yet: the selector is empty where the query reads it
    old = 'sum(increase(http_requests_total{service="search",code="500"}[1h] offset 8d)) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(old)))
    assert run.results[0].verdict is Verdict.NO_DATA
    assert "offset 8d" in run.results[0].reason
    recent = 'sum(increase(http_requests_total{service="search",code="500"}[1h] offset 1d)) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(recent, target=1000)))
    assert run.results[0].verdict is Verdict.PASS
    assert run.results[0].value == pytest.approx(truth.SERVICES["search"][0] * 60, rel=1e-6)


def test_at_modifier_reads_the_span_the_query_reads(prometheus):
    before = truth.END - truth.DAYS * 86400 - 86400
    query = f'sum(rate(http_requests_total{{service="search",code="500"}}[5m] @ {before})) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(query)))
    assert run.results[0].verdict is Verdict.NO_DATA
    assert f"@ {before}" in run.results[0].reason
    inside = truth.END - 86400
    query = f'sum(rate(http_requests_total{{service="search",code="500"}}[5m] @ {inside})) or vector(0)'
    run, _ = run_gate(prometheus.url, gate(threshold(query)))
    assert run.results[0].verdict is Verdict.PASS


def test_empty_result_with_present_selectors_says_the_filters_left_none(prometheus):
    query = (
        'sum(rate(http_requests_total{service="search"}[5m])) and on() sum(rate(http_requests_total{code="404"}[5m]))'
    )
    run, _ = run_gate(prometheus.url, gate(threshold(query)))
    assert run.results[0].verdict is Verdict.NO_DATA
    assert 'http_requests_total{code="404"}' in run.results[0].reason
    query = 'sum(rate(http_requests_total{service="search"}[5m])) and on(code) sum by (code) (rate(http_requests_total{service="billing"}[5m]))'
    run, _ = run_gate(prometheus.url, gate(threshold(query)))
    assert run.results[0].verdict is Verdict.NO_DATA
    assert "every selector has series" in run.results[0].reason


# ---- the grouped case: a thousand checks, a handful of presence queries ----

SERVICES = 1000
MISSING_EVERY = 7  # services 0, 7, 14, … have no bad-request series (the generator's own record below)


def bench_service(index: int) -> str:
    return f"svc-{index:04d}"


def bench_families() -> list[Family]:
    stamps = np.arange(truth.END - 6 * 3600, truth.END + 1, 60, dtype=np.float64)
    family = Family("bench_requests", "counter", "generated requests")
    for index in range(SERVICES):
        family.series.append(
            Series(
                "bench_requests_total",
                {"service": bench_service(index), "outcome": "good"},
                stamps,
                np.arange(len(stamps)) * 10.0,
            )
        )
        if index % MISSING_EVERY:
            family.series.append(
                Series(
                    "bench_requests_total",
                    {"service": bench_service(index), "outcome": "bad"},
                    stamps,
                    np.arange(len(stamps)) * 1.0,
                )
            )
    return [family]


@pytest.fixture(scope="module")
def bench_prometheus(prometheus_pool):
    return prometheus_pool.get("selectors-bench", bench_families)


def thousand(query: str) -> str:
    checks = "".join(
        f"  - id: {bench_service(i)}\n    kind: threshold\n    query: '{query.format(s=bench_service(i))}'\n"
        "    op: '<'\n    target: 1\n"
        for i in range(SERVICES)
    )
    return gate(checks)


def test_thousand_grouped_checks_need_no_presence_query(bench_prometheus):
    # every query is a groupable sum(rate(m{service="…"}[5m])): an answer with a series proves its selector
    run, sent = run_gate(
        bench_prometheus.url, thousand('sum(rate(bench_requests_total{{service="{s}",outcome="good"}}[5m]))')
    )
    assert all(r.verdict is Verdict.PASS for r in run.results)
    assert all(r.value == pytest.approx(10 / 60, rel=1e-9) for r in run.results)  # 10 good requests a minute
    # one grouped value query per MAX_GROUP_VALUES services (one for 1000), not one presence query more
    assert sent == math.ceil(SERVICES / MAX_GROUP_VALUES)


def test_thousand_masked_checks_send_a_handful_of_presence_queries(bench_prometheus):
    query = 'sum(rate(bench_requests_total{{service="{s}",outcome="bad"}}[5m])) or vector(0)'
    run, sent = run_gate(bench_prometheus.url, thousand(query))
    missing = {bench_service(i) for i in range(SERVICES) if i % MISSING_EVERY == 0}
    no_data = {r.id for r in run.results if r.verdict is Verdict.NO_DATA}
    assert no_data == missing
    assert {r.id for r in run.results if r.verdict is Verdict.PASS} == {
        bench_service(i) for i in range(SERVICES)
    } - missing
    # 1000 value queries (an `or` is never grouped) + at most ceil(1000 / MAX_GROUP_VALUES) grouped presence queries
    assert SERVICES < sent <= SERVICES + math.ceil(SERVICES / MAX_GROUP_VALUES)


# ---- allow_empty entries are compared by series set, not by spelling (no server needed) ----

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from slo.promql.escape import escape_string  # noqa: E402
from slo.promql.selectors import find_selectors  # noqa: E402
from slo.spec import ThresholdCheck  # noqa: E402

_labels = st.lists(st.sampled_from(["a", "b", "code", "service", "le"]), min_size=1, max_size=4, unique=True)
_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@given(labels=_labels, data=st.data())
def test_allow_empty_matches_any_order_of_the_same_matchers(labels, data):
    values = {label: data.draw(_values) for label in labels}
    ops = {label: data.draw(st.sampled_from(["=", "!=", "=~", "!~"])) for label in labels}
    order = data.draw(st.permutations(labels))

    def selector(names: list[str]) -> str:
        return "m{" + ",".join(f"{n}{ops[n]}{json_string(values[n])}" for n in names) + "}"

    query = f"sum(rate({selector(labels)}[5m] offset 1h)) or vector(0)"
    if any(ops[n] in ("=~", "!~") for n in labels) and not all(_re2_ok(values[n]) for n in labels):
        return  # an invalid regex is refused by the parser, which other tests cover
    check = ThresholdCheck(kind="threshold", id="t", query=query, op="<", target=1, allow_empty=[selector(order)])
    [used] = find_selectors(query)
    assert check.allows_empty(used, {})
    other = dict(values)
    other[labels[0]] = values[labels[0]] + "x"
    changed = find_selectors("m{" + ",".join(f"{n}{ops[n]}{json_string(other[n])}" for n in labels) + "}")[0]
    assert not check.allows_empty(changed, {})


def json_string(value: str) -> str:
    """A PromQL double-quoted string, escaped by the project's own escaper."""
    return f'"{escape_string(value)}"'


def _re2_ok(value: str) -> bool:
    try:
        find_selectors(f"m{{a=~{json_string(value)}}}")
    except Exception:
        return False
    return True


# ---- the shortcut around check_selectors decides exactly as check_selectors does (no server needed) ----

from collector.sources.prometheus.diagnose import (  # noqa: E402
    PresenceCheck,
    check_selectors,
    presence_query,
    selectors_leave_alone,
)
from slo.promql.facts import query_facts  # noqa: E402
from slo.results import QueryOutcome  # noqa: E402

_SHORTCUT_QUERY = 'sum(rate(m{a="x"}[5m])) or sum(rate(n{b="y"}[5m]))'


@given(
    status=st.sampled_from(list(Status)),
    series=st.sampled_from([0, 1, 2]),
    empty=st.sets(st.sampled_from(['m{a="x"}', 'n{b="y"}'])),
    unknown=st.booleans(),
    allowed=st.sampled_from([None, True, ['m{a="x"}']]),
)
def test_leaving_an_outcome_alone_is_what_check_selectors_does(status, series, empty, unknown, allowed):
    facts = query_facts(_SHORTCUT_QUERY)
    found = PresenceCheck(None, 0.0)  # type: ignore[arg-type]  # answers given here, nothing is asked
    for selector in facts.checked:
        answer = None if unknown else selector.instant not in empty
        found.answers[presence_query(selector)] = answer
    check = ThresholdCheck(
        kind="threshold", id="t", query=_SHORTCUT_QUERY, op="<", target=1, allow_empty=allowed or False
    )
    outcome = QueryOutcome(role="value", query=_SHORTCUT_QUERY, status=status, series=series, value=None)
    changed = check_selectors(outcome, _SHORTCUT_QUERY, check, {}, found, facts)
    assert selectors_leave_alone(outcome, found, facts) == (changed is outcome)
    # the presence answers were read as meant: empty exactly where the answer said so
    assert {s.instant for s in facts.checked if found.is_empty(s)} == (set() if unknown else empty)


def test_a_grouped_text_is_searched_for_buckets_through_the_member_s_own_query():
    from collector.sources.prometheus.diagnose import may_name_a_bucket

    grouped = 'sum by (service) (rate(m{service=~"a|my_bucket"}[5m]))'  # another member's value says _bucket
    outcome = QueryOutcome(role="value", query=grouped, status=Status.OK, value=1.0, series=1)
    assert may_name_a_bucket(outcome)  # the text alone
    assert not may_name_a_bucket(outcome, 'sum(rate(m{service="a"}[5m]))')
    assert may_name_a_bucket(outcome, 'sum(rate(h_bucket{service="a",le="0.3"}[5m]))')
    failed = QueryOutcome(role="value", query=grouped, status=Status.ERROR)
    assert not may_name_a_bucket(failed, 'sum(rate(h_bucket{le="0.3"}[5m]))')

"""A query's facts read from its form's one analysis equal the facts of its own parse.

:func:`slo.promql.facts.query_facts` parses one skeleton per form and puts each query's label values
back; :func:`slo.promql.facts.analyse` parses the query itself. Every test compares the two, on hand-picked
traps (absent, ``__name__``, empty values, repeated selectors, regex matchers) and on generated queries.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.promql.facts import _DIRECT_ONLY, _LEXEME, SLOT_PREFIX, analyse, query_facts, skeleton
from slo.promql.grouping import plan_groups, shapes_of
from slo.promql.parse import parse
from slo.promql.selectors import find_absence_selectors, find_selectors

TRAPS = [
    'sum(increase(bench_requests_total{service="svc-0001",outcome="good"}[5m]))',
    'absent(m{a="x"}) or m{a="x"}',
    'absent(m{a="x"}) or m{a="y"}',
    'sum(rate(m{a="x",b!="y"}[5m])) / sum(rate(m{a="x"}[5m]))',
    'm{a="x"} @ 100 offset 5m',
    'max_over_time(m{a="v"}[1h:5m])',
    '{__name__="up",job="a"}',
    'sum({__name__="up",job="a"})',
    'm{a=""}',
    'sum(m{a="", b="c"})',
    'sum(x{a="1"} or y{b="2"})',
    'm{a="b" or c="d"}',
    'm{a=~"b", c="d"}',
    'm{a!~"b", c!="d"}',
    'label_replace(m{a="x"}, "dst", "$1", "src", "(.*)")',
    'label_replace(m{a="x"}, "b=", "c", "d", "e")',
    'up{a="x"} == 1',
    'sum(m{a="x\ty"})',
    'm{a="x"} / on(a) group_left n{a="y"}',
    'sum by (a) (rate(m{a="x",a="y"}[5m]))',
    'count(last_over_time(m{a="x"}[1h]))',
    'histogram_quantile(0.9, sum by (le) (rate(h_bucket{job="api",le="0.3"}[5m])))',
    'sum(rate(m{job="a"}[5m])) # a="comment"',
    "sum(rate(m{job='a'}[5m]))",
    'sum(rate(m{job="a\\"b"}[5m]))',
    'sum(rate(m{job="__gp_slot_0"}[5m]))',
    'sum(rate(m{job="x"}[5m])',  # does not parse
    'm{a="x"} and',  # does not parse
    'sum(rate(m{a="x",b=~"5%.."}[5m]))',  # a % in the text around a slot (selector texts are % templates)
    'sum(rate(m{a="50%s%%",b="y"}[5m]))',  # and in a slotted value
]


@pytest.mark.parametrize("query", TRAPS)
def test_facts_of_a_form_equal_the_query_s_own(query: str) -> None:
    first, again = query_facts(query), query_facts(query)  # the second read comes from the cached form
    assert first == analyse(query)
    assert again == analyse(query)
    # filled forms are built by setting slots directly: the same objects as the constructors make
    assert hash(again) == hash(analyse(query)) and repr(again) == repr(analyse(query))


def test_filled_objects_stay_frozen() -> None:
    facts = query_facts('sum(increase(m{service="filled",outcome="good"}[5m]))')
    assert facts.selectors[0].matchers[0].value == "filled" and facts.shapes[0].value == "filled"
    for made, name in ((facts, "problem"), (facts.selectors[0], "text"), (facts.shapes[0], "value")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, name, "x")


def test_reference_analysis_is_the_modules_own() -> None:
    """The reference itself agrees with the selector and shape functions the collector used before."""
    for query in TRAPS:
        facts = analyse(query)
        if facts.problem is not None:
            continue
        absent = set(find_absence_selectors(query))
        assert list(facts.selectors) == find_selectors(query)
        assert list(facts.checked) == [s for s in find_selectors(query) if s not in absent]
        assert list(facts.shapes) == shapes_of(parse(query))


def test_only_equality_matcher_values_are_slotted() -> None:
    assert skeleton('sum(m{a="x",b=~"y",c!="z",__name__="n"})') == (
        'sum(m{a="__gp_slot_0",b=~"y",c!="__gp_slot_1",__name__="n"})',
        ["x", "z"],
    )
    assert skeleton('sum(m{a="x"}) # note') is None  # comments, other quotes and escapes: parsed as written
    assert skeleton('m{a=""}') is None


def test_a_parse_error_quotes_the_query_not_its_skeleton() -> None:
    facts = query_facts('sum(rate(m{job="abc"}[5m])')
    assert facts.problem is not None and facts.problem == analyse('sum(rate(m{job="abc"}[5m])').problem
    assert facts.shapes == () and facts.selectors == ()


def test_grouping_from_plan_facts_equals_grouping_from_text() -> None:
    queries = [
        f'sum(increase(m{{service="s{i}",outcome="{o}"}}[{w}]))'
        for i in range(30)
        for o in ("good", "bad")
        for w in ("5m", "1h")
    ]
    known = {q: query_facts(q).shapes for q in queries}
    assert plan_groups(queries, 7, known) == plan_groups(queries, 7)


LABEL = st.sampled_from(["a", "job", "service", "le", "__name__", "instance_id"])
VALUE = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)
OP = st.sampled_from(["=", "!=", "=~", "!~"])


def _literal(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@st.composite
def selectors(draw: st.DrawFn) -> str:
    matchers = draw(st.lists(st.tuples(LABEL, OP, VALUE), min_size=1, max_size=3))
    name = draw(st.sampled_from(["m", "h_bucket", ""]))
    body = ",".join(f"{label}{op}{_literal(value)}" for label, op, value in matchers)
    return f"{name}{{{body}}}"


@st.composite
def queries(draw: st.DrawFn) -> str:
    inner = draw(selectors())
    window = draw(st.sampled_from(["", "[5m]", "[1h]"]))
    expr = inner + window
    if window:
        expr = f"{draw(st.sampled_from(['rate', 'increase', 'max_over_time']))}({expr})"
    wrapped = draw(st.sampled_from(["{}", "sum({})", "count({})", "absent({})", "sum by (a) ({})", "{} / {}"]))
    other = draw(selectors())
    return wrapped.format(expr, other) if wrapped.count("{}") == 2 else wrapped.format(expr)


@settings(max_examples=400, deadline=None)
@given(query=queries())
def test_generated_queries_have_the_same_facts_both_ways(query: str) -> None:
    assert query_facts(query) == analyse(query)
    assert query_facts(query) == analyse(query)


def _reference_skeleton(query: str) -> tuple[str, list[str]] | None:
    """The skeleton as first written: one left-to-right scan with the module's lexeme pattern."""
    if any(marker in query for marker in _DIRECT_ONLY):
        return None
    pieces: list[str] = []
    values: list[str] = []
    last = 0
    for match in _LEXEME.finditer(query):
        label, value = match.group(1, 2)
        if label is None or label == "__name__" or not value or "\n" in value:
            continue
        pieces.append(query[last : match.start(2)])
        pieces.append(f"{SLOT_PREFIX}{len(values)}")
        values.append(value)
        last = match.end(2)
    if not values:
        return None
    pieces.append(query[last:])
    return "".join(pieces), values


# text that is mostly the characters the lexeme rule looks at: quotes, =, !, ~, identifier parts, ':' and spaces
LEXEME_PIECES = [*'"=!~ \t\n\u00a0\u2003:_aZ9é{}(),.#', "job", "__name__"]
LEXEME_TEXT = st.lists(st.sampled_from(LEXEME_PIECES), max_size=30).map("".join)


@settings(max_examples=1500, deadline=None)
@given(text=LEXEME_TEXT)
def test_skeleton_splits_exactly_as_the_lexeme_scan(text: str) -> None:
    """The quote-splitting skeleton agrees with the regex scan on arbitrary text, pairs of quotes or not.

    An unpaired quote is the one place they may differ: the split leaves such text to the direct analysis
    (None), which is the reference every skeleton must agree with anyway.
    """
    mine = skeleton(text)
    if text.count('"') % 2:
        assert mine is None
    else:
        assert mine == _reference_skeleton(text)


@pytest.mark.parametrize(
    "text",
    ['m{a="x"}', 'm{a = "x"}', 'm{a != "x"}', 'm{a ! = "x"}', 'm{a=~"x"}', 'm{9a="x"}', 'm{x:a="x"}', 'm{éa="x"}',
     'm{a=="x"}', 'm{a="x", b="y"}', 'f("x", a="y")', 'm{a=""}', 'm{a="\n"}', 'm{__name__="x", a="y"}'],
)  # fmt: skip
def test_skeleton_traps_agree_with_the_lexeme_scan(text: str) -> None:
    assert skeleton(text) == _reference_skeleton(text)


def test_a_plan_built_without_its_constructor_is_the_constructor_s() -> None:
    from slo.promql.plan import PlannedQuery, _planned

    query = 'sum(increase(m{service="a"}[5m]))'
    made = _planned("good", "5m", 'sum(increase(m{service="a"}[{{ window }}]))', {"window": "5m"})
    expected = PlannedQuery("good", "5m", query, query_facts(query))
    assert made == expected and repr(made) == repr(expected) and hash(made) == hash(expected)
    assert made.facts == expected.facts
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.role = "total"  # type: ignore[misc]

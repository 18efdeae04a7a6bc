"""Templating cannot be used to inject PromQL: a value changes one string literal and nothing else.

The property tests render templates with arbitrary values and compare the parsed structure (from the
real parser) with the structure of the same template rendered with a fixed value.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.promql.escape import BACKTICK, COMMENT, DOUBLE, SINGLE, context, contexts, escape_string
from slo.promql.parse import Structure, parse, structure
from slo.templating import TemplateError, render

FIXED = "fixed-value"

# (template, literal as a function of the value): one placeholder inside one string literal
TEMPLATES = [
    ('sum(rate(m{a="{{ v }}",b="x"}[5m])) or vector(0)', lambda v: v),
    ("sum(rate(m{a='{{ v }}',b='x'}[5m])) * 0 or vector(0)", lambda v: v),
    ('label_replace(up, "dst", "{{ v }}", "src", "(.*)")', lambda v: v),
    ("m{a!='pre-{{ v }}-post'} # it's a \"comment\"\n + 1", lambda v: f"pre-{v}-post"),
]


def leaf_paths(tree: object, wanted: str, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    if isinstance(tree, tuple):
        return [p for i, child in enumerate(tree) for p in leaf_paths(child, wanted, (*path, i))]
    return [path] if tree == wanted else []


def at_path(tree: object, path: tuple[int, ...]) -> object:
    for index in path:
        assert isinstance(tree, tuple)
        tree = tree[index]
    return tree


def replaced(tree: object, path: tuple[int, ...], leaf: object) -> object:
    if not path:
        return leaf
    assert isinstance(tree, tuple)
    return tuple(replaced(c, path[1:], leaf) if i == path[0] else c for i, c in enumerate(tree))


def fixed_structure(template: str, literal: str) -> tuple[Structure, tuple[int, ...]]:
    tree = structure(parse(render(template, {"v": FIXED})))
    (path,) = leaf_paths(tree, literal)  # the fixed literal appears exactly once
    return tree, path


@settings(max_examples=300, deadline=None)
@given(value=st.text(), index=st.integers(0, len(TEMPLATES) - 1))
def test_no_value_changes_the_parsed_query_except_its_one_literal(value, index):
    template, literal = TEMPLATES[index]
    expected, path = fixed_structure(template, literal(FIXED))
    got = structure(parse(render(template, {"v": value})))
    assert at_path(got, path) == literal(value)
    assert replaced(got, path, literal(FIXED)) == expected


def test_the_single_quote_injection_from_issue_9_stays_one_literal():
    value = "nonexistent',code=~'.*'}[5m])) * 0 or vector(0) # "
    template = "sum(rate(http_requests_total{service='{{ service }}',code=~'5..'}[5m]))"
    rendered = render(template, {"service": value})
    tree = parse(rendered)
    assert type(tree).__name__ == "AggregateExpr"  # no "or" at the top: the value did not escape its quotes
    matchers = tree.expr.args[0].vector_selector.matchers.matchers
    assert [(m.name, m.value) for m in matchers] == [("service", value), ("code", "5..")]


@pytest.mark.parametrize(
    ("quote", "value", "escaped"),
    [
        (DOUBLE, 'a"b', 'a\\"b'),
        (DOUBLE, "a'b", "a'b"),
        (SINGLE, "a'b", "a\\'b"),
        (SINGLE, 'a"b', 'a"b'),
        (DOUBLE, "a\\b", "a\\\\b"),
        (DOUBLE, "a\nb\rc\td", "a\\nb\\rc\\td"),
    ],
)
def test_escape_for_the_quote_in_use(quote, value, escaped):
    assert escape_string(value, quote) == escaped
    assert parse(f"{quote}{escaped}{quote}").val == value


def test_backtick_strings_cannot_be_escaped_and_are_refused():
    with pytest.raises(ValueError, match="cannot be escaped"):
        escape_string("x", BACKTICK)
    with pytest.raises(TemplateError, match="backtick"):
        render("m{a=`{{ v }}`}", {"v": "plain"})


@pytest.mark.parametrize("value", ["5m\n", "x) or vector(1", "a b", "", "x\n+ 1", 'x"', "é"])
def test_values_outside_strings_or_in_comments_must_be_bare(value):
    with pytest.raises(TemplateError, match="outside quotes"):
        render("sum(rate(m[{{ w }}]))", {"w": value})
    with pytest.raises(TemplateError, match="outside quotes"):
        render("sum(m) # window {{ w }}\n", {"w": value})


def test_bare_values_outside_strings_are_kept():
    assert render("sum(rate({{ m }}[{{ w }}])) > {{ t }}", {"m": "x:y_total", "w": "1h30m", "t": "0.5"}) == (
        "sum(rate(x:y_total[1h30m])) > 0.5"
    )


def test_quote_context_skips_escapes_raw_strings_and_comments():
    text = """m{a="x\\"{{ a }}", b='{{ b }}', c=`\\{{ c }}`} # it's {{ d }}\n{{ e }}"""
    positions = [text.index("{{ " + name) for name in "abcde"]
    assert contexts(text, positions) == [DOUBLE, SINGLE, BACKTICK, COMMENT, None]


CODE = st.text(alphabet=st.characters(blacklist_characters="\"'`#\\"))
NO_NEWLINE = st.text().filter(lambda t: "\n" not in t)
NO_BACKTICK = st.text().filter(lambda t: BACKTICK not in t)


def segment(kind: str | None, before: str, after: str) -> tuple[str, int]:
    """A piece of PromQL of ``kind`` holding ``before + after``, and the offset between the two."""
    if kind in (DOUBLE, SINGLE):
        head = kind + escape_string(before, kind)
        return head + escape_string(after, kind) + kind, len(head)
    if kind == BACKTICK:
        return f"`{before}{after}`", 1 + len(before)
    if kind == COMMENT:
        return f"#{before}{after}\n", 1 + len(before)
    return before + after, len(before)


KINDS = st.sampled_from([DOUBLE, SINGLE, BACKTICK, COMMENT, None])


@st.composite
def pieces(draw: st.DrawFn) -> tuple[str, str | None]:
    kind = draw(KINDS)
    text = draw(
        NO_BACKTICK if kind == BACKTICK else NO_NEWLINE if kind == COMMENT else CODE if kind is None else st.text()
    )
    return segment(kind, text, "")[0], kind


@settings(max_examples=300, deadline=None)
@given(
    around=st.lists(pieces(), max_size=6),
    split=st.integers(0, 6),
    kind=KINDS,
    before=st.text(),
    after=st.text(),
)
def test_quote_context_matches_how_the_text_was_built(around, split, kind, before, after):
    if kind == BACKTICK:
        before, after = before.replace(BACKTICK, ""), after.replace(BACKTICK, "")
    elif kind == COMMENT:
        before, after = before.replace("\n", ""), after.replace("\n", "")
    elif kind is None:
        before, after = (t.translate({ord(c): None for c in "\"'`#\\"}) for t in (before, after))
    piece, offset = segment(kind, before, after)
    head = "".join(p for p, _ in around[:split])
    text = head + piece + "".join(p for p, _ in around[split:])
    assert context(text, len(head) + offset) == kind

"""What the collector needs to know about one query (valid?, grouping shapes, selectors), from one parse per *form*.

A gate of a thousand SLOs plans sixteen thousand queries, and they come in a handful of forms: they
differ only in the values of their ``label="…"`` matchers (``service="svc-0001"``, ``"svc-0002"``, …).
Parsing each one (and walking its AST for selectors and shapes) cost about 0.1 ms per query and
analysis, several seconds per run. Here a query is reduced to its *skeleton*: the text with the value
of every equality matcher replaced by a numbered slot string. The skeleton is parsed and analysed once;
every query of that form gets its facts by putting its own values back into the slots.

This gives the same facts as analysing the query itself because only values the analysis never looks
into are replaced. A value is slotted only when it is a plain double-quoted string (no backslash, no
newline, not empty) standing right after ``label=`` or ``label!=`` with ``label`` an identifier other
than ``__name__``: in PromQL that position is only ever a label matcher's value, whose content changes
neither whether the query parses (a non-empty value never makes a matcher match the empty string) nor
its structure; the analyses read such a value only to compare it with ``""`` (never true here) and to
print it. Queries with comments, backtick or single-quoted strings, or any text that looks like a slot
are analysed directly. ``tests/test_query_facts.py`` checks the two ways agree on generated queries.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, replace
from typing import Any

from slo.promql.escape import DOUBLE_TABLE
from slo.promql.grouping import Shape, shapes_of
from slo.promql.parse import PromqlSyntaxError, parse
from slo.promql.selectors import Matcher, Selector, absence_selectors_of, selectors_of

SLOT_PREFIX = "__gp_slot_"
_LEXEME = re.compile(r'(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*)\s*!?=\s*"([^"]*)"|"[^"]*"')
"""A matcher ``label="value"`` / ``label!="value"`` (groups 1 and 2), or any other double-quoted string.

Scanned left to right, every string is consumed whole (the query has no backslash, so quotes pair up
in order), so a matcher is only ever found in code, never inside a string."""
_DIRECT_ONLY = ("#", "`", "'", "\\", SLOT_PREFIX)
MAX_FORMS = 4096
"""Skeletons kept; a gate has a few forms per check template, so this is never reached in practice."""


@dataclass(frozen=True, slots=True)
class QueryFacts:
    """One query's parse result, grouping shapes and selectors (in written order, duplicates removed)."""

    problem: str | None
    """The parser's message when the query is not valid PromQL (then everything else is empty)."""
    shapes: tuple[Shape, ...] = ()
    selectors: tuple[Selector, ...] = ()
    checked: tuple[Selector, ...] = ()
    """The selectors that must match something: all but those inside ``absent(…)``/``absent_over_time(…)``."""


_forms: dict[str, QueryFacts] = {}


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The slot descriptors' setters of a frozen slots dataclass, in field order (checked against the class)."""
    fields = tuple(f.name for f in dataclasses.fields(cls))
    assert fields == names and not hasattr(cls, "__post_init__"), f"{cls.__name__} changed: update its builder"
    return tuple(getattr(cls, name).__set__ for name in names)


# A frozen dataclass's __init__ sets each field through object.__setattr__ (several times slower than a
# plain attribute); filling a form builds a selector and a shape or two per query, 16 000 queries for a
# gate of a thousand SLOs. These builders set the slots directly: the same objects, equal and hashed alike.
_new = object.__new__
_S = _slot_setters(Selector, ("text", "metric", "matchers", "range", "offset", "at", "within", "or_matchers"))
_H = _slot_setters(Shape, ("aggregation", "label", "value", "functions", "metric", "matchers", "position", "range"))
_F = _slot_setters(QueryFacts, ("problem", "shapes", "selectors", "checked"))


def _selector(
    text: str,
    metric: str | None,
    matchers: tuple[Matcher, ...],
    range_: str | None,
    offset: str | None,
    at: str | None,
    within: str | None,
    or_matchers: tuple[tuple[Matcher, ...], ...],
) -> Selector:
    made: Selector = _new(Selector)
    s_text, s_metric, s_matchers, s_range, s_offset, s_at, s_within, s_or = _S
    s_text(made, text)
    s_metric(made, metric)
    s_matchers(made, matchers)
    s_range(made, range_)
    s_offset(made, offset)
    s_at(made, at)
    s_within(made, within)
    s_or(made, or_matchers)
    return made


def _shape(
    aggregation: str,
    label: str,
    value: str,
    functions: tuple[str, ...],
    metric: str | None,
    matchers: tuple[Matcher, ...],
    position: int,
    range_: str | None,
) -> Shape:
    made: Shape = _new(Shape)
    s_aggregation, s_label, s_value, s_functions, s_metric, s_matchers, s_position, s_range = _H
    s_aggregation(made, aggregation)
    s_label(made, label)
    s_value(made, value)
    s_functions(made, functions)
    s_metric(made, metric)
    s_matchers(made, matchers)
    s_position(made, position)
    s_range(made, range_)
    return made


def _facts(shapes: tuple[Shape, ...], selectors: tuple[Selector, ...], checked: tuple[Selector, ...]) -> QueryFacts:
    made: QueryFacts = _new(QueryFacts)
    set_problem, set_shapes, set_selectors, set_checked = _F
    set_problem(made, None)
    set_shapes(made, shapes)
    set_selectors(made, selectors)
    set_checked(made, checked)
    return made


def analyse(query: str) -> QueryFacts:
    """The facts of ``query`` from its own parse (the reference the skeleton path must agree with)."""
    try:
        expr = parse(query)
    except PromqlSyntaxError as exc:
        return QueryFacts(str(exc))
    selectors = tuple(selectors_of(expr))
    absent = set(absence_selectors_of(expr))
    checked = tuple(s for s in selectors if s not in absent)
    # a shape's matchers are its selector's: one tuple object, so filling a form fills it once
    same = {s.matchers: s.matchers for s in selectors}
    shapes = tuple(replace(shape, matchers=same.get(shape.matchers, shape.matchers)) for shape in shapes_of(expr))
    return QueryFacts(None, shapes, selectors, checked)


_MATCHER_END = re.compile(r"\s*=!?\s*([A-Za-z0-9_]*[A-Za-z_])(?![A-Za-z0-9_:])")
""":data:`_LEXEME`'s ``label\\s*!?=\\s*`` read backwards from the end of the code before a string: the label is
the whole run of identifier characters there (the pattern's look-behind refuses one that starts after an
identifier character or ``:``), and it starts with a letter or underscore."""


def _matcher_label(code: str) -> str | None:
    """The label when ``code`` (the text before a string) ends as a matcher ``label=`` or ``label!=``."""
    match = _MATCHER_END.match(code[::-1])
    return match.group(1)[::-1] if match else None


def skeleton(query: str) -> tuple[str, list[str]] | None:
    """``query`` with its slottable matcher values replaced by slots, and those values; None when not safe.

    Without backslashes, single quotes and backticks (refused above), double quotes pair up in order, so
    splitting at them gives code and string contents by turns: each string is a matcher value exactly
    when the code before it ends in ``label=`` (the :data:`_LEXEME` scan, several times cheaper; the tests
    compare the two on generated queries). An unpaired quote is left to the direct analysis.
    """
    # the markers of _DIRECT_ONLY, spelled out: this runs for every query of a gate
    if "#" in query or "`" in query or "'" in query or "\\" in query or SLOT_PREFIX in query:
        return None
    parts = query.split('"')
    if len(parts) % 2 == 0:
        return None
    values: list[str] = []
    for index in range(1, len(parts), 2):
        value = parts[index]
        if not value or "\n" in value:
            continue
        label = _matcher_label(parts[index - 1])
        if label is None or label == "__name__":
            continue
        parts[index] = f"{SLOT_PREFIX}{len(values)}"
        values.append(value)
    if not values:
        return None
    return '"'.join(parts), values


def query_facts(query: str) -> QueryFacts:
    """The facts of ``query``: from its form's one analysis when it has slottable values, else its own."""
    split = skeleton(query)
    if split is None:
        return analyse(query)
    text, values = split
    form = _forms.get(text)
    if form is None:
        form = analyse(text)
        if len(_forms) >= MAX_FORMS:
            _forms.clear()
            _recipes.clear()
        _forms[text] = form
    if form.problem is not None:
        return analyse(query)  # the message must quote the query itself, not its skeleton
    return _filled(form, values, text)


def _value(text: str, values: list[str]) -> str:
    if text.startswith(SLOT_PREFIX):
        return values[int(text[len(SLOT_PREFIX) :])]
    return text


_matcher_cache: dict[tuple[str, str, str], Matcher] = {}


def _matcher(label: str, op: str, value: str) -> Matcher:
    """Matchers are immutable and repeat across the queries of a gate (one service's 16 queries): shared."""
    key = (label, op, value)
    found = _matcher_cache.get(key)
    if found is None:
        if len(_matcher_cache) >= 1 << 16:
            _matcher_cache.clear()
        found = _matcher_cache[key] = Matcher(label, op, value)
    return found


Slots = tuple[tuple[int, str, str, int], ...]
"""Where a matcher tuple of a form has slots: (position in the tuple, label, operator, slot number)."""


@dataclass(frozen=True, slots=True)
class _Recipe:
    """How to fill one form quickly: which matcher tuples, selector texts and shape values have slots."""

    tuples: tuple[tuple[tuple[Matcher, ...], Slots], ...]
    """Every distinct matcher tuple of the form (selectors and shapes share them) with its slots."""
    selectors: tuple[tuple[Selector, int, tuple[int, ...], tuple[str, tuple[int, ...]] | None], ...]
    """Per selector: its tuple's index, its or-groups' indices, and its text as a ``%`` template with the
    slots whose escaped values go into it, in order (None when the text holds no slot)."""
    shapes: tuple[tuple[Shape, int, int | None], ...]
    """Per shape: its tuple's index and the slot of its varying value (None when written in the form)."""
    absent: tuple[int, ...]
    """Indices of selectors that are inside ``absent(…)``."""


_recipes: dict[str, _Recipe] = {}


def _slot(text: str) -> int | None:
    return int(text[len(SLOT_PREFIX) :]) if text.startswith(SLOT_PREFIX) else None


def _recipe(form: QueryFacts) -> _Recipe:
    tuples: list[tuple[tuple[Matcher, ...], Slots]] = []
    index: dict[int, int] = {}

    def tuple_index(matchers: tuple[Matcher, ...]) -> int:
        if id(matchers) not in index:
            slots = tuple(
                (position, m.label, m.op, slot)
                for position, m in enumerate(matchers)
                if (slot := _slot(m.value)) is not None
            )
            index[id(matchers)] = len(tuples)
            tuples.append((matchers, slots))
        return index[id(matchers)]

    selectors = []
    for selector in form.selectors:
        groups = tuple(tuple_index(group) for group in selector.or_matchers)
        own = tuple_index(selector.matchers)
        in_text = {
            slot
            for m in (*selector.matchers, *(m for g in selector.or_matchers for m in g))
            if (slot := _slot(m.value)) is not None
        }
        selectors.append((selector, own, groups, _text_template(selector.text, in_text)))
    shapes = tuple((shape, tuple_index(shape.matchers), _slot(shape.value)) for shape in form.shapes)
    absent = tuple(i for i, s in enumerate(form.selectors) if s not in form.checked)
    return _Recipe(tuple(tuples), tuple(selectors), shapes, absent)


_MARKER = re.compile(f'"{SLOT_PREFIX}([0-9]+)"')


def _text_template(text: str, slots: set[int]) -> tuple[str, tuple[int, ...]] | None:
    """``text`` as a ``%`` template with ``%s`` where a marker of ``slots`` stands (each marker stands exactly
    where its escaped value goes; the quotes stay in the text), and those slots in order; None when none does."""
    pieces: list[str] = []
    order: list[int] = []
    last = 0
    for match in _MARKER.finditer(text):
        slot = int(match.group(1))
        if slot not in slots:
            continue
        pieces.append(text[last : match.start() + 1].replace("%", "%%"))
        order.append(slot)
        last = match.end() - 1
    if not order:
        return None
    pieces.append(text[last:].replace("%", "%%"))
    return "%s".join(pieces), tuple(order)


def _filled(form: QueryFacts, values: list[str], key: str) -> QueryFacts:
    recipe = _recipes.get(key)
    if recipe is None:
        recipe = _recipes[key] = _recipe(form)
    filled: list[tuple[Matcher, ...]] = []
    for matchers, slots in recipe.tuples:
        if slots:
            changed = list(matchers)
            for position, label, op, slot in slots:
                changed[position] = _matcher(label, op, values[slot])
            filled.append(tuple(changed))
        else:
            filled.append(matchers)
    selectors_all = []
    escaped: list[str] | None = None  # each value as escape_string writes it, worked out once per query
    for selector, own, groups, template in recipe.selectors:
        if template is None:
            selectors_all.append(selector)
            continue
        if escaped is None:
            escaped = [value.translate(DOUBLE_TABLE) for value in values]
        text, order = template
        selectors_all.append(
            _selector(
                text % tuple(map(escaped.__getitem__, order)),
                selector.metric,
                filled[own],
                selector.range,
                selector.offset,
                selector.at,
                selector.within,
                tuple(map(filled.__getitem__, groups)) if groups else (),
            )
        )
    made: list[Shape] = []
    for shape, own, varying in recipe.shapes:
        if varying is None and not recipe.tuples[own][1]:
            made.append(shape)
            continue
        made.append(
            _shape(
                shape.aggregation,
                shape.label,
                shape.value if varying is None else values[varying],
                shape.functions,
                shape.metric,
                filled[own],
                shape.position,
                shape.range,
            )
        )
    shapes = tuple(made)
    # one selector needs no de-duplication (hashing a selector hashes every matcher in it)
    selectors = tuple(selectors_all) if len(selectors_all) == 1 else tuple(dict.fromkeys(selectors_all))
    if not recipe.absent:
        return _facts(shapes, selectors, selectors)
    absent = {selectors_all[i] for i in recipe.absent}
    return _facts(shapes, selectors, tuple(s for s in selectors if s not in absent))

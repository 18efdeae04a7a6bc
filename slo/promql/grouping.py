"""Which queries can share one ``sum by (label)`` query, decided on the parsed AST.

A gate of a thousand SLOs, one per service, sends sixteen thousand queries that differ only in
``service="…"``. Prometheus answers the same question for a group of those values in one request,
``sum by (service) (increase(requests_total{service=~"a|b|c"}[1h]))``, and each check reads its own
series from that answer. This module finds such groups; the collector serves each member query from
its group's response (``collector.sources.prometheus.grouping``).

Only queries whose shape makes the grouped answer *equal* to the individual one are grouped:

* an aggregation without grouping or parameter (``sum``, ``min``, ``max``, ``avg``, ``count``) around
* label-preserving range functions (``rate``, ``increase``, ``*_over_time``, …) around
* one vector selector, without ``offset``, ``@`` or ``or`` alternatives, with an equality matcher
  ``L="v"`` (``v`` not empty) on a label ``L`` that no other matcher names.

For such a query the series that ``sum(f(m{L="v"}))`` aggregates are exactly the series of group
``L="v"`` in ``sum by (L) (f(m{L=~"v|w"}))``, in the same order, so the value is the same number.
Anything else (arithmetic, joins, nested aggregations, subqueries, ``label_replace``) is sent as
written. Queries that do not parse are never grouped: they are sent as written and fail on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import promql_parser as pp

from slo.promql.escape import escape_string
from slo.promql.parse import format_duration, match_op
from slo.promql.selectors import Matcher

MAX_GROUP_VALUES = 1000
"""Label values per grouped query. Each request costs the client a few milliseconds of its own CPU (on a
machine it shares with the backend), so fewer, larger groups are cheaper: a gate of 1000 SLOs sends 16
value queries instead of 160. A 2.0.0 packet records each query's text once, so a long one costs its
length once; Prometheus matches an alternation of plain values as a set (its evaluation time fell with
the larger groups in ``bench/collect.py``). The bound keeps one query's text (about 10 KB at 1000
values) and its answer well inside request and response limits."""

AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count"})
LABEL_PRESERVING = frozenset(
    {
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "resets",
        "changes",
        "sum_over_time",
        "count_over_time",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "last_over_time",
        "present_over_time",
    }
)
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class Shape:
    """A groupable query taken apart: ``aggregation(f1(f2(metric{…, label="value", …}[range])))``.

    ``matchers`` are all of the selector's matchers in written order; ``position`` is the index of
    the one on ``label`` that grouping varies.
    """

    aggregation: str
    label: str
    value: str
    functions: tuple[str, ...]
    metric: str | None
    matchers: tuple[Matcher, ...]
    position: int
    range: str | None

    @property
    def key(self) -> tuple[object, ...]:
        """Everything but the value: queries with equal keys differ only in ``label``'s value."""
        others = self.matchers[: self.position] + self.matchers[self.position + 1 :]
        return (self.aggregation, self.functions, self.metric, self.position, others, self.range, self.label)


@dataclass
class Group:
    """One grouped query and the member queries it answers, by the label value each one selects."""

    label: str
    text: str
    members: dict[str, str] = field(default_factory=dict)  # label value -> member query
    value_of: dict[str, str] = field(default_factory=dict)  # member query -> label value


def _unwrap(expr: pp.Expr) -> pp.Expr:
    while isinstance(expr, pp.ParenExpr):
        expr = expr.expr
    return expr


def shapes(query: str) -> list[Shape]:
    """Every way ``query`` can join a group (one per equality matcher), or none when its form is not safe.

    From :func:`slo.promql.facts.query_facts`, which parses one query per form (not per query) and keeps
    nothing per query: a gate of a thousand SLOs has 16 000 queries but a handful of forms.
    """
    from slo.promql.facts import query_facts  # facts builds on shapes_of below

    return list(query_facts(query).shapes)


def shapes_of(top: pp.Expr) -> list[Shape]:
    """:func:`shapes` of a parsed query."""
    if not isinstance(top, pp.AggregateExpr) or top.modifier is not None or top.param is not None:
        return []
    aggregation = str(top.op)
    if aggregation not in AGGREGATIONS:
        return []
    functions: list[str] = []
    inner = _unwrap(top.expr)
    while isinstance(inner, pp.Call):
        if inner.func.name not in LABEL_PRESERVING or len(inner.args) != 1:
            return []
        functions.append(inner.func.name)
        inner = _unwrap(inner.args[0])
    window: str | None = None
    if isinstance(inner, pp.MatrixSelector):
        window = format_duration(inner.range)
        inner = inner.vector_selector
    if not isinstance(inner, pp.VectorSelector) or inner.offset is not None or inner.at is not None:
        return []
    if inner.matchers.or_matchers or (inner.name is not None and not _NAME.fullmatch(inner.name)):
        return []
    matchers = tuple(Matcher(m.name, match_op(m.op), m.value) for m in inner.matchers.matchers)
    if any(not _LABEL.fullmatch(m.label) for m in matchers):
        return []
    labels = [m.label for m in matchers]
    found = []
    for position, matcher in enumerate(matchers):
        if matcher.op != "=" or matcher.label == "__name__" or labels.count(matcher.label) != 1:
            continue
        if matcher.value == "":
            continue  # L="" also matches series without L, which sum by (L) would not keep apart
        found.append(
            Shape(aggregation, matcher.label, matcher.value, tuple(functions), inner.name, matchers, position, window)
        )
    return found


def _regex_alternatives(values: Iterable[str]) -> str:
    return "|".join(_RE2_SPECIAL.sub(r"\\\1", value) for value in values)


def grouped_text(shape: Shape, values: list[str]) -> str:
    """The one query that answers every value: ``agg by (L) (…L=~"v1|v2"…)``."""
    regex = Matcher(shape.label, "=~", _regex_alternatives(values))
    matchers = [regex if index == shape.position else m for index, m in enumerate(shape.matchers)]
    body = ",".join(f'{m.label}{m.op}"{escape_string(m.value)}"' for m in matchers)
    inner = f"{shape.metric or ''}{{{body}}}" + (f"[{shape.range}]" if shape.range else "")
    for function in reversed(shape.functions):
        inner = f"{function}({inner})"
    return f"{shape.aggregation} by ({shape.label}) ({inner})"


def plan_groups(
    queries: Iterable[str],
    max_values: int = MAX_GROUP_VALUES,
    known: Mapping[str, Sequence[Shape]] | None = None,
) -> dict[str, Group]:
    """Member query -> its group, for queries that share a shape with at least one other distinct query.

    ``known`` gives the shapes of queries already analysed (a plan carries them), so they are not
    worked out again.
    """
    if max_values < 2:
        return {}
    distinct = list(dict.fromkeys(queries))
    candidates: dict[tuple[object, ...], dict[str, Shape]] = {}
    for query in distinct:
        found = known.get(query) if known is not None else None
        for shape in shapes(query) if found is None else found:
            candidates.setdefault(shape.key, {}).setdefault(query, shape)
    assigned: dict[str, Group] = {}
    for members in sorted(candidates.values(), key=len, reverse=True):
        by_value: dict[str, tuple[str, Shape]] = {}
        for query, shape in members.items():
            if query not in assigned:
                by_value.setdefault(shape.value, (query, shape))
        items = list(by_value.items())
        for offset in range(0, len(items), max_values):
            chunk = items[offset : offset + max_values]
            if len(chunk) < 2:
                continue
            first = chunk[0][1][1]
            group = Group(first.label, grouped_text(first, [value for value, _ in chunk]))
            for value, (query, _) in chunk:
                group.members[value] = query
                group.value_of[query] = value
                assigned[query] = group
    return assigned

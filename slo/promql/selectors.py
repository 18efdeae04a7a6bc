"""Every vector selector of a PromQL query, found on the parsed AST, so diagnosis can name each one.

A query that matched nothing, or an ``or vector(0)`` that turned an empty selector into a clean zero,
can only be explained selector by selector. Each :class:`Selector` carries its parts as the parser
read them (metric name, matchers with unescaped values, range, offset, ``@``) and PromQL text of its
own that the caller can send back to the server: :attr:`Selector.text` (the instant selector),
:meth:`Selector.without` (one label's matchers dropped) and :meth:`Selector.over` (as a range
selector with the query's own modifiers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache

import promql_parser as pp

from slo.promql.escape import escape_string
from slo.promql.parse import Expr, children, format_at, format_duration, match_op, parse

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~" or "!~"
    value: str  # unescaped

    @property
    def text(self) -> str:
        """The matcher as PromQL (a label name that is not an identifier is quoted, as Prometheus 3 writes it)."""
        label = self.label if _LABEL.fullmatch(self.label) else f'"{escape_string(self.label)}"'
        return f'{label}{self.op}"{escape_string(self.value)}"'


@dataclass(frozen=True, slots=True)
class Selector:
    """One vector selector of a query: its parts and PromQL text for it.

    ``range`` is the selector's own range (``m[5m]``); ``within`` the total range of the subqueries
    around it (``max_over_time(m[1h:5m])`` gives ``within="1h"``), so :attr:`lookup_range` is the
    span of samples the query reads from it before the lookback delta.
    """

    text: str
    metric: str | None
    matchers: tuple[Matcher, ...]
    range: str | None = None
    offset: str | None = None
    at: str | None = None
    within: str | None = None
    or_matchers: tuple[tuple[Matcher, ...], ...] = ()

    @property
    def lookup_range(self) -> str | None:
        """Own range plus enclosing subquery ranges, or None for an instant selector outside subqueries."""
        return _lookup_range(self.range, self.within)

    def without(self, label: str) -> str:
        """The selector with every matcher on ``label`` removed (e.g. to list a histogram's ``le``)."""
        kept = tuple(m for m in self.matchers if m.label != label)
        groups = tuple(tuple(m for m in group if m.label != label) for group in self.or_matchers)
        if any(not group for group in groups):
            groups = ()  # an alternative left without matchers matches every series of the name
        return _selector_text(self._name(), kept, groups, always_braces=True)

    @property
    def instant(self) -> str:
        """The instant selector with its own ``offset`` and ``@``: the series the query itself reads."""
        return self.text + self._modifiers()

    def over(self, window: str) -> str:
        """The selector as a range selector over ``window``, keeping its own ``offset`` and ``@``."""
        return f"{self.text}[{window}]{self._modifiers()}"

    def _modifiers(self) -> str:
        if not self.offset and not self.at:  # the usual case, asked for every selector of a large gate
            return ""
        return "".join(f" {part}" for part in (f"offset {self.offset}" if self.offset else None, self.at) if part)

    def _name(self) -> str | None:
        named = any(m.label == "__name__" for m in self.matchers)
        return None if named else self.metric


@lru_cache(maxsize=1024)
def _lookup_range(own: str | None, within: str | None) -> str | None:
    """Cached: a large gate reads thousands of selectors over a handful of ranges."""
    spans = [pp.parse_duration(part) for part in (own, within) if part]
    return format_duration(sum(spans, timedelta(0))) if spans else None


def _selector_text(
    name: str | None,
    matchers: tuple[Matcher, ...],
    groups: tuple[tuple[Matcher, ...], ...],
    *,
    always_braces: bool = False,
) -> str:
    if groups:
        body = " or ".join(",".join(m.text for m in group) for group in groups)
    else:
        body = ",".join(m.text for m in matchers)
    if not body and name and not always_braces:
        return name
    return f"{name or ''}{{{body}}}"


def _convert(matchers: list[pp.Matcher]) -> tuple[Matcher, ...]:
    return tuple(Matcher(m.name, match_op(m.op), m.value) for m in matchers)


def _selector(node: pp.VectorSelector, window: timedelta | None, within: timedelta) -> Selector:
    matchers = _convert(node.matchers.matchers)
    groups = tuple(_convert(group) for group in node.matchers.or_matchers)
    names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
    metric = node.name if node.name is not None else (names[0] if len(names) == 1 else None)
    return Selector(
        text=_selector_text(node.name, matchers, groups),
        metric=metric,
        matchers=matchers,
        range=format_duration(window) if window is not None else None,
        offset=format_duration(node.offset) if node.offset is not None else None,
        at=format_at(node.at) if node.at is not None else None,
        within=format_duration(within) if within else None,
        or_matchers=groups,
    )


def selectors_of(expr: Expr) -> list[Selector]:
    """Every vector selector of a parsed query, in the order written, duplicates removed."""
    found: dict[Selector, None] = {}

    def visit(node: Expr, within: timedelta) -> None:
        if isinstance(node, pp.MatrixSelector):
            found.setdefault(_selector(node.vector_selector, node.range, within), None)
            return
        if isinstance(node, pp.VectorSelector):
            found.setdefault(_selector(node, None, within), None)
            return
        if isinstance(node, pp.SubqueryExpr) and node.range is not None:
            within = within + node.range
        for child in children(node):
            visit(child, within)

    visit(expr, timedelta(0))
    return list(found)


def find_selectors(query: str) -> list[Selector]:
    """Every vector selector in ``query``, in order, duplicates removed.

    Raises :class:`~slo.promql.parse.PromqlSyntaxError` when ``query`` is not valid PromQL.
    """
    return selectors_of(parse(query))


ABSENCE_FUNCTIONS = frozenset({"absent", "absent_over_time"})
"""Functions whose argument is expected to match nothing: an empty selector there is the measurement."""


def find_absence_selectors(query: str) -> list[Selector]:
    """The selectors of ``query`` inside ``absent(…)`` or ``absent_over_time(…)``, in order.

    Raises :class:`~slo.promql.parse.PromqlSyntaxError` when ``query`` is not valid PromQL.
    """
    return absence_selectors_of(parse(query))


def absence_selectors_of(expr: Expr) -> list[Selector]:
    """:func:`find_absence_selectors` of a parsed query."""
    found: dict[Selector, None] = {}

    def visit(node: Expr, within: timedelta) -> None:
        if isinstance(node, pp.Call) and node.func.name in ABSENCE_FUNCTIONS:
            for selector in selectors_of(node):
                found.setdefault(_with_within(selector, within), None)
            return
        if isinstance(node, pp.SubqueryExpr) and node.range is not None:
            within = within + node.range
        for child in children(node):
            visit(child, within)

    visit(expr, timedelta(0))
    return list(found)


def _with_within(selector: Selector, within: timedelta) -> Selector:
    """``selector`` as :func:`selectors_of` on the whole query would see it, with enclosing subquery ranges."""
    if not within:
        return selector
    inner = pp.parse_duration(selector.within) if selector.within else timedelta(0)
    return replace(selector, within=format_duration(within + inner))

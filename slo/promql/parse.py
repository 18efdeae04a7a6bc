"""The one door to the PromQL parser: parse, validate, and print the parts other modules need.

Every module that reads PromQL text goes through here (``promql-parser``, the Rust parser GreptimeDB
uses), so offline ``validate``, selector diagnosis, grouping and templating agree on what a query is.
Parse errors become :class:`PromqlSyntaxError`, a ``ValueError`` of ours carrying the parser's message,
so callers never depend on the binding's exception types.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import TypeAlias

import promql_parser as pp

from slo.errors import InputError

Expr: TypeAlias = pp.Expr
Structure: TypeAlias = tuple[object, ...]


def _register_prometheus2_functions() -> None:
    """Teach the parser ``holt_winters``: Prometheus 3 renamed it, but 2.x servers (Debian ships 2.42) still
    answer it, and offline validation must never refuse a query the server would run."""
    matrix, scalar, vector = pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Vector
    try:
        pp.register_extra_functions([pp.Function("holt_winters", [matrix, scalar, scalar], vector)])
    except ValueError:
        pass  # already known to this version of the parser


_register_prometheus2_functions()


class PromqlSyntaxError(InputError):
    """A query the PromQL parser rejects; the message is the parser's own (a ValueError, exit 2)."""


@lru_cache(maxsize=1024)
def parse(query: str) -> Expr:
    """The AST of ``query``; raises :class:`PromqlSyntaxError` when it is not valid PromQL.

    Cached (ASTs are never mutated here) so the analyses that follow a parse in quick succession
    (validation then grouping shape in a plan, selectors for diagnosis) share it; the cache is small
    because an AST costs about 3 KiB and a large gate plans tens of thousands of queries.
    """
    try:
        return pp.parse(query)
    except ValueError as exc:
        raise PromqlSyntaxError(str(exc) or "invalid PromQL") from None


def canonical(query: str) -> str:
    """Canonical PromQL text (the parser's own printing): two spellings of one expression compare equal.

    Text that does not parse is returned whitespace-trimmed, so it still compares as written."""
    try:
        return str(parse(query).prettify())
    except PromqlSyntaxError:
        return query.strip()


def validate(query: str) -> str | None:
    """The parser's message when ``query`` is not valid PromQL, else None."""
    try:
        parse(query)
    except PromqlSyntaxError as exc:
        return str(exc)
    return None


def format_duration(delta: timedelta) -> str:
    """A duration as PromQL writes it (``5m``, ``1h30m``, ``-5m``)."""
    if delta < timedelta(0):
        return "-" + pp.display_duration(-delta)
    return pp.display_duration(delta)


def format_at(at: pp.AtModifier) -> str:
    """The ``@`` modifier as PromQL text: ``@ start()``, ``@ end()`` or ``@ <unix seconds>``.

    Read through the binding's own text: its ``.at`` attribute panics (a BaseException) on a negative
    timestamp, and the binding stores a negative ``@`` as 0 anyway.
    """
    return str(at)


_MATCH_OPS: tuple[tuple[pp.MatchOp, str], ...] = (  # the binding's enums are not hashable: no dict
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)


def match_op(op: pp.MatchOp) -> str:
    """The PromQL spelling of a matcher operator."""
    for known, text in _MATCH_OPS:
        if op == known:
            return text
    raise ValueError(f"unknown matcher operator {op}")


def children(expr: Expr) -> list[Expr]:
    """The sub-expressions of ``expr`` in the order they are written."""
    if isinstance(expr, pp.AggregateExpr):
        param = [expr.param] if isinstance(expr.param, pp.Expr) else []
        return [*param, expr.expr]
    if isinstance(expr, pp.BinaryExpr):
        return [expr.lhs, expr.rhs]
    if isinstance(expr, pp.UnaryExpr | pp.ParenExpr | pp.SubqueryExpr):
        return [expr.expr]
    if isinstance(expr, pp.Call):
        return [arg for arg in expr.args if isinstance(arg, pp.Expr)]
    if isinstance(expr, pp.MatrixSelector):
        return [expr.vector_selector]
    return []


def _matchers(matchers: pp.Matchers) -> Structure:
    return (
        tuple((m.name, match_op(m.op), m.value) for m in matchers.matchers),
        tuple(tuple((m.name, match_op(m.op), m.value) for m in group) for group in matchers.or_matchers),
    )


def _modifiers(expr: pp.VectorSelector | pp.SubqueryExpr) -> Structure:
    return (
        format_duration(expr.offset) if expr.offset is not None else None,
        format_at(expr.at) if expr.at is not None else None,
    )


def structure(expr: Expr) -> Structure:
    """A plain nested-tuple form of the AST: equal exactly when two queries mean the same expression.

    Whitespace, comments, quote style and escapes do not show; every string value appears unescaped.
    Tests use it to prove that a substituted value changed one string literal and nothing else.
    """
    kind = type(expr).__name__
    if isinstance(expr, pp.VectorSelector):
        return (kind, expr.name, _matchers(expr.matchers), *_modifiers(expr))
    if isinstance(expr, pp.MatrixSelector):
        return (kind, format_duration(expr.range), structure(expr.vector_selector))
    if isinstance(expr, pp.SubqueryExpr):
        step = format_duration(expr.step) if expr.step is not None else None
        span = format_duration(expr.range) if expr.range is not None else None
        return (kind, span, step, *_modifiers(expr), structure(expr.expr))
    if isinstance(expr, pp.NumberLiteral):
        return (kind, repr(expr.val))
    if isinstance(expr, pp.StringLiteral):
        return (kind, expr.val)
    if isinstance(expr, pp.Call):
        return (kind, expr.func.name, tuple(structure(a) for a in children(expr)))
    if isinstance(expr, pp.AggregateExpr):
        modifier = (str(expr.modifier.type), tuple(expr.modifier.labels)) if expr.modifier is not None else None
        return (kind, str(expr.op), modifier, tuple(structure(c) for c in children(expr)))
    if isinstance(expr, pp.BinaryExpr):
        binary = expr.modifier
        detail = None
        if binary is not None:
            matching = (str(binary.matching.type), tuple(binary.matching.labels)) if binary.matching else None
            groups = tuple(binary.group_labels) if binary.group_labels is not None else None
            detail = (str(binary.card), matching, binary.return_bool, groups)
        return (kind, str(expr.op), detail, structure(expr.lhs), structure(expr.rhs))
    return (kind, *(structure(c) for c in children(expr)))

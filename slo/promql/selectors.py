"""Find the vector selectors in a PromQL expression, so a query that matched nothing can say which.

This is a small lexer, not a PromQL parser: it skips strings, range/subquery brackets, function and
aggregation calls, grouping label lists (``by (...)``, ``on (...)``) and keywords, and reports every
remaining metric name with its ``{...}`` matchers. That is enough to name the selector that matches
no series and to find ``le`` matchers on histogram buckets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
}
_AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')\s*,?')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str  # unescaped


@dataclass(frozen=True)
class Selector:
    """One vector selector as written in the query (``text``) with its parsed parts."""

    text: str
    metric: str | None
    matchers: tuple[Matcher, ...]
    range: str | None = None

    def without(self, label: str) -> str:
        """The selector with every matcher on ``label`` removed (e.g. to list a histogram's ``le``)."""
        kept = [m for m in self.matchers if m.label != label]
        body = ",".join(f'{m.label}{m.op}"{_escape(m.value)}"' for m in kept)
        return f"{self.metric or ''}{{{body}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


def _skip_string(query: str, index: int) -> int:
    quote = query[index]
    index += 1
    while index < len(query):
        if query[index] == "\\":
            index += 2
            continue
        if query[index] == quote:
            return index + 1
        index += 1
    return index


def _matching(query: str, index: int, open_char: str, close_char: str) -> int:
    """Index just past the bracket that closes the one at ``index``."""
    depth = 0
    while index < len(query):
        char = query[index]
        if char in "\"'`":
            index = _skip_string(query, index)
            continue
        if char == open_char:
            depth += 1
        elif char == close_char:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return index


def parse_matchers(body: str) -> tuple[Matcher, ...]:
    """Matchers of a ``{...}`` body (without the braces)."""
    matchers: list[Matcher] = []
    position = 0
    while position < len(body.strip()) and body[position:].strip():
        match = _MATCHER.match(body, position)
        if not match:
            break
        matchers.append(Matcher(match.group(1), match.group(2), _unquote(match.group(3))))
        position = match.end()
    return tuple(matchers)


def _next_char(query: str, index: int) -> tuple[str, int]:
    while index < len(query) and query[index].isspace():
        index += 1
    return (query[index] if index < len(query) else ""), index


def find_selectors(query: str) -> list[Selector]:
    """Every vector selector in ``query``, in order, duplicates removed."""
    found: dict[str, Selector] = {}
    index = 0
    while index < len(query):
        char = query[index]
        if char in "\"'`":
            index = _skip_string(query, index)
            continue
        if char == "[":
            index = _matching(query, index, "[", "]")
            continue
        if char == "#":
            newline = query.find("\n", index)
            index = len(query) if newline < 0 else newline
            continue
        if char.isdigit() or (char == "." and index + 1 < len(query) and query[index + 1].isdigit()):
            number = _NUMBER.match(query, index)
            index = number.end() if number else index + 1
            while index < len(query) and query[index].isalpha():  # duration units such as 5m
                index += 1
            continue
        ident = _IDENT.match(query, index)
        if ident or char == "{":
            name = ident.group(0) if ident else None
            end = ident.end() if ident else index
            following, at = _next_char(query, end)
            if name and name.lower() in _KEYWORDS:
                if name.lower() in _GROUPING and following == "(":
                    end = _matching(query, at, "(", ")")
                index = end
                continue
            if name and (following == "(" or name in _AGGREGATIONS):  # function or aggregation call
                index = end
                continue
            start = index
            matchers: tuple[Matcher, ...] = ()
            if following == "{":
                close = _matching(query, at, "{", "}")
                matchers = parse_matchers(query[at + 1 : close - 1])
                end = close
            text = query[start:end].strip()
            following, at = _next_char(query, end)
            window = None
            if following == "[":
                close = _matching(query, at, "[", "]")
                window = query[at + 1 : close - 1].strip()
            found.setdefault(text, Selector(text, name, matchers, window))
            index = end
            continue
        index += 1
    return list(found.values())

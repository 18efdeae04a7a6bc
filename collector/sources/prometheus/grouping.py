"""Answer many checks with one query: checks whose queries differ only in one label value.

A gate of a thousand SLOs, one per service, sends sixteen thousand queries that differ only in
``service="…"``. Prometheus answers the same question for a group of those values in one request,
``sum by (service) (increase(requests_total{service=~"a|b|c"}[1h]))``, and each check reads its own
series from that answer. This module finds such groups and serves each member query from its group's
response, so the engine keeps asking one query per role and window and the verdicts do not change.

Only queries whose shape makes the grouped answer *equal* to the individual one are grouped:

* an aggregation without grouping (``sum``, ``min``, ``max``, ``avg``, ``count``) around
* label-preserving range functions (``rate``, ``increase``, ``*_over_time``, …) around
* one vector selector with an equality matcher ``L="v"`` on a label ``L`` that no other matcher names.

For such a query the series that ``sum(f(m{L="v"}))`` aggregates are exactly the series of group
``L="v"`` in ``sum by (L) (f(m{L=~"v|w"}))``, in the same order, so the value is the same number.
Anything else (arithmetic, joins, nested aggregations, ``label_replace``) is sent as written.

Evidence stays exact: each outcome records the grouped text that was really sent, the digest of the
bytes that came back and, in ``selected``, the labels of the series its value was read from. When a
grouped answer is not the expected shape (an error, a series without ``L``, a value nobody asked for)
or a member's series is missing from it, those members are sent individually as written, so faults and
"no data" read exactly as they would without grouping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from slo.templating import escape_promql_string

MAX_GROUP_VALUES = 100
"""Label values per grouped query: keeps each recorded query short and each regex cheap to match.

``GATEPACK_GROUP_MAX`` overrides it for a run; 0 turns grouping off (every query is sent as written),
which the benchmark uses to show both figures."""

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
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[()\[\]{}"]')  # a whole string, a bracket, or a stray quote
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


@dataclass(frozen=True)
class Shape:
    """A groupable query taken apart: ``{aggregation}({head}{label}="{value}"{tail})``."""

    aggregation: str
    head: str
    label: str
    value: str
    tail: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.aggregation, self.head, self.label, self.tail)


@dataclass
class Group:
    """One grouped query and the member queries it answers, by the label value each one selects."""

    label: str
    text: str
    members: dict[str, str] = field(default_factory=dict)  # label value -> member query
    value_of: dict[str, str] = field(default_factory=dict)  # member query -> label value


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _closing(text: str, index: int, open_char: str, close_char: str) -> int | None:
    """Index just past the bracket that closes ``text[index]``, skipping quoted strings."""
    depth = 0
    for token in _TOKEN.finditer(text, index):
        char = token.group(0)
        if char == open_char:
            depth += 1
        elif char == close_char:
            depth -= 1
            if depth == 0:
                return token.end()
        elif char == '"':
            return None  # an unterminated string (a whole one is a single longer token, skipped)
    return None


def shapes(query: str) -> list[Shape]:
    """Every way ``query`` can join a group (one per equality matcher), or none when its form is not safe."""
    text = query.strip()
    head = _IDENT.match(text)
    if head is None or head.group(0) not in AGGREGATIONS:
        return []
    open_at = head.end()
    while open_at < len(text) and text[open_at].isspace():
        open_at += 1
    if open_at >= len(text) or text[open_at] != "(" or _closing(text, open_at, "(", ")") != len(text):
        return []
    aggregation = head.group(0)
    inner_start, inner_end = open_at + 1, len(text) - 1
    selector: tuple[int, int] | None = None
    position = inner_start
    while position < inner_end:
        char = text[position]
        if char.isspace() or char in "()":
            position += 1
            continue
        if char == "[":
            close = _closing(text, position, "[", "]")
            if close is None or not re.fullmatch(r"\[\s*[0-9smhdwy]+\s*\]", text[position:close]):
                return []
            position = close
            continue
        ident = _IDENT.match(text, position)
        if char == "{" or ident is not None:
            name_end = ident.end() if ident else position
            name = ident.group(0) if ident else None
            after = name_end
            while after < inner_end and text[after].isspace():
                after += 1
            if name is not None and after < inner_end and text[after] == "(":
                if name not in LABEL_PRESERVING:
                    return []
                position = after
                continue
            if selector is not None or after >= inner_end or text[after] != "{":
                return []  # a second selector, or one without matchers to vary
            close = _closing(text, after, "{", "}")
            if close is None:
                return []
            selector = (after + 1, close - 1)
            position = close
            continue
        return []
    if selector is None:
        return []
    return _matcher_shapes(text, aggregation, inner_start, inner_end, selector)


def _matcher_shapes(text: str, aggregation: str, start: int, end: int, selector: tuple[int, int]) -> list[Shape]:
    body_start, body_end = selector
    found: list[tuple[str, str, str, int, int]] = []
    position = body_start
    while position < body_end:
        match = _MATCHER.match(text, position, body_end)
        if match is None:
            return []
        found.append((match.group(1), match.group(2), match.group(3), match.start(1), match.end(3) + 1))
        position = match.end()
    labels = [label for label, *_ in found]
    result = []
    for label, op, raw, begin, finish in found:
        if op != "=" or label == "__name__" or labels.count(label) != 1:
            continue
        value = _unescape(raw)
        if value == "":
            continue  # L="" also matches series without L, which sum by (L) would not keep apart
        result.append(Shape(aggregation, text[start:begin], label, value, text[finish:end]))
    return result


def _regex_alternatives(values: Iterable[str]) -> str:
    return "|".join(_RE2_SPECIAL.sub(r"\\\1", value) for value in values)


def grouped_text(shape: Shape, values: list[str]) -> str:
    """The one query that answers every value: ``agg by (L) (…L=~"v1|v2"…)``."""
    regex = escape_promql_string(_regex_alternatives(values))
    return f'{shape.aggregation} by ({shape.label}) ({shape.head}{shape.label}=~"{regex}"{shape.tail})'


def plan_groups(queries: Iterable[str], max_values: int = MAX_GROUP_VALUES) -> dict[str, Group]:
    """Member query -> its group, for queries that share a shape with at least one other distinct query."""
    if max_values < 2:
        return {}
    distinct = list(dict.fromkeys(queries))
    candidates: dict[tuple[str, str, str, str], dict[str, Shape]] = {}
    for query in distinct:
        for shape in shapes(query):
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


class GroupingClient:
    """Serves instant queries at one time, answering grouped members from their group's response.

    Register every query with :meth:`add` before the first :meth:`instant`; the plan is fixed then,
    and a query registered later is simply sent on its own.
    """

    def __init__(self, client: PrometheusClient, at: float, max_values: int | None = None) -> None:
        self.client = client
        self.at = at
        self.max_values = configured_max_values() if max_values is None else max_values
        self._queries: list[str] = []
        self._plan: dict[str, Group] | None = None
        self._series: dict[str, dict[str, dict] | None] = {}  # grouped text -> its series by label value

    def add(self, queries: Iterable[str]) -> None:
        self._queries.extend(queries)

    @property
    def plan(self) -> dict[str, Group]:
        if self._plan is None:
            self._plan = plan_groups(self._queries, self.max_values)
        return self._plan

    async def instant(self, query: str) -> QueryResponse:
        group = self.plan.get(query)
        if group is None:
            return await self.client.instant(query, self.at)
        response = await self.client.instant(group.text, self.at)
        if group.text not in self._series:
            self._series[group.text] = _series_by_value(response, group)
        series = self._series[group.text]
        value = group.value_of[query]
        if series is None or value not in series:
            return await self.client.instant(query, self.at)
        return replace(response, result=[series[value]], selected=dict(series[value].get("metric", {})))


def configured_max_values() -> int:
    """``GATEPACK_GROUP_MAX`` when set to a whole number, else :data:`MAX_GROUP_VALUES`."""
    text = os.environ.get("GATEPACK_GROUP_MAX", "").strip()
    return int(text) if text.isdigit() else MAX_GROUP_VALUES


def _series_by_value(response: QueryResponse, group: Group) -> dict[str, dict] | None:
    """The grouped answer's series by label value, or None when it is not the shape grouping relies on."""
    if response.status != "ok" or response.result_type != "vector" or not isinstance(response.result, list):
        return None
    by_value: dict[str, dict] = {}
    for sample in response.result:
        metric = sample.get("metric") if isinstance(sample, dict) else None
        value = metric.get(group.label) if isinstance(metric, dict) else None
        if value is None or value not in group.members or value in by_value:
            return None
        by_value[value] = sample
    return by_value

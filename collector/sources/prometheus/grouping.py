"""Serve grouped queries: each member query answered from its group's one ``sum by (label)`` response.

Which queries may share a group, and the grouped text, are decided on the parsed query in
:mod:`slo.promql.grouping`; this module only sends the grouped queries and hands each member its own
series, so the engine keeps asking one query per role and window and the verdicts do not change.

Evidence stays exact: each outcome records the grouped text that was really sent, the digest of the
bytes that came back and, in ``selected``, the labels of the series its value was read from. When a
grouped answer is not the expected shape (an error, a series without ``L``, a value nobody asked for)
or a member's series is missing from it, those members are sent individually as written, so faults and
"no data" read exactly as they would without grouping.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from slo.promql.grouping import MAX_GROUP_VALUES, Group, Shape, plan_groups
from slo.results import Fault

RETRY_VALUES = 100
"""Label values per group when a larger group's request failed (see :meth:`GroupingClient._retry_smaller`)."""
Presence = bool | None
"""Whether a presence query found a series: True, False, or None when the backend did not answer cleanly."""


class GroupingClient:
    """Serves instant queries at one time, answering grouped members from their group's response.

    Register every query with :meth:`add` before the first :meth:`instant`; the plan is fixed then,
    and a query registered later is simply sent on its own.
    """

    def __init__(
        self, client: PrometheusClient, at: float, max_values: int | None = None, retry_values: int = RETRY_VALUES
    ) -> None:
        self.client = client
        self.at = at
        self.max_values = configured_max_values() if max_values is None else max_values
        self.retry_values = retry_values
        self._queries: list[str] = []
        self._shapes: dict[str, Sequence[Shape]] = {}
        self._plan: dict[str, Group] | None = None
        self._series: dict[str, dict[str, dict] | None] = {}  # grouped text -> its series by label value
        self._labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        """One dict per distinct label set: every member outcome keeps its ``selected`` labels until the packet
        is written, and the 16 outcomes of an SLO (2 roles × 8 windows, each from another grouped answer) have
        the same labels; sharing one dict instead of 16 decoded ones saves ~3 MiB at 1000 SLOs."""

    def add(self, queries: Iterable[str], shapes: Mapping[str, Sequence[Shape]] | None = None) -> None:
        """Register queries; ``shapes`` (query -> its shapes, from the plan) spares analysing them again."""
        self._queries.extend(queries)
        if shapes:
            self._shapes.update(shapes)

    @property
    def plan(self) -> dict[str, Group]:
        if self._plan is None:
            self._plan = plan_groups(self._queries, self.max_values, self._shapes)
            self._shapes = {}
        return self._plan

    async def answer_all(self, queries: Sequence[str]) -> list[QueryResponse]:
        """:meth:`instant` of every query, in order: each distinct request is sent once and all run at once.

        The same answers as awaiting :meth:`instant` per query, without a coroutine per query (a gate of a
        thousand SLOs has 16 000 of them, and scheduling those cost more than reading the answers).
        """
        plan = self.plan
        sent = {self._text(query, plan): None for query in queries}
        tasks = {text: self.client.instant(text, self.at) for text in sent}
        if tasks:
            # wait, not gather: gather's future holds every answer in its result, and the loop's handle that
            # resumes this task holds that future until the task next yields, which for a large gate is after
            # every check is decided (~9 MiB of decoded series at 1000 SLOs); each answer is read from its task
            await asyncio.wait(tasks.values())
        answers: list[QueryResponse | None] = [self._member(query, plan, tasks) for query in queries]
        retried = await self._retry_smaller(queries, answers, plan, tasks)
        missing = {q: self.client.instant(q, self.at) for q, a in zip(queries, answers, strict=True) if a is None}
        if missing:  # members whose series the grouped answer lacks, or whose group answered oddly
            await asyncio.gather(*missing.values())
        # each grouped answer has been read into its members: the client need not keep it for later requests
        self.client.forget((text for text in [*tasks, *retried] if text not in missing), self.at)
        self._series.clear()
        return [a if a is not None else missing[q].result() for q, a in zip(queries, answers, strict=True)]

    async def _retry_smaller(
        self,
        queries: Sequence[str],
        answers: list[QueryResponse | None],
        plan: dict[str, Group],
        tasks: Mapping[str, asyncio.Task[QueryResponse]],
    ) -> list[str]:
        """Members of large groups that failed, asked again in groups of :attr:`retry_values`; the texts sent.

        A group of a thousand values over a long window reads a thousand times the samples of one query, and
        a backend may refuse that (Prometheus' ``--query.max-samples``, a timeout, a 5xx) where smaller groups
        pass: sending each member alone instead would turn one refused request into a thousand. ``answers``
        is filled in place; members still unanswered go out alone, as before.
        """
        failed = [
            query
            for query, answer in zip(queries, answers, strict=True)
            if answer is None and _worth_splitting(plan.get(query), tasks, self.retry_values)
        ]
        if not failed:
            return []
        smaller = plan_groups(dict.fromkeys(failed), self.retry_values)
        retry = {group.text: self.client.instant(group.text, self.at) for group in smaller.values()}
        await asyncio.gather(*retry.values())
        for index, query in enumerate(queries):
            if answers[index] is None and query in smaller:
                answers[index] = self._member(query, smaller, retry)
        return list(retry)

    @staticmethod
    def _text(query: str, plan: dict[str, Group]) -> str:
        group = plan.get(query)
        return query if group is None else group.text

    def _member(
        self, query: str, plan: dict[str, Group], tasks: Mapping[str, asyncio.Task[QueryResponse]]
    ) -> QueryResponse | None:
        """The member's own answer read from its group's response; None when it must be sent alone."""
        group = plan.get(query)
        if group is None:
            return tasks[query].result()
        response = tasks[group.text].result()
        if group.text not in self._series:
            self._series[group.text] = _series_by_value(response, group)
        series = self._series[group.text]
        value = group.value_of[query]
        if series is None or value not in series:
            return None
        sample = series[value]
        return _selected(response, sample, self._shared_labels(sample.get("metric", {})))

    def _shared_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """``labels``, or an equal dict handed out before (nothing modifies them, so one serves every outcome)."""
        try:
            key = tuple(labels.items())
        except AttributeError:  # not a JSON object: kept as it came, the outcome reads it as it is
            return labels
        return self._labels.setdefault(key, labels)

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


def _selected(response: QueryResponse, sample: dict, labels: dict[str, str]) -> QueryResponse:
    """``response`` narrowed to one member's series (``dataclasses.replace`` without its per-call field scan)."""
    return QueryResponse(
        response.query,
        response.time,
        response.status,
        response.result_type,
        [sample],
        response.warnings,
        response.reason,
        response.fault,
        response.response_sha256,
        response.attempts,
        labels,  # the member's own labels (its sample's "metric"); nothing modifies them, so not copied
    )


_SPLIT_FAULTS = frozenset({Fault.BAD_DATA, Fault.TIMEOUT, Fault.TOO_LARGE, Fault.HTTP})
"""Faults a smaller query can avoid: refused as too expensive (422), too slow, too large, 5xx. Not an
unreachable backend or garbage, which every smaller request would meet again."""


def _worth_splitting(group: Group | None, tasks: Mapping[str, asyncio.Task[QueryResponse]], retry_values: int) -> bool:
    if group is None or len(group.members) <= retry_values or retry_values < 2:
        return False
    response = tasks[group.text].result()
    return response.status == "error" and response.fault in _SPLIT_FAULTS


def configured_max_values() -> int:
    """``GATEPACK_GROUP_MAX`` when set to a whole number, else :data:`MAX_GROUP_VALUES`.

    0 turns grouping off (every query is sent as written), which the benchmark uses to show both figures.
    """
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


async def presence(
    client: PrometheusClient, at: float, queries: Iterable[str], max_values: int | None = None
) -> dict[str, Presence]:
    """For each ``count(…)`` presence query, whether it found a series, asking grouped where possible.

    The presence queries of a large gate differ only in one label value, as their checks' queries do:
    ``count(last_over_time(m{service="a"}[1h]))`` for a hundred services becomes one
    ``count by (service) (last_over_time(m{service=~"a|b|…"}[1h]))``. Unlike a value query, a member
    missing from the grouped answer needs no second request: ``count by`` has a series for every value
    that has one, so a missing value is exactly an empty member. Only an answer of the wrong shape sends
    its members on their own.
    """
    distinct = list(dict.fromkeys(queries))
    plan = plan_groups(distinct, configured_max_values() if max_values is None else max_values)
    groups = {group.text: group for group in plan.values()}
    answers: dict[str, Presence] = {}

    async def alone(query: str) -> None:
        answers[query] = _found(await client.instant(query, at))

    async def grouped(group: Group) -> None:
        values = _present_values(await client.instant(group.text, at), group)
        if values is None:
            await asyncio.gather(*(alone(member) for member in group.members.values()))
            return
        for value, member in group.members.items():
            answers[member] = value in values

    await asyncio.gather(*(grouped(group) for group in groups.values()), *(alone(q) for q in distinct if q not in plan))
    return answers


def _found(response: QueryResponse) -> Presence:
    if response.status != "ok" or response.result_type != "vector" or not isinstance(response.result, list):
        return None
    return bool(response.result)


def _present_values(response: QueryResponse, group: Group) -> set[str] | None:
    """The label values a grouped ``count by`` answer has a series for, or None when it is not that shape."""
    by_value = _series_by_value(response, group)
    return None if by_value is None else set(by_value)

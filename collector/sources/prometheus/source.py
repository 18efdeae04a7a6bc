"""The Prometheus source: ``threshold`` and ``slo`` checks answered by a Prometheus-compatible backend.

It receives a gate's whole batch of checks, plans every query first (templating, burn-rate windows),
registers them with the grouping planner so checks that differ only in one label value share one
request, then sends each distinct query once. When every answer is in, it checks every selector of
every query for series (in bulk: answers that already prove a selector present are not asked again, the
rest are grouped), diagnoses suspicious outcomes (empty selectors, bucket boundaries that do not exist)
and decides each check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

from collector.sources.base import RunContext
from collector.sources.prometheus.client import PrometheusClient, QueryResponse, reduce_to_number
from collector.sources.prometheus.context import (
    ContextFetcher,
    ContextPlan,
    ContextSettings,
    plan_context,
    with_context,
)
from collector.sources.prometheus.diagnose import (
    PresenceCheck,
    check_selectors,
    diagnose,
    may_name_a_bucket,
    proves_presence,
    selectors_leave_alone,
)
from collector.sources.prometheus.grouping import GroupingClient
from slo.evaluate import error_result, evaluate_check
from slo.evidence import Backend, InputFile
from slo.promql.plan import PlanError, PlannedQuery, plan_check
from slo.results import CheckResult, Fault, QueryOutcome, Status
from slo.spec import Check, SloCheck, ThresholdCheck


def _outcome(planned: PlannedQuery, response: QueryResponse, backend: str, at: str) -> QueryOutcome:
    """The outcome of one planned query.

    Built without validation from values that already have the model's types (a gate of a thousand SLOs
    makes 16 000 of these, and validating each cost more than the rest of its handling);
    ``tests/test_query_outcome.py`` checks it equals the validated model.
    """
    reduced = reduce_to_number(response)
    fault = response.fault
    return _trusted_outcome(
        {
            "role": planned.role,
            "window": planned.window,
            "query": response.query,  # the text really sent: a grouped query when several checks shared one
            "backend": backend,
            "time": at,
            "status": _STATUS[reduced.status],
            "value": reduced.value,
            "series": reduced.series,
            "reason": reduced.reason,
            "fault": None if fault is None else _FAULT[fault],
            "response_sha256": response.response_sha256,
            "attempts": response.attempts,
            "warnings": list(response.warnings),
            "selected": response.selected,
            "empty_selectors": [],
        }
    )


_EVERY_FIELD = set(QueryOutcome.model_fields)
"""Every field is given, so every outcome shares this one set (pydantic only ever adds names to it, and every
name is in it already) instead of holding its own: 16 000 sets are several MiB."""
_STATUS = {status.value: status for status in Status}
_FAULT: dict[str, Fault] = {fault.value: fault for fault in Fault}
"""Enum members by value: a dict lookup instead of the enum's call machinery, 16 000 times per large gate
(a ``Fault`` member is a ``str`` equal to its value, so it finds itself)."""
_new_outcome = QueryOutcome.__new__
_set = object.__setattr__
assert not QueryOutcome.__pydantic_post_init__ and not QueryOutcome.__private_attributes__


def _trusted_outcome(fields: dict[str, object]) -> QueryOutcome:
    """What ``QueryOutcome.model_construct(**fields)`` builds when ``fields`` names every field in order.

    ``model_construct`` looks every field up for aliases and defaults first; with all of them given, that
    is only cost. The model has no post-init hook and no private attributes (asserted at import).
    """
    outcome = _new_outcome(QueryOutcome)
    _set(outcome, "__dict__", fields)
    _set(outcome, "__pydantic_fields_set__", _EVERY_FIELD)
    _set(outcome, "__pydantic_extra__", None)
    _set(outcome, "__pydantic_private__", None)
    return outcome


class PrometheusSource:
    """``threshold`` and ``slo`` checks from one backend; owns its client unless told otherwise."""

    name = "prometheus"
    kinds = frozenset({"threshold", "slo"})

    def __init__(
        self, client: PrometheusClient, *, owns_client: bool = True, context: ContextSettings | None = None
    ) -> None:
        self.client = client
        self._owns_client = owns_client
        self.context = context  # None: no context series (collect --no-context)

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def backends(self) -> list[Backend]:
        return [Backend(kind="prometheus", url=self.client.public_url, headers=self.client.config.public_headers)]

    def inputs(self) -> list[InputFile]:
        return []

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        # every query is planned (and grouped) before any request goes out
        grouper = GroupingClient(self.client, context.at)
        batch: list[tuple[Check, list[PlannedQuery]]] = []
        for check in checks:
            try:
                planned = plan_check(check, context.variables)
            except PlanError as exc:
                yield error_result(check, str(exc), context.evaluated_at)
                continue
            grouper.add((p.query for p in planned), {p.query: p.facts.shapes for p in planned})
            batch.append((check, planned))
        flat = [p.query for _, planned in batch for p in planned]
        answers = await grouper.answer_all(flat)
        del flat
        backend = self.client.public_url
        # selector presence is asked once for the whole batch, after every answer that can prove it is in;
        # a query that failed is decided by its fault, so its selectors are not asked about
        found = PresenceCheck(self.client, context.at)
        outcomes: list[list[QueryOutcome]] = []
        position = 0
        for _, planned in batch:
            decided = []
            for p in planned:
                response = answers[position]
                position += 1
                outcome = _outcome(p, response, backend, context.evaluated_at)
                decided.append(outcome)
                if outcome.status == Status.ERROR:
                    continue
                proven = proves_presence(p.query, response, p.facts)
                checked = p.facts.checked
                if proven is not None:
                    found.prove(proven)
                    if len(checked) == 1 and checked[0] == proven:
                        continue  # its only selector is proven here: wanting it would only be filtered out again
                found.want(checked)
            outcomes.append(decided)
        del answers
        await found.run()
        if self.context is None:
            for (check, planned), decided in zip(batch, outcomes, strict=True):
                yield await self._decide(check, planned, decided, found, context)
            return
        # context ranges go out only once every verdict is decided: they can never delay or fault a verdict
        decided_results = [
            await self._decide(check, planned, decided, found, context)
            for (check, planned), decided in zip(batch, outcomes, strict=True)
        ]
        plans = self._context_plans(batch, decided_results, context)
        contexts = await ContextFetcher(self.client).fetch(plans)
        for decided_result in decided_results:
            yield with_context(decided_result, contexts.get(decided_result.id))

    def _context_plans(
        self, batch: list[tuple[Check, list[PlannedQuery]]], decided: Sequence[CheckResult], context: RunContext
    ) -> list[ContextPlan]:
        """Context for every check whose own queries reached the backend cleanly.

        A check whose query faulted (unreachable, timeout, 5xx, garbage) gets none: its history would meet
        the same fault, and a failing backend is not asked twice as much.
        """
        assert self.context is not None
        plans = []
        for (check, _), result in zip(batch, decided, strict=True):
            if any(q.status == Status.ERROR and q.fault is not None for q in result.queries):
                continue
            plan = plan_context(check, context.variables, context.at, self.context)
            if plan is not None:
                plans.append(plan)
        return plans

    async def _decide(
        self,
        check: Check,
        planned: list[PlannedQuery],
        outcomes: list[QueryOutcome],
        found: PresenceCheck,
        context: RunContext,
    ) -> CheckResult:
        if isinstance(check, ThresholdCheck | SloCheck):
            outcomes = [
                o
                if selectors_leave_alone(o, found, p.facts)
                else check_selectors(o, p.query, check, _variables(context.variables, p), found, p.facts)
                for o, p in zip(outcomes, planned, strict=True)
            ]
        # only those can be diagnosed; no coroutine for the rest
        if any(may_name_a_bucket(o, p.query) for o, p in zip(outcomes, planned, strict=True)):
            outcomes = list(await asyncio.gather(*(diagnose(self.client, o, context.at) for o in outcomes)))
        return evaluate_check(check, outcomes, context.evaluated_at)


def _variables(variables: Mapping[str, str], planned: PlannedQuery) -> dict[str, str]:
    """The values the query was rendered with, so ``allow_empty`` entries render the same way."""
    return {**variables, "window": planned.window} if planned.window is not None else dict(variables)

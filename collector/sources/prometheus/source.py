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
    checked_selectors,
    diagnose,
    proves_presence,
)
from collector.sources.prometheus.grouping import GroupingClient
from slo.evaluate import error_result, evaluate_check
from slo.evidence import Backend, InputFile
from slo.promql.plan import PlanError, PlannedQuery, plan_check
from slo.results import CheckResult, QueryOutcome, Status
from slo.spec import Check, SloCheck, ThresholdCheck


def _outcome(planned: PlannedQuery, response: QueryResponse, backend: str, at: str) -> QueryOutcome:
    reduced = reduce_to_number(response)
    return QueryOutcome(
        role=planned.role,
        window=planned.window,
        query=response.query,  # the text really sent: a grouped query when several checks shared one
        backend=backend,
        time=at,
        status=reduced.status,
        value=reduced.value,
        series=reduced.series,
        reason=reduced.reason,
        fault=response.fault,
        response_sha256=response.response_sha256,
        attempts=response.attempts,
        warnings=response.warnings,
        selected=response.selected,
    )


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
            grouper.add(p.query for p in planned)
            batch.append((check, planned))
        answered = await asyncio.gather(
            *(asyncio.gather(*(grouper.instant(p.query) for p in planned)) for _, planned in batch)
        )
        backend = self.client.public_url
        outcomes = [
            [_outcome(p, r, backend, context.evaluated_at) for p, r in zip(planned, responses, strict=True)]
            for (_, planned), responses in zip(batch, answered, strict=True)
        ]
        # selector presence is asked once for the whole batch, after every answer that can prove it is in;
        # a query that failed is decided by its fault, so its selectors are not asked about
        found = PresenceCheck(self.client, context.at)
        for (_, planned), responses, decided in zip(batch, answered, outcomes, strict=True):
            for p, response, outcome in zip(planned, responses, decided, strict=True):
                if outcome.status == Status.ERROR:
                    continue
                proven = proves_presence(p.query, response)
                if proven is not None:
                    found.prove(proven)
                found.want(checked_selectors(p.query))
        await found.run()
        pending = [
            asyncio.ensure_future(self._decide(check, planned, decided, found, context))
            for (check, planned), decided in zip(batch, outcomes, strict=True)
        ]
        if self.context is None:
            for next_done in asyncio.as_completed(pending):
                yield await next_done
            return
        # context ranges go out only once every verdict is decided: they can never delay or fault a verdict
        decided_results = await asyncio.gather(*pending)
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
                check_selectors(o, p.query, check, _variables(context.variables, p), found)
                for o, p in zip(outcomes, planned, strict=True)
            ]
        outcomes = list(await asyncio.gather(*(diagnose(self.client, o, context.at) for o in outcomes)))
        return evaluate_check(check, outcomes, context.evaluated_at)


def _variables(variables: Mapping[str, str], planned: PlannedQuery) -> dict[str, str]:
    """The values the query was rendered with, so ``allow_empty`` entries render the same way."""
    return {**variables, "window": planned.window} if planned.window is not None else dict(variables)

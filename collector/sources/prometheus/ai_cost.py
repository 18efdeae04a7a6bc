"""``ai_cost`` checks with ``source: prometheus``: tokens from the GenAI histogram, priced with ``--pricing``.

One instant query per check (identical queries share one request through the client's cache), answered
per model and token type and priced in :mod:`slo.aicost_metrics`. The routing key is its own
(:data:`collector.sources.base.PROMETHEUS_COST_KIND`), so a run with both traces and Prometheus
sends each ``ai_cost`` check to the source its spec names, never to whichever came first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from collector.sources.base import PROMETHEUS_COST_KIND, RunContext
from collector.sources.prometheus.client import PrometheusClient, QueryResponse
from slo.aicost_metrics import TokenRow, cost_query, decide_metric_cost, rows_of
from slo.evaluate import error_result
from slo.evidence import Backend, InputFile
from slo.pricing import PriceTable
from slo.promql.plan import PlanError
from slo.results import CheckResult, Fault, QueryOutcome, Status
from slo.spec import AiCostCheck, Check


class PrometheusCostSource:
    """Prometheus-backed ``ai_cost`` checks over one backend and one price table."""

    name = "prometheus"
    kinds = frozenset({PROMETHEUS_COST_KIND})

    def __init__(
        self,
        client: PrometheusClient,
        pricing: PriceTable | None,
        pricing_input: InputFile | None = None,
        *,
        owns_client: bool = True,
    ) -> None:
        self.client = client
        self.pricing = pricing
        self._pricing_input = pricing_input
        self._owns_client = owns_client

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def backends(self) -> list[Backend]:
        return [Backend(kind="prometheus", url=self.client.public_url, headers=self.client.config.public_headers)]

    def inputs(self) -> list[InputFile]:
        return [self._pricing_input] if self._pricing_input is not None else []

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def evaluate(self, checks: Sequence[Check], context: RunContext) -> AsyncIterator[CheckResult]:
        planned: list[tuple[AiCostCheck, str]] = []
        for check in checks:
            if not isinstance(check, AiCostCheck):
                yield error_result(check, f"not a Prometheus ai_cost check: {check.kind}", context.evaluated_at)
                continue
            try:
                planned.append((check, cost_query(check, context.variables)))
            except PlanError as exc:
                yield error_result(check, str(exc), context.evaluated_at)
        answers = await asyncio.gather(*(self.client.instant(query, context.at) for _, query in planned))
        for (check, _), response in zip(planned, answers, strict=True):
            yield self._decide(check, response, context)

    def _decide(self, check: AiCostCheck, response: QueryResponse, context: RunContext) -> CheckResult:
        rows: list[TokenRow] = []
        status, reason, fault = Status.OK, response.reason, response.fault
        if response.status != "ok":
            status = Status.ERROR
        else:
            try:
                rows = rows_of(response.result_type, response.result)
            except ValueError as exc:
                status, reason, fault = Status.ERROR, f"malformed token-usage answer: {exc}", Fault.GARBAGE
        outcome = QueryOutcome(
            role="tokens",
            window=check.window,
            query=response.query,
            backend=self.client.public_url,
            time=context.evaluated_at,
            status=status if status == Status.ERROR or rows else Status.NO_DATA,
            value=sum(r.value for r in rows) if rows else None,
            series=len(rows),
            reason=reason,
            fault=fault,
            response_sha256=response.response_sha256,
            attempts=response.attempts,
            warnings=response.warnings,
        )
        return decide_metric_cost(check, rows, self.pricing, context.at, context.evaluated_at, outcome)

"""A batch of trace and cost checks decided over one stream of spans: shared by every span-returning source.

The OTLP file, Jaeger and Tempo's search all produce spans; each check keeps its own running
aggregate, so one pass over the spans answers the whole batch whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slo.aicost import CostAggregator, decide_cost
from slo.evaluate import error_result
from slo.pricing import PriceTable
from slo.results import CheckResult, QueryOutcome
from slo.spec import AiCostCheck, Check, TraceCheck
from slo.spill import SpillFactory
from slo.traces import Span, TraceAggregator, decide_trace

TRACE_KINDS = frozenset({"trace", "ai_cost"})


def _everything(span: Span) -> bool:
    return True


@dataclass
class SpanBatch:
    """Aggregators for the checks of one gate; feed spans with :meth:`add`, then read :meth:`results`."""

    checks: Sequence[Check]
    at: float
    pricing: PriceTable | None = None
    traces: list[tuple[TraceCheck, TraceAggregator]] = field(default_factory=list)
    costs: list[tuple[AiCostCheck, CostAggregator]] = field(default_factory=list)
    rejected: list[Check] = field(default_factory=list)
    prefiltered: bool = False
    """The backend already applied the checks' filters (Tempo search): only the window is checked here."""
    spill: SpillFactory | None = None
    """Where exact aggregates go past their memory budget (a file scan's temp files); None: memory."""

    def __post_init__(self) -> None:
        for check in self.checks:
            if isinstance(check, TraceCheck):
                self.traces.append((check, TraceAggregator(check, self.at, self.spill)))
            elif isinstance(check, AiCostCheck):
                self.costs.append((check, CostAggregator(check, self.at, self.pricing, self.spill)))
            else:
                self.rejected.append(check)
        if self.prefiltered:
            for _, trace_aggregator in self.traces:
                trace_aggregator.match = _everything
            for _, cost_aggregator in self.costs:
                cost_aggregator.match = _everything
        self._adders = [a.add for _, a in self.traces] + [a.add for _, a in self.costs]

    def add(self, span: Span) -> None:
        for add in self._adders:
            add(span)

    def add_all(self, spans: Iterable[Span]) -> int:
        adders = self._adders
        n = 0
        for span in spans:
            n += 1
            for add in adders:
                add(span)
        return n

    def partial(self) -> list[dict[str, Any]]:
        """Every aggregator's picklable state, in check order (a worker's part of a file)."""
        return [a.state() for _, a in self.traces] + [c.state() for _, c in self.costs]

    def merge(self, partial: list[dict[str, Any]]) -> None:
        """Add a :meth:`partial` of a batch of the same checks, from a later part of the same stream."""
        aggregators: list[TraceAggregator | CostAggregator] = [a for _, a in self.traces] + [c for _, c in self.costs]
        for aggregator, state in zip(aggregators, partial, strict=True):
            aggregator.merge_state(state)

    def results(
        self,
        evaluated_at: str,
        *,
        complete: bool = True,
        notes: list[str] | None = None,
        queries: list[QueryOutcome] | None = None,
        cost_source: str = "traces",
    ) -> list[CheckResult]:
        out = [error_result(c, f"not a trace check: {c.kind}", evaluated_at) for c in self.rejected]
        for check, aggregator in self.traces:
            measurement = aggregator.measurement(complete=complete, notes=notes)
            out.append(decide_trace(check, measurement, evaluated_at, queries))
        for cost_check, cost in self.costs:
            out.append(
                decide_cost(
                    cost_check,
                    cost,
                    evaluated_at,
                    complete=complete,
                    notes=notes,
                    queries=queries,
                    cost_source=cost_source,
                )
            )
        return out

    def fail_all(self, reason: str, evaluated_at: str, queries: list[QueryOutcome] | None = None) -> list[CheckResult]:
        """Every check an ``error`` with one reason (an unreadable input)."""
        return [error_result(c, reason, evaluated_at, queries=list(queries or [])) for c in self.checks]

"""Turn checks into the exact queries to send: placeholders filled, one query per role and window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from slo.burnrate import default_conditions, windows_to_query
from slo.errors import InputError
from slo.promql.facts import QueryFacts, query_facts
from slo.spec import BurnRateWindow, Check, SloCheck, ThresholdCheck
from slo.templating import TemplateError, render


@dataclass(frozen=True)
class PlannedQuery:
    role: str
    window: str | None
    query: str
    facts: QueryFacts = field(default=QueryFacts(None), compare=False, repr=False)
    """The query's shapes and selectors, from the parse that validated it (the collector reuses them)."""


class PlanError(InputError):
    """A check whose queries cannot be rendered (missing or unsafe variable) or are not valid PromQL."""


def _planned(role: str, window: str | None, template: str, variables: Mapping[str, str]) -> PlannedQuery:
    """One rendered query, parsed here so a syntax error is found offline, before any request.

    Its grouping shapes and selectors come from the same analysis (:mod:`slo.promql.facts`) and travel
    with it, so neither grouping nor selector diagnosis parses it again.
    """
    query = render(template, variables)
    facts = query_facts(query)
    if facts.problem is not None:
        raise PlanError(f"{role} query is not valid PromQL ({facts.problem}): {query}")
    # what PlannedQuery(role, window, query, facts) makes, without a frozen dataclass's per-field
    # object.__setattr__ (16 000 plans for a gate of a thousand SLOs)
    planned: PlannedQuery = _new(PlannedQuery)
    _set(planned, "__dict__", {"role": role, "window": window, "query": query, "facts": facts})
    return planned


_new = object.__new__
_set = object.__setattr__
assert [f.name for f in fields(PlannedQuery)] == ["role", "window", "query", "facts"]
assert not hasattr(PlannedQuery, "__post_init__") and not hasattr(PlannedQuery, "__slots__")


def conditions_for(check: SloCheck) -> list[BurnRateWindow]:
    """The spec's own alert conditions, else the workbook defaults for its period."""
    return list(check.alerting) if check.alerting else default_conditions(check.period)


def plan_check(check: Check, variables: Mapping[str, str]) -> list[PlannedQuery]:
    """Queries a Prometheus-backed check needs; empty for kinds that read no backend."""
    try:
        if isinstance(check, ThresholdCheck):
            return [_planned("value", None, check.query, variables)]
        if isinstance(check, SloCheck):
            numerator_role = "good" if check.good is not None else "bad"
            numerator = check.good if check.good is not None else check.bad
            assert numerator is not None
            planned: list[PlannedQuery] = []
            for window in windows_to_query(check.period, conditions_for(check)):
                scoped = {**variables, "window": window}
                planned.append(_planned(numerator_role, window, numerator, scoped))
                planned.append(_planned("total", window, check.total, scoped))
            return planned
    except TemplateError as exc:
        raise PlanError(str(exc)) from None
    return []

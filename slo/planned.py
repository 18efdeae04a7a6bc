"""Every PromQL text a check sends, without the pricing or verdict code: what ``gatepack validate`` parses.

The threshold and SLO plans come from :mod:`slo.promql.plan`; an ``ai_cost`` check with ``source:
prometheus`` sends one token-usage query (priced in :mod:`slo.aicost_metrics`). Kept apart from the pricing
and result models so that validating specs does not import them.
"""

from __future__ import annotations

from collections.abc import Mapping

from slo.promql.parse import validate
from slo.promql.plan import PlanError, plan_check
from slo.promql.selectors import find_selectors
from slo.spec import AiCostCheck, Check
from slo.templating import TemplateError, render

REQUEST_MODEL = "gen_ai_request_model"
RESPONSE_MODEL = "gen_ai_response_model"
TOKEN_TYPE = "gen_ai_token_type"
GROUPING = (REQUEST_MODEL, RESPONSE_MODEL, TOKEN_TYPE)


def cost_query(check: AiCostCheck, variables: Mapping[str, str]) -> str:
    """The exact PromQL sent for ``check``; :class:`PlanError` when it does not render or parse."""
    matchers = (check.matchers or "").strip()
    template = f"sum by ({', '.join(GROUPING)}) (increase({check.metric}_sum{matchers}[{check.window}]))"
    try:
        query = render(template, variables)
    except TemplateError as exc:
        raise PlanError(str(exc)) from None
    problem = validate(query)
    if problem is not None:
        raise PlanError(f"token-usage query is not valid PromQL ({problem}): {query}")
    selectors = find_selectors(query)
    if len(selectors) != 1 or not (selectors[0].metric or "").endswith("_sum"):
        raise PlanError(f"matchers {check.matchers!r} must only add label matchers to the metric: {query}")
    return query


def planned_queries(check: Check, variables: Mapping[str, str]) -> list[str]:
    """Every PromQL text a check sends to Prometheus (threshold and SLO plans, and this token-usage query)."""
    if isinstance(check, AiCostCheck):
        return [cost_query(check, variables)] if check.source == "prometheus" else []
    return [p.query for p in plan_check(check, variables)]

"""``ai_cost`` checks with ``source: prometheus``: the GenAI token-usage histogram priced per model. Pure.

The OpenTelemetry GenAI metric ``gen_ai.client.token.usage`` is a histogram of tokens per call with
``gen_ai.token.type`` (``input`` or ``output``) and the request and response model as attributes; in
Prometheus its ``_sum`` series (``gen_ai_client_token_usage_sum``) counts tokens. One query,

    sum by (gen_ai_request_model, gen_ai_response_model, gen_ai_token_type) (increase(METRIC_sum{…}[WINDOW]))

gives the tokens of the window per model and token type, and every row is priced with the same table
the span path uses (:mod:`slo.pricing`): the response model when the table knows it, else the request
model. A model the table does not know, or a token type that is neither input nor output, makes the
check an error naming it: nothing is priced as zero silently. The metric carries no cache breakdown and
no call times, so every input token is priced at the input rate, in force on the evaluation day (both
said in the packet), and ``per`` can only be ``model`` (no runs, no days).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slo.evaluate import result
from slo.planned import GROUPING as GROUPING
from slo.planned import REQUEST_MODEL, RESPONSE_MODEL, TOKEN_TYPE
from slo.planned import cost_query as cost_query  # moved to slo.planned (validate needs no pricing); kept here
from slo.planned import planned_queries as planned_queries
from slo.pricing import PriceTable, Usage, cost_of
from slo.results import CheckResult, QueryOutcome, Status, Verdict
from slo.spec import AiCostCheck

TOKEN_TYPES = {"input": "input", "output": "output", "completion": "output"}
"""``gen_ai.token.type`` values: ``completion`` is the name semantic conventions before 1.27 used for output."""
NO_MODEL = "(no model label)"
_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True)
class TokenRow:
    """One series of the answer: its labels and the tokens it counted over the window."""

    labels: Mapping[str, str]
    value: float


def rows_of(result_type: str | None, series: Any) -> list[TokenRow]:
    """The rows of an instant-vector answer; ValueError for any other shape or a value that is not a number."""
    if result_type != "vector" or not isinstance(series, list):
        raise ValueError(f"expected an instant vector, got {result_type}")
    rows = []
    for item in series:
        labels = item.get("metric") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(labels, dict) or not isinstance(value, list) or len(value) != 2:
            raise ValueError("a series without metric labels or [time, value]")
        try:
            number = float(value[1])
        except (TypeError, ValueError):
            raise ValueError(f"value {value[1]!r} is not a number") from None
        rows.append(TokenRow({str(k): str(v) for k, v in labels.items()}, number))
    return rows


@dataclass
class _ModelRow:
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    cost: float = 0.0
    priced_as: str | None = None


def _model_of(labels: Mapping[str, str], pricing: PriceTable | None, day: dt.date) -> tuple[str, Any]:
    """The model a row is billed as and its price (None when the table knows neither name)."""
    names = [labels[k] for k in (RESPONSE_MODEL, REQUEST_MODEL) if labels.get(k)]
    if pricing is not None:
        for name in names:
            price = pricing.lookup(name, day)
            if price is not None:
                return name, price
    return (names[-1] if names else NO_MODEL), None


def decide_metric_cost(
    check: AiCostCheck,
    rows: Sequence[TokenRow],
    pricing: PriceTable | None,
    at: float,
    evaluated_at: str | None,
    query: QueryOutcome,
) -> CheckResult:
    """Verdict for one Prometheus-backed ``ai_cost`` check from the rows its query returned."""
    unit = check.unit or ("USD" if check.measure == "cost" else "tokens")
    day = dt.datetime.fromtimestamp(at, tz=dt.UTC).date()
    details: dict[str, Any] = {
        "cost_source": "prometheus",
        "query": query.query,
        "window": check.window,
        "price_table": pricing.format if pricing else None,
        "series": len(rows),
    }
    common: dict[str, Any] = {"unit": unit, "queries": [query], "details": details}
    if query.status == Status.ERROR:
        return result(check, Verdict.ERROR, query.reason or "query failed", evaluated_at, **common)
    if check.measure == "cost" and pricing is None:
        return result(check, Verdict.ERROR, "no price table given (--pricing FILE)", evaluated_at, **common)
    by_model: dict[str, _ModelRow] = {}
    unpriced: dict[str, float] = {}
    problems: list[str] = []
    for row in rows:
        kind = TOKEN_TYPES.get(row.labels.get(TOKEN_TYPE, ""))
        if kind is None:
            problems.append(f"{TOKEN_TYPE}={row.labels.get(TOKEN_TYPE, '')!r} is neither input nor output")
            continue
        if not math.isfinite(row.value) or row.value < 0:
            problems.append(f"{row.value!r} tokens is not a token count")
            continue
        model, price = _model_of(row.labels, pricing, day)
        if price is None and check.measure == "cost":
            unpriced[model] = unpriced.get(model, 0.0) + row.value
            continue
        entry = by_model.setdefault(model, _ModelRow())
        usage = Usage(input=row.value, output=0.0) if kind == "input" else Usage(input=0.0, output=row.value)
        if kind == "input":
            entry.input_tokens += row.value
        else:
            entry.output_tokens += row.value
        if price is not None:
            entry.cost += cost_of(usage, price.rates_for(0))
            entry.priced_as = price.name
    details["by_model"] = {
        model: {
            "input_tokens": round(row.input_tokens, 9),
            "output_tokens": round(row.output_tokens, 9),
            "cost": round(row.cost, 9),
            **({"priced_as": row.priced_as} if row.priced_as and row.priced_as != model else {}),
        }
        for model, row in sorted(by_model.items())
    }
    if check.measure == "cost":
        details["priced_on"] = day.isoformat()
        details["cache_pricing"] = "the metric has no cached-token breakdown: every input token at the input rate"
    if problems:
        shown = "; ".join(sorted(set(problems))[:3])
        return result(check, Verdict.ERROR, f"unusable token-usage series: {shown}", evaluated_at, **common)
    if unpriced:
        details["unpriced_models"] = {m: round(v, 9) for m, v in sorted(unpriced.items())}
        shown = ", ".join(f"{m} ({v:g} tokens)" for m, v in sorted(unpriced.items()))
        reason = f"no price for model(s) {shown} in the {details['price_table']} table: not priced as zero"
        return result(check, Verdict.ERROR, reason, evaluated_at, **common)
    if not rows:
        matched = check.metric + "_sum" + (check.matchers or "")
        reason = f"no series of {matched} over the last {check.window}: no GenAI token usage to price"
        return result(check, Verdict.NO_DATA, reason, evaluated_at, **common)
    measure = {
        model: (row.cost if check.measure == "cost" else row.input_tokens + row.output_tokens)
        for model, row in by_model.items()
    }
    values = list(measure.values()) if check.per == "model" else [sum(measure.values())]
    value = _aggregate(check.aggregate, values)
    if check.per == "model":
        details["per_model"] = {k: round(v, 9) for k, v in sorted(measure.items())}
    # here, not at the top: `gatepack validate` plans these queries and must not load numpy (slo.traces does)
    from slo.traces import decide

    what = f"{check.aggregate} {check.measure}" + (" per model" if check.per else "")
    return decide(check, value, unit, what, evaluated_at, complete=True, notes=[], details=details, queries=[query])


def _aggregate(aggregate: str, values: list[float]) -> float:
    if aggregate == "sum":
        return math.fsum(values)
    if aggregate == "avg":
        return math.fsum(values) / len(values)
    if aggregate == "max":
        return max(values)
    ordered = sorted(values)
    rank = _PERCENTILES[aggregate] / 100 * (len(ordered) - 1)  # numpy's default (linear) percentile
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

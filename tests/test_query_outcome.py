"""Outcomes built without validation (``model_construct``) equal the validated model, field for field and in JSON."""

from __future__ import annotations

import pytest

from collector.sources.prometheus.client import QueryResponse, reduce_to_number
from collector.sources.prometheus.source import _outcome
from slo.promql.plan import PlannedQuery
from slo.results import Fault, QueryOutcome, Status

RESPONSES = [
    QueryResponse(
        "sum(m)", 10.0, "ok", "vector", [{"metric": {}, "value": [10, "1.5"]}], response_sha256="ab", attempts=1
    ),
    QueryResponse(
        'sum by (s) (m{s=~"a|b"})',
        10.0,
        "ok",
        "vector",
        [{"metric": {"s": "a"}, "value": [10, "2"]}],
        warnings=["w1"],
        response_sha256="cd",
        attempts=2,
        selected={"s": "a"},
    ),
    QueryResponse("sum(m)", 10.0, "ok", "vector", [], response_sha256="ef", attempts=1),
    QueryResponse("sum(m)", 10.0, "ok", "vector", [{"metric": {}, "value": [10, "NaN"]}], attempts=1),
    QueryResponse("sum(m)", 10.0, "ok", "scalar", [10, "+Inf"], attempts=1),
    QueryResponse("sum(m)", 10.0, "error", reason="HTTP 503", fault=Fault.HTTP, attempts=4),
    QueryResponse("sum(m)", 10.0, "error", reason="connect", fault="connect", attempts=4),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("response", RESPONSES)
def test_constructed_outcome_equals_the_validated_one(response: QueryResponse) -> None:
    planned = PlannedQuery("good", "5m", "sum(m)")
    built = _outcome(planned, response, "http://prom", "1970-01-01T00:00:10Z")
    reduced = reduce_to_number(response)
    validated = QueryOutcome(
        role="good",
        window="5m",
        query=response.query,
        backend="http://prom",
        time="1970-01-01T00:00:10Z",
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
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert QueryOutcome.model_validate(built.model_dump()) == validated


def test_constructed_outcomes_copy_and_assign_like_validated_ones() -> None:
    """``model_copy(update=…)`` (selector diagnosis) and assignment work on a constructed outcome as on a validated one."""
    built = _outcome(PlannedQuery("total", "1h", "sum(m)"), RESPONSES[0], "http://prom", "t")
    copied = built.model_copy(update={"reason": "r", "empty_selectors": ["m"]})
    assert (copied.reason, copied.empty_selectors, copied.value) == ("r", ["m"], 1.5)
    assert (built.reason, built.empty_selectors) == (None, [])
    assert type(copied.status) is Status and type(built.status) is Status
    copied.value = 2.0
    assert copied.value == 2.0 and built.value == 1.5
    assert copied.model_fields_set == set(QueryOutcome.model_fields)

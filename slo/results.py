"""What was measured and what was decided: the records evaluation produces and evidence carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NO_DATA = "no_data"
    ERROR = "error"


class Effect(StrEnum):
    """How a check's verdict counts for the gate."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class Status(StrEnum):
    """What one query produced: a number, nothing to measure, or a fault."""

    OK = "ok"
    NO_DATA = "no_data"
    ERROR = "error"


class Fault(StrEnum):
    """Why a query has no answer. Only ``connect`` means the backend was never reached."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    READ = "read"
    PROTOCOL = "protocol"
    HTTP = "http"
    TOO_LARGE = "too_large"
    DEADLINE = "deadline"
    BAD_DATA = "bad_data"
    GARBAGE = "garbage"
    PARTIAL = "partial"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryOutcome(_Record):
    """One query as sent to a backend and what came back, reduced to one number when possible."""

    role: str = Field(description="value, good, bad or total")
    window: str | None = None
    query: str = Field(description="The exact text sent; paste it into the backend to re-check")
    backend: str | None = Field(None, description="Backend URL with credentials removed")
    time: str | None = Field(None, description="Evaluation time (RFC 3339)")
    status: Status
    value: float | None = None
    series: int = 0
    reason: str | None = None
    fault: Fault | None = None
    response_sha256: str | None = None
    attempts: int = 0
    warnings: list[str] = Field(default_factory=list)
    selected: dict[str, str] | None = Field(
        None,
        description="When ``query`` answered several checks at once (sum by (label)): the labels of the series "
        "this value was read from",
    )
    empty_selectors: list[str] = Field(
        default_factory=list,
        description="Selectors of this query that matched no series over the range the query reads (an "
        "``or vector(0)`` can turn them into a clean zero); unless the check allows them (allow_empty), the "
        "outcome is no_data",
    )


class BurnRateRow(_Record):
    window: str
    error_ratio: float | None
    burn_rate: float | None
    bad_events: float | None = None
    total_events: float | None = None


class AlertConditionResult(_Record):
    severity: str
    long: str
    short: str
    factor: float
    long_burn_rate: float | None
    short_burn_rate: float | None
    holds: bool


class ErrorBudget(_Record):
    allowed_ratio: float = Field(description="Allowed bad fraction (1 - objective)")
    consumed: float = Field(description="Fraction of the budget spent over the period")
    remaining: float = Field(description="1 - consumed (negative when overspent)")
    total_events: float | None = None
    allowed_bad_events: float | None = None
    bad_events: float | None = None
    remaining_events: float | None = None


class SloResult(_Record):
    objective: float
    period: str
    sli: float | None = Field(None, description="Good fraction over the period, in percent")
    error_budget: ErrorBudget | None = None
    windows: list[BurnRateRow] = Field(default_factory=list)
    alerts: list[AlertConditionResult] = Field(default_factory=list)


class CheckResult(_Record):
    id: str
    title: str
    kind: str
    required: bool
    on_no_data: str
    verdict: Verdict
    effect: Effect
    reason: str
    value: float | None = None
    unit: str | None = None
    objective: str | None = Field(None, description="What the value was held against, e.g. '< 0.3'")
    evaluated_at: str | None = None
    queries: list[QueryOutcome] = Field(default_factory=list)
    slo: SloResult | None = None
    details: dict[str, Any] | None = None

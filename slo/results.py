"""What was measured and what was decided: the records evaluation produces and evidence carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


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


class BaselineRecord(_Record):
    """The check held against a stored baseline packet: which one, its value, and how much worse this is."""

    compare: str = Field(description="previous_pass or release:NAME, as the spec says")
    max_regression: float = Field(description="Allowed worsening as a fraction of the baseline value")
    digest: str | None = Field(None, description="sha256 digest of the baseline packet; None when none was found")
    value: float | None = Field(None, description="The check's value in the baseline packet")
    regression: float | None = Field(
        None, description="Worsening relative to the baseline (fraction; negative = better); None when not compared"
    )
    ok: bool | None = Field(None, description="Within max_regression; None when there was nothing to compare")
    reason: str


class ContextQuery(_Record):
    """One range query behind a context series, as sent, with the digest of the bytes that came back."""

    role: str = Field(description="value, good, bad or total")
    query: str = Field(description="The exact text sent (a grouped query when several checks shared one)")
    status: Status
    reason: str | None = None
    fault: Fault | None = None
    response_sha256: str | None = None
    attempts: int = 0
    selected: dict[str, str] | None = Field(None, description="Labels of the series read from a grouped answer")


class CheckContext(_Record):
    """A small history around the evaluation time, so charts need no second query.

    ``values[i]`` is the value at ``start + i * step`` seconds (``null``: no sample there), at most 200
    points. Threshold checks record their value query; SLO checks the error ratio (bad / total over
    ``window``), from which the chart draws the SLI (``100 × (1 − ratio)``) and the burn rate
    (``ratio ÷ (1 − objective / 100)``). A context fault never changes the check's verdict: it is recorded
    here (``status``, ``reason``) and the check keeps the verdict its instant queries gave.
    """

    series: str = Field(description="value (threshold checks) or error_ratio (SLO checks)")
    window: str | None = Field(None, description="Rate window of an SLO's error ratio")
    start: str = Field(description="Time of values[0] (RFC 3339)")
    end: str = Field(description="Time of the last point the range asked for (RFC 3339)")
    step: int = Field(description="Seconds between points")
    values: list[float | None] = Field(default_factory=list)
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="target and warn (threshold checks); objective and burn_rate (SLO checks)"
    )
    status: Status
    reason: str | None = None
    queries: list[ContextQuery] = Field(default_factory=list)


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
    baseline: BaselineRecord | None = None
    context: CheckContext | None = Field(None, description="History for charts (collect --no-context leaves it out)")

    @model_serializer(mode="wrap")
    def _without_empty_optionals(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Checks without a baseline or context serialise exactly as before: sealed packets keep their digests."""
        data = handler(self)
        if isinstance(data, dict):
            for name in ("baseline", "context"):
                if data.get(name) is None:
                    data.pop(name, None)
        return data

"""Gate spec models: the single source of truth for the YAML schema and its exported JSON Schema.

A gate is a named set of checks. Each check kind states what it measures and how its verdict is
decided; collectors turn the measurement part into queries or file reads, and :mod:`slo.evaluate`
decides the verdict from what they measured.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slo.durations import DurationError, format_duration, parse_duration
from slo.promql.parse import PromqlSyntaxError
from slo.promql.selectors import Selector, find_selectors
from slo.templating import TemplateError, placeholders, render

API_VERSION = "gatepack/v1"
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_ID_LENGTH = 128
"""Ids become file names (``<gate>-<time>.json``), JUnit names and query labels: bounded so a packet can
always be written (255-byte file-name limit) and a report line stays readable."""


class Op(StrEnum):
    """Comparison that a measured value must satisfy against its target to pass."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="

    def holds(self, value: float, bound: float) -> bool:
        """Whether ``value <op> bound``."""
        return _OPERATORS[self](value, bound)

    @property
    def negated(self) -> str:
        """The operator that describes a value failing this comparison (for reasons)."""
        return _NEGATIONS[self]


_OPERATORS: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}
_NEGATIONS = {Op.LT: ">=", Op.LE: ">", Op.GT: "<=", Op.GE: "<", Op.EQ: "!=", Op.NE: "=="}


class OnNoData(StrEnum):
    """What a check without data means for the gate."""

    FAIL = "fail"
    WARN = "warn"
    PASS = "pass"
    SKIP = "skip"


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_duration(value: str) -> str:
    """A valid duration in its one canonical spelling (``24h`` → ``1d``), so windows compare by name."""
    try:
        return format_duration(parse_duration(value))
    except DurationError as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[str, Field(description="Prometheus duration such as 5m, 1h, 28d")]


class BurnRateWindow(_Strict):
    """One multi-window burn-rate alert condition: both windows must burn faster than ``factor``."""

    long: Duration
    short: Duration
    factor: float = Field(gt=0, description="Burn rate both windows must exceed")
    severity: Severity = Severity.PAGE

    _durations = field_validator("long", "short")(_check_duration)

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnRateWindow:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long window {self.long}")
        return self


_BASELINE_COMPARE = r"^(previous_pass|release:\S+)$"


class Baseline(_Strict):
    """Also hold the value against a stored earlier packet (Keptn-style relative criteria).

    ``compare`` picks the packet: ``previous_pass`` (the newest passing packet of the same gate and
    environment) or ``release:NAME`` (the newest packet whose subject.release is NAME). A value that
    meets its absolute target still fails when it is worse than the baseline's by more than
    ``max_regression`` (a percentage such as ``10%``, or a fraction such as 0.1).
    """

    compare: str = Field(pattern=_BASELINE_COMPARE, description="previous_pass or release:NAME")
    max_regression: float = Field(
        ge=0, description="Allowed worsening relative to the baseline value: '10%' or 0.1 (fraction)"
    )

    @field_validator("max_regression", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            try:
                return float(text[:-1]) / 100 if text.endswith("%") else float(text)
            except ValueError:
                raise ValueError(f"max_regression {value!r}: expected a percentage such as '10%'") from None
        return value

    @property
    def release(self) -> str | None:
        """The release named by ``release:NAME``, else None."""
        return self.compare.partition(":")[2] if self.compare.startswith("release:") else None


BaselineField = Field(None, description="Also compare with a stored baseline packet (needs --store)")


class CheckBase(_Strict):
    id: str = Field(pattern=_ID_PATTERN, min_length=1, max_length=MAX_ID_LENGTH)
    title: str | None = None
    description: str | None = None
    required: bool = Field(True, description="Advisory checks (false) can warn but never fail the gate")
    on_no_data: OnNoData = OnNoData.FAIL

    @property
    def display_title(self) -> str:
        return self.title or self.id


def selector_identity(selector: Selector) -> tuple[object, ...]:
    """What makes two selectors the same series set, whatever the order of their matchers or their range.

    ``allow_empty`` entries are compared with a query's selectors by this, so ``m{a="1",b="2"}`` in the
    list covers ``m{b="2",a="1"}[5m] offset 1h`` in the query.
    """
    name = frozenset(
        m for m in selector.matchers if not (m.label == "__name__" and m.op == "=" and m.value == selector.metric)
    )
    groups = frozenset(frozenset(group) for group in selector.or_matchers)
    return (selector.metric, name, groups)


def _dummy(text: str) -> str:
    """``text`` with every placeholder filled with a value that is valid anywhere (a label value, a range)."""
    return render(text, {name: "5m" for name in placeholders(text)})


def _selector_entry(entry: str) -> Selector:
    """The one selector an ``allow_empty`` entry names; raises ValueError when it is not exactly a selector."""
    try:
        found = find_selectors(_dummy(entry))
    except (PromqlSyntaxError, TemplateError) as exc:
        raise ValueError(f"allow_empty entry {entry!r} is not a PromQL selector: {exc}") from None
    stripped = entry.strip()
    if len(found) != 1 or not (stripped.endswith("}") or _BARE_METRIC.fullmatch(stripped)):
        raise ValueError(f'allow_empty entry {entry!r} must be one selector such as m{{label="value"}}')
    return found[0]


_BARE_METRIC = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")

AllowEmpty = Annotated[
    bool | list[Annotated[str, Field(min_length=1)]],
    Field(
        description="Selectors that may match no series (a counter that does not exist yet): true for every "
        "selector of the check, or a list of selectors (placeholders allowed). Without it a selector that "
        "matches nothing over the evaluated range makes the check no_data, even behind `or vector(0)`"
    ),
]


class _AllowsEmpty(CheckBase):
    """The ``allow_empty`` opt-in shared by the PromQL-backed kinds."""

    allow_empty: AllowEmpty = False

    def _queries(self) -> list[str]:
        raise NotImplementedError

    @model_validator(mode="after")
    def _allow_empty_names_selectors(self) -> _AllowsEmpty:
        if isinstance(self.allow_empty, bool):
            return self
        known: set[tuple[object, ...]] = set()
        for query in self._queries():
            try:
                known.update(selector_identity(s) for s in find_selectors(_dummy(query)))
            except (PromqlSyntaxError, TemplateError):
                return self  # the query itself is reported when it is planned
        for entry in self.allow_empty:
            if selector_identity(_selector_entry(entry)) not in known:
                raise ValueError(f"allow_empty entry {entry!r} is not a selector of this check's queries")
        return self

    def allows_empty(self, selector: Selector, variables: Mapping[str, str]) -> bool:
        """Whether ``selector`` (from a rendered query) may match no series without making the check no_data."""
        if isinstance(self.allow_empty, bool):
            return self.allow_empty
        wanted = selector_identity(selector)
        for entry in self.allow_empty:
            try:
                allowed = find_selectors(render(entry, variables))
            except (PromqlSyntaxError, TemplateError):
                continue
            if allowed and selector_identity(allowed[0]) == wanted:
                return True
        return False


class ThresholdCheck(_AllowsEmpty):
    """One PromQL expression, evaluated at the evaluation time, compared with a target."""

    kind: Literal["threshold"]
    query: str = Field(min_length=1)
    op: Op
    target: float
    warn: float | None = Field(None, description="Bound that turns a passing value into a warning")
    unit: str | None = None
    alert: bool = Field(False, description="Also emit a Prometheus alert (gatepack rules) when the value breaks target")
    for_: Duration | None = Field(
        None, alias="for", description="How long the target must be broken before the alert fires (Prometheus for:)"
    )
    baseline: Baseline | None = BaselineField

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _for = field_validator("for_")(lambda v: None if v is None else _check_duration(v))

    def _queries(self) -> list[str]:
        return [self.query]


class SloCheck(_AllowsEmpty):
    """A ratio SLO over a rolling period, with error budget and multi-window burn rates."""

    kind: Literal["slo"]
    good: str | None = Field(None, min_length=1)
    bad: str | None = Field(None, min_length=1)
    total: str = Field(min_length=1)
    objective: float = Field(gt=0, lt=100, description="Target in percent, e.g. 99.9")
    period: Duration = "30d"
    alerting: list[BurnRateWindow] | None = None
    warn_budget_remaining: float | None = Field(
        None, ge=0, le=1, description="Warn when less than this fraction of the budget remains"
    )
    baseline: Baseline | None = BaselineField

    _period = field_validator("period")(_check_duration)

    def _queries(self) -> list[str]:
        return [q for q in (self.good, self.bad, self.total) if q is not None]

    @model_validator(mode="after")
    def _one_numerator(self) -> SloCheck:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of 'good' or 'bad' (with 'total')")
        for name in ("good", "bad", "total"):
            query = getattr(self, name)
            if query is not None and "window" not in placeholders(query):
                raise ValueError(f"'{name}' must use the {{{{ window }}}} placeholder for its range")
        return self


class AttestationCheck(CheckBase):
    """A human statement (who, when, link) that must exist and be fresh enough."""

    kind: Literal["attestation"]
    item: str = Field(min_length=1, description="Attestation item name, as given to `gatepack attest`")
    max_age: Duration = "30d"
    require_link: bool = True
    require_file: bool = False

    _age = field_validator("max_age")(_check_duration)


class LoadtestCheck(CheckBase):
    """A threshold on load-test results (k6 threshold syntax or op/target)."""

    kind: Literal["loadtest"]
    metric: str = Field(min_length=1, description="latency, error_rate, requests, throughput or a k6 metric")
    threshold: str | None = Field(None, description='k6 syntax such as "p(95)<100"')
    aggregation: str | None = Field(None, description="With op/target: avg, min, med, max, p(N), rate, count")
    op: Op | None = None
    target: float | None = None
    warn: float | None = None
    unit: str | None = None
    label: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    min_samples: int = Field(1, ge=0)
    baseline: Baseline | None = BaselineField

    @model_validator(mode="after")
    def _one_form(self) -> LoadtestCheck:
        if self.threshold is None and (self.op is None or self.target is None):
            raise ValueError("give either 'threshold' (k6 syntax) or both 'op' and 'target'")
        if self.threshold is not None and self.op is not None:
            raise ValueError("give either 'threshold' or 'op'/'target', not both")
        return self


class TestMetric(StrEnum):
    COUNT = "count"
    PASSED = "passed"
    FAILED = "failed"
    ERRORS = "errors"
    SKIPPED = "skipped"
    FAILURE_RATIO = "failure_ratio"


class CiTestsCheck(CheckBase):
    """A bound on a test run's JUnit XML reports (pytest, gotestsum, Maven Surefire, jest-junit…).

    ``failure_ratio`` is (failed + errors) / executed tests (skipped ones are not executed).
    """

    kind: Literal["tests"]
    metric: TestMetric
    op: Op
    target: float
    warn: float | None = None
    suite: str | None = Field(None, description="Only test cases whose suite or class name matches this glob")


SpanKindName = Literal["internal", "server", "client", "producer", "consumer"]
SpanStatusName = Literal["unset", "ok", "error"]
TRACE_AGGREGATES = ("count", "rate", "error_ratio", "ratio", "p50", "p90", "p95", "p99", "sum", "avg", "max")
COST_AGGREGATES = ("sum", "avg", "max", "p50", "p90", "p95", "p99")
_SPAN_DURATION = r"^[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h)$"
_METRIC_OR_PLACEHOLDER = r"^(?:[A-Za-z_:][A-Za-z0-9_:]*|\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})$"


class SpanFilter(_Strict):
    """Which spans a trace check looks at; every given condition must hold (AND)."""

    service: str | None = Field(None, description="resource attribute service.name equals this")
    span_name: str | None = Field(None, description="Span name equals this")
    span_name_regex: str | None = Field(None, description="Span name matches this regex (search, not full match)")
    span_kind: SpanKindName | None = None
    status: SpanStatusName | None = None
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Span (then resource) attributes equal to these values"
    )
    attributes_regex: dict[str, str] = Field(
        default_factory=dict, description="Span (then resource) attributes whose text matches these regexes"
    )
    min_duration: str | None = Field(
        None, pattern=_SPAN_DURATION, description="Only spans lasting at least this long, e.g. 250ms"
    )
    root: bool | None = Field(None, description="true: only root spans (no parent); false: only child spans")

    @field_validator("span_name_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("attributes_regex")
    @classmethod
    def _regexes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            _compile(pattern)
        return value


def _compile(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


class TraceCheck(CheckBase):
    """A number computed from spans (count, rate, error ratio, duration percentile, attribute sum…)."""

    kind: Literal["trace"]
    window: Duration = "24h"
    filter: SpanFilter = Field(default_factory=SpanFilter)
    aggregate: str = Field(description="count, rate, error_ratio, ratio, p50, p90, p95, p99, sum, avg or max")
    attribute: str | None = Field(None, description="Numeric span attribute for sum, avg and max")
    numerator: SpanFilter | None = Field(
        None, description="For ratio: the spans (among those of 'filter') counted above the line"
    )
    by: list[str] = Field(
        default_factory=list, description="Group by these attributes; the worst group's value is compared"
    )
    op: Op
    target: float
    warn: float | None = None
    unit: str | None = Field(None, description="s or ms for durations (default s); per_s or per_min for rate")
    require_complete: bool = Field(False, description="Error instead of a verdict on truncated or sampled results")
    min_spans: int | None = Field(
        None, ge=0, description="Fewer matching spans is no_data (default: 1, and 0 for count and rate)"
    )

    _window = field_validator("window")(_check_duration)

    @model_validator(mode="after")
    def _aggregate_fits(self) -> TraceCheck:
        if self.aggregate not in TRACE_AGGREGATES:
            raise ValueError(f"aggregate {self.aggregate!r} is not one of {', '.join(TRACE_AGGREGATES)}")
        if self.aggregate in {"sum", "avg", "max"} and not self.attribute:
            raise ValueError(f"aggregate {self.aggregate} needs 'attribute' (a numeric span attribute)")
        if self.aggregate == "ratio" and self.numerator is None:
            raise ValueError("aggregate ratio needs 'numerator' (a second filter)")
        if self.aggregate != "ratio" and self.numerator is not None:
            raise ValueError("'numerator' only applies to aggregate ratio")
        return self


class AiCostCheck(CheckBase):
    """What GenAI calls cost (tokens × a pricing table), in total or per run, day or model."""

    kind: Literal["ai_cost"]
    window: Duration = "24h"
    filter: SpanFilter = Field(default_factory=SpanFilter)
    per: Literal["run", "day", "model"] | None = Field(
        None, description="Group costs per run (trace), per UTC day or per model before aggregating"
    )
    measure: Literal["cost", "tokens"] = Field("cost", description="USD (priced) or tokens (input + output)")
    aggregate: str = Field("sum", description="sum, avg, max, p50, p90, p95 or p99 over the groups")
    op: Op
    target: float
    warn: float | None = None
    unit: str | None = Field(None, description="USD (default for cost) or tokens")
    require_complete: bool = False
    source: Literal["traces", "prometheus"] = Field(
        "traces",
        description="Where token counts come from: GenAI spans (traces, --traces/--tempo/--jaeger/--otlp) or the "
        "gen_ai.client.token.usage histogram in Prometheus (prometheus, --prometheus); both priced with --pricing",
    )
    metric: str = Field(
        "gen_ai_client_token_usage",
        pattern=_METRIC_OR_PLACEHOLDER,
        description="source prometheus: the token-usage histogram's Prometheus name (its _sum series is read)",
    )
    matchers: str | None = Field(
        None,
        min_length=2,
        description='source prometheus: label matchers for the histogram, e.g. {job="agent"} (placeholders allowed)',
    )

    _window = field_validator("window")(_check_duration)

    @model_validator(mode="after")
    def _aggregate_fits(self) -> AiCostCheck:
        if self.aggregate not in COST_AGGREGATES:
            raise ValueError(f"aggregate {self.aggregate!r} is not one of {', '.join(COST_AGGREGATES)}")
        if self.per is None and self.aggregate != "sum":
            raise ValueError(f"aggregate {self.aggregate} needs 'per' (run, day or model)")
        if self.source == "prometheus":
            if self.per not in (None, "model"):
                raise ValueError(f"per {self.per} needs spans (source: traces): a metric has no runs or call times")
            if self.filter != SpanFilter():
                raise ValueError("'filter' selects spans (source: traces); use 'matchers' with source: prometheus")
            if self.require_complete:
                raise ValueError("'require_complete' applies to trace searches (source: traces)")
            if self.matchers is not None and not (
                self.matchers.strip().startswith("{") and self.matchers.strip().endswith("}")
            ):
                raise ValueError(f'matchers {self.matchers!r} must be label matchers in braces, e.g. {{job="agent"}}')
        elif self.matchers is not None or self.metric != "gen_ai_client_token_usage":
            raise ValueError("'metric' and 'matchers' apply to source: prometheus (spans are chosen with 'filter')")
        return self


class RulesDriftCheck(CheckBase):
    """The Prometheus server runs exactly the rules ``gatepack rules`` generates for these gates.

    After a freeze, alerting must not drift: a rule deleted, edited or added by hand on the server is a
    ``fail`` naming it, so the drift is evidence in the packet, not a separate command someone forgot to run.
    """

    kind: Literal["rules_drift"]
    gates: list[Annotated[str, Field(pattern=_ID_PATTERN, min_length=1, max_length=MAX_ID_LENGTH)]] = Field(
        default_factory=list,
        description="Gates (ids, given in the same run) whose generated rules must be running; default: this gate",
    )
    vars: dict[str, str] = Field(
        default_factory=dict, description="Variables for generating the rules, as `gatepack rules --var`"
    )
    runbook: str | None = Field(
        None, description="Runbook link template the rules were generated with (`gatepack rules --runbook`)"
    )


Check = Annotated[
    ThresholdCheck
    | SloCheck
    | AttestationCheck
    | LoadtestCheck
    | CiTestsCheck
    | TraceCheck
    | AiCostCheck
    | RulesDriftCheck,
    Field(discriminator="kind"),
]


class Gate(_Strict):
    """A release gate: the checks whose evidence decides whether a release may pass."""

    api_version: Literal["gatepack/v1"] = Field(alias="apiVersion")
    kind: Literal["Gate"]
    id: str = Field(pattern=_ID_PATTERN, min_length=1, max_length=MAX_ID_LENGTH)
    title: str
    description: str | None = None
    sprint: str | None = None
    owner: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    vars: dict[str, str] = Field(default_factory=dict)
    checks: list[Check] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("vars", mode="before")
    @classmethod
    def _stringify_vars(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _unique_check_ids(self) -> Gate:
        seen: set[str] = set()
        for check in self.checks:
            if check.id in seen:
                raise ValueError(f"duplicate check id {check.id!r}")
            seen.add(check.id)
        return self


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value

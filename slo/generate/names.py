"""Every metric, recording-rule and label name that gatepack's rules, dashboards and verdict metrics share.

The rules generator writes these series, the dashboards read them and the collector publishes the
verdict metrics: one module, so a rename cannot leave a dashboard reading a series nobody writes.
The SLO rule names follow Sloth's conventions (``slo:sli_error:ratio_rate5m`` and friends), so
dashboards written for Sloth work on gatepack's rules and the other way round.
"""

from __future__ import annotations

from slo.durations import parse_duration
from slo.results import Verdict
from slo.templating import escape_promql_string

# -- Sloth-compatible SLO recording rules --------------------------------------------------------
SLI_ERROR_PREFIX = "slo:sli_error:ratio_rate"  # + window: slo:sli_error:ratio_rate5m, ...rate30d
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
TIME_PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
PERIOD_ERROR_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
SLO_INFO = "sloth_slo_info"

SLOTH_ID = "sloth_id"
SLOTH_SERVICE = "sloth_service"
SLOTH_SLO = "sloth_slo"
SLOTH_WINDOW = "sloth_window"
SLOTH_SEVERITY = "sloth_severity"  # on the burn-rate alerts: page or ticket

# -- gatepack's own labels and rules -------------------------------------------------------------
GATE_LABEL = "gatepack_gate"
CHECK_LABEL = "gatepack_check"
CHECK_VALUE = "gatepack:check_value"  # a threshold check's query, recorded with GATE_LABEL/CHECK_LABEL

# -- verdict metrics published by `gatepack collect --push/--metrics-textfile` -------------------
VERDICT_GATE_LABEL = "gate"
VERDICT_CHECK_LABEL = "check"
GATE_VERDICT = "gatepack_gate_verdict"
CHECK_VERDICT = "gatepack_check_verdict"
CHECK_VALUE_METRIC = "gatepack_check_value"
SLO_BUDGET_REMAINING = "gatepack_slo_error_budget_remaining"
EVIDENCE_TIMESTAMP = "gatepack_evidence_timestamp_seconds"
LAST_RUN_TIMESTAMP = "gatepack_last_run_timestamp_seconds"
PUSH_JOB = "gatepack"

# Verdicts are published as numbers (labels never carry values): worse verdicts have larger codes,
# so ``>= VERDICT_CODES[Verdict.FAIL]`` selects what blocks a release.
VERDICT_CODES: dict[Verdict, int] = {
    Verdict.PASS: 0,
    Verdict.WARN: 1,
    Verdict.NO_DATA: 2,
    Verdict.FAIL: 3,
    Verdict.ERROR: 4,
}
VERDICT_COLORS: dict[Verdict, str] = {
    Verdict.PASS: "green",
    Verdict.WARN: "yellow",
    Verdict.NO_DATA: "blue",
    Verdict.FAIL: "red",
    Verdict.ERROR: "purple",
}


def prom_duration(seconds: int) -> str:
    """Seconds as Prometheus prints a duration, which is how Sloth names its rules and ``sloth_window``.

    Years and weeks are used only when they divide the duration exactly, then days, hours, minutes,
    seconds: 28 days → ``4w``, 7 days → ``1w``, 30 days and 90 minutes → ``30d`` and ``1h30m``.
    """
    parts: list[str] = []
    remaining = seconds
    for unit, size, exact_only in (("y", 365 * 86400, True), ("w", 7 * 86400, True), ("d", 86400, False)):
        if exact_only and remaining % size:
            continue
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def rule_window(window: str) -> str:
    """A window as Prometheus prints durations (``28d`` → ``4w``, ``7d`` → ``1w``, ``90m`` → ``1h30m``)."""
    return prom_duration(parse_duration(window))


def sli_error(window: str) -> str:
    """The recorded error ratio over ``window`` (``5m`` → ``slo:sli_error:ratio_rate5m``, ``28d`` → ``…rate4w``)."""
    return f"{SLI_ERROR_PREFIX}{rule_window(window)}"


def sloth_service(gate_id: str) -> str:
    """The Sloth service of a gate's SLOs: the gate id."""
    return gate_id


def sloth_id(gate_id: str, check_id: str) -> str:
    """Sloth's ``<service>-<slo>`` id for one SLO check."""
    return f"{gate_id}-{check_id}"


def check_matchers(gate_id: str, check_id: str) -> str:
    """Label matchers (without braces) selecting one check's recorded series."""
    return f'{GATE_LABEL}="{escape_promql_string(gate_id)}",{CHECK_LABEL}="{escape_promql_string(check_id)}"'


def verdict_matchers(gate_id: str, check_id: str | None = None) -> str:
    """Label matchers (without braces) selecting one gate's, or one check's, verdict metrics."""
    gate = f'{VERDICT_GATE_LABEL}="{escape_promql_string(gate_id)}"'
    return gate if check_id is None else f'{gate},{VERDICT_CHECK_LABEL}="{escape_promql_string(check_id)}"'

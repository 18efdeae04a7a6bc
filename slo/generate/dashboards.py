"""Grafana dashboards from gate specs: one per gate and one "gate board" over all of them.

Built with Grafana's maintained builders (``grafana-foundation-sdk``, pinned exactly: its API changes
between releases) so the JSON follows the current dashboard model instead of hand-written dicts.

SLO panels read the Sloth-style recording rules the rules generator writes (names in
:mod:`slo.generate.names`); threshold panels run the check's own query; verdict panels read the
verdict metrics ``gatepack collect --push/--metrics-textfile`` publishes. Every query keeps the spec's
variables as Grafana template variables (``${api_job}``) so one file serves every environment, and
every panel links to the exact query gatepack evaluates. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from slo.burnrate import windows_to_query
from slo.generate import names
from slo.promql.plan import PlanError, conditions_for, plan_check
from slo.results import Verdict
from slo.spec import AiCostCheck, AttestationCheck, Check, Gate, LoadtestCheck, Op, SloCheck, ThresholdCheck, TraceCheck
from slo.templating import PLACEHOLDER, TemplateError, render

UID_PREFIX = "gatepack-"
MAX_UID = 40
OVERVIEW_UID = "gatepack-gate-board"
OVERVIEW_FILE = "gate-board.json"
DEFAULT_DOCS_URL = "https://github.com/gatepack/gatepack/blob/main/docs/gates.md"
DATASOURCE_VAR = "datasource"
TAG = "gatepack"
# Spec units → Grafana unit ids; anything else is shown as a plain number with the unit as suffix.
UNITS = {"s": "s", "ms": "ms", "ratio": "percentunit", "USD": "currencyUSD", "req/s": "reqps", "bytes": "bytes"}
_DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VAR}}}")
_LOWER_IS_BETTER = {Op.LT, Op.LE}
_HIGHER_IS_BETTER = {Op.GT, Op.GE}
_FAIL_CODE = names.VERDICT_CODES[Verdict.FAIL]


class DashboardError(ValueError):
    """A gate that cannot be turned into a dashboard (e.g. two gates would share a uid)."""


@dataclass(frozen=True)
class DashboardOptions:
    """What the dashboards link to and how they open."""

    docs_url: str = DEFAULT_DOCS_URL
    time_from: str = "now-24h"
    refresh: str = "1m"


# -- identifiers and names -----------------------------------------------------------------------


def gate_uid(gate_id: str) -> str:
    """A stable Grafana uid (≤ 40 characters, ``[a-zA-Z0-9-_]``) derived from the gate id alone.

    Short ids map to ``gatepack-<id>`` (dots become dashes); long ones keep a readable prefix and end
    in a hash of the whole id, so two long ids with the same start never collide.
    """
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", gate_id)
    uid = UID_PREFIX + slug
    if len(uid) <= MAX_UID and slug == gate_id:
        return uid
    digest = hashlib.sha256(gate_id.encode("utf-8")).hexdigest()[:8]
    return (UID_PREFIX + slug)[: MAX_UID - 9] + "-" + digest


def dashboard_filename(gate_id: str) -> str:
    return f"{gate_uid(gate_id).removeprefix(UID_PREFIX)}.json"


def grafana_unit(unit: str | None) -> str:
    return UNITS.get(unit or "", "short")


def docs_link(options: DashboardOptions, gate: Gate) -> str:
    """The docs page of the gate: the gate's ``docs`` label when set, else the catalog page's heading."""
    if "docs" in gate.labels:
        return gate.labels["docs"]
    anchor = re.sub(r"[^a-z0-9 _-]", "", f"{gate.id} — {gate.title}".lower()).replace(" ", "-")
    return f"{options.docs_url}#{anchor}"


# -- queries -------------------------------------------------------------------------------------


def used_placeholders(gate: Gate) -> list[str]:
    """Every ``{{ name }}`` the gate's queries use, in order of first use (an SLO's ``window`` is a macro)."""
    seen: dict[str, None] = {}
    for check in gate.checks:
        for text in _query_texts(check):
            for match in PLACEHOLDER.finditer(text):
                if match.group(1) != "window" or not isinstance(check, SloCheck):
                    seen.setdefault(match.group(1), None)
    return list(seen)


def _query_texts(check: Check) -> list[str]:
    if isinstance(check, ThresholdCheck):
        return [check.query]
    if isinstance(check, SloCheck):
        return [q for q in (check.good, check.bad, check.total) if q is not None]
    return []


def grafana_expr(query: str, variables: Sequence[str], window: str | None = None) -> str:
    """``query`` with each placeholder turned into a Grafana variable reference (``${name}``).

    The spec's own renderer does the substitution (so quoting rules stay the same) with sentinel
    tokens that are bare names, which are then swapped for the Grafana references.
    """
    tokens: dict[str, str] = {}
    values: dict[str, str] = {}
    references = {name: "${" + name + "}" for name in variables}
    if window is not None:
        references["window"] = window  # an SLO's range: a Grafana macro such as $__rate_interval
    for index, (name, reference) in enumerate(references.items()):
        token = f"__gatepack_{index}__"
        values[name] = token
        tokens[token] = reference
    try:
        text = render(query, values)
    except TemplateError as exc:  # a placeholder neither in vars nor collected: cannot happen via used_placeholders
        raise DashboardError(str(exc)) from None
    for token, reference in tokens.items():
        text = text.replace(token, reference)
    return text


def exact_query(check: Check, gate: Gate, window: str | None = None) -> str | None:
    """The query exactly as ``gatepack collect`` sends it with the spec's vars (None if a var is unset)."""
    try:
        planned = plan_check(check, gate.vars)
    except PlanError:
        return None
    for item in planned:
        if window is None or item.window == window:
            return item.query
    return None


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def percent_encode(text: str) -> str:
    """RFC 3986 percent-encoding of everything but unreserved characters (``slo`` stays free of urllib)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def explore_url(expr: str) -> str:
    """A Grafana Explore link that opens ``expr`` on the dashboard's data source."""
    panes = {
        "gp": {
            "datasource": "DATASOURCE",
            "queries": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus", "uid": "DATASOURCE"}}],
            "range": {"from": "now-6h", "to": "now"},
        }
    }
    encoded = percent_encode(json.dumps(panes, separators=(",", ":"), sort_keys=True))
    return "/explore?schemaVersion=1&orgId=1&panes=" + encoded.replace("DATASOURCE", f"${{{DATASOURCE_VAR}}}")


def _max(metric: str, matchers: str) -> str:
    return f"max({metric}{{{matchers}}})"


def _burn_rate_expr(window: str, matchers: str) -> str:
    return f"{_max(names.sli_error(window), matchers)} / {_max(names.ERROR_BUDGET, matchers)}"


# -- panel pieces --------------------------------------------------------------------------------


def _target(expr: str, ref: str, legend: str | None = None, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(_DATASOURCE)
    if legend is not None:
        query = query.legend_format(legend)
    if instant:
        query = query.instant().format(PromQueryFormat.TABLE)
    else:
        query = query.range()
    return query


def _steps(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def _verdict_mappings() -> list[model.ValueMapping]:
    return [
        model.ValueMap(
            options={
                str(code): model.ValueMappingResult(text=verdict.value, color=names.VERDICT_COLORS[verdict], index=i)
                for i, (verdict, code) in enumerate(names.VERDICT_CODES.items())
            }
        )
    ]


def _links(urls: Sequence[tuple[str, str]]) -> list[cogbuilder.Builder[model.DashboardLink]]:
    return [
        dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url).target_blank(True).icon("external link")
        for title, url in urls
    ]


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs([])
    )


def _tooltip() -> common_builders.VizTooltipOptions:
    return common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE)


def _timeseries(title: str, unit: str, description: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .unit(unit)
        .legend(_legend())
        .tooltip(_tooltip())
        .line_width(1)
        .fill_opacity(10)
        .span(12)
        .height(8)
    )


def _stat(title: str, unit: str, description: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .unit(unit)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .text_mode(common.BigValueTextMode.AUTO)
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(common.PercentChangeColorMode.STANDARD)
        .orientation(common.VizOrientation.AUTO)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(6)
        .height(5)
    )


def _table(title: str, description: str) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .frame_index(0)
        .show_header(True)
        .span(12)
        .height(8)
    )


def _state_timeline(title: str, description: str) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(_DATASOURCE)
        .show_value(common.VisibilityMode.AUTO)
        .row_height(0.9)
        .legend(_legend())
        .tooltip(_tooltip())
        .span(12)
        .height(6)
    )


def _describe(check: Check, expr: str | None) -> str:
    parts = [check.description.strip()] if check.description else []
    if expr:
        parts.append(f"Exact query gatepack evaluates:\n\n```promql\n{expr}\n```")
    return "\n\n".join(parts)


def _check_links(gate: Gate, check: Check, options: DashboardOptions, expr: str | None) -> list[tuple[str, str]]:
    links = [(f"Docs: {check.id}", docs_link(options, gate))]
    if expr:
        links.append(("Explore the exact query", explore_url(expr)))
    return links


# -- per-check panels ----------------------------------------------------------------------------


def _slo_panels(gate: Gate, check: SloCheck, variables: Sequence[str], options: DashboardOptions) -> list[Any]:
    sel = names.check_matchers(gate.id, check.id)
    period = check.period
    conditions = conditions_for(check)
    windows = windows_to_query(period, conditions)
    exact = exact_query(check, gate, period)
    links = _check_links(gate, check, options, exact)
    about = _describe(check, exact)
    note = "\n\n" + _describe(check, exact) if exact else ""
    sli = (
        _timeseries(f"{check.display_title}: SLI vs objective ({period})", "percentunit", about)
        .with_target(_target(f"1 - {_max(names.sli_error(period), sel)}", "A", f"SLI ({period})"))
        .with_target(_target(f"1 - {_max(names.sli_error(windows[0]), sel)}", "B", f"SLI ({windows[0]})"))
        .with_target(_target(_max(names.OBJECTIVE, sel), "C", "objective"))
        .links(_links(links))
    )
    warn_at = check.warn_budget_remaining if check.warn_budget_remaining is not None else 0.25
    budget_steps = _steps((None, "red"), (0.0, "yellow"), (warn_at, "green"))
    remaining = _max(names.PERIOD_ERROR_BUDGET_REMAINING, sel)
    budget = (
        _stat(
            "Error budget remaining",
            "percentunit",
            f"Share of the {period} error budget left (negative: overspent).{note}",
        )
        .with_target(_target(remaining, "A", "remaining", instant=True))
        .thresholds(budget_steps)
        .links(_links(links))
        .span(4)
        .height(8)
    )
    burndown = (
        _timeseries(f"Error budget burn-down ({period})", "percentunit", f"Budget left over the SLO period.{note}")
        .with_target(_target(remaining, "A", "budget remaining"))
        .thresholds(budget_steps)
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
        .time_from(period)
        .span(8)
        .links(_links(links))
    )
    factors = sorted({c.factor for c in conditions})
    burn = _timeseries(
        "Burn rate per window",
        "none",
        "Error ratio over each window divided by the error budget; the lines are the alert factors "
        + ", ".join(f"{c.severity.value} {c.long}/{c.short} × {c.factor:g}" for c in conditions)
        + "."
        + note,
    ).thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    burn = burn.thresholds(_steps((None, "green"), *((f, "orange" if f < max(factors) else "red") for f in factors)))
    for index, window in enumerate(windows):
        burn = burn.with_target(_target(_burn_rate_expr(window, sel), _ref(index), window))
    burn = burn.links(_links(links))
    alerts = _state_timeline(
        "Alert conditions",
        "1 while both windows of a condition burn faster than its factor (the multi-window, multi-burn-rate alert)."
        + note,
    ).mappings(
        [
            model.ValueMap(
                options={
                    "0": model.ValueMappingResult(text="ok", color="green", index=0),
                    "1": model.ValueMappingResult(text="holds", color="red", index=1),
                }
            )
        ]
    )
    for index, condition in enumerate(conditions):
        long_expr = f"({_burn_rate_expr(condition.long, sel)} > bool {condition.factor:g})"
        short_expr = f"({_burn_rate_expr(condition.short, sel)} > bool {condition.factor:g})"
        legend = f"{condition.severity.value}: {condition.long} & {condition.short} > {condition.factor:g}"
        alerts = alerts.with_target(_target(f"{long_expr} * {short_expr}", _ref(index), legend))
    alerts = alerts.links(_links(links))
    numerator_role = "good" if check.good is not None else "bad"
    numerator = check.good if check.good is not None else check.bad
    assert numerator is not None
    events = (
        _timeseries(
            f"Events ({numerator_role}/total)",
            "short",
            "The spec's own event queries over each $__rate_interval (read straight from the source metrics)." + note,
        )
        .with_target(_target(grafana_expr(numerator, variables, "$__rate_interval"), "A", numerator_role))
        .with_target(_target(grafana_expr(check.total, variables, "$__rate_interval"), "B", "total"))
        .links(_links(links))
    )
    return [sli, budget, burndown, burn, alerts, events]


def _ref(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"Q{index}"


def _threshold_steps(check: ThresholdCheck) -> dash.ThresholdsConfig:
    """Colours that match the verdict: pass green, warning yellow, fail red, with a line at each bound."""
    if check.op in _LOWER_IS_BETTER:
        steps: list[tuple[float | None, str]] = [(None, "green")]
        if check.warn is not None and check.warn < check.target:
            steps.append((check.warn, "yellow"))
        steps.append((check.target, "red"))
        return _steps(*steps)
    if check.op in _HIGHER_IS_BETTER:
        steps = [(None, "red"), (check.target, "green")]
        if check.warn is not None and check.warn > check.target:
            steps = [(None, "red"), (check.target, "yellow"), (check.warn, "green")]
        return _steps(*steps)
    return _steps((None, "blue"), (check.target, "blue"))


def _threshold_panel(gate: Gate, check: ThresholdCheck, variables: Sequence[str], options: DashboardOptions) -> Any:
    exact = exact_query(check, gate)
    bound = f"{check.op.value} {check.target:g}" + (f", warn at {check.warn:g}" if check.warn is not None else "")
    return (
        _timeseries(f"{check.display_title} ({bound})", grafana_unit(check.unit), _describe(check, exact))
        .with_target(_target(grafana_expr(check.query, variables), "A", check.id))
        .thresholds(_threshold_steps(check))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
        .links(_links(_check_links(gate, check, options, exact)))
    )


def _published_panel(gate: Gate, check: TraceCheck | AiCostCheck) -> Any:
    """A trace or cost check's value over time, as each ``collect`` run published it (``gatepack_check_value``).

    These numbers are computed by gatepack from spans or from token counts priced with a table, so no
    PromQL over the raw telemetry reproduces them; the verdict metrics carry them (``--metrics-textfile``
    or ``--push``).
    """
    unit = check.unit or ("USD" if isinstance(check, AiCostCheck) and check.measure == "cost" else None)
    bound = f"{check.op.value} {check.target:g}" + (f", warn at {check.warn:g}" if check.warn is not None else "")
    source = "Prometheus token usage" if isinstance(check, AiCostCheck) and check.source == "prometheus" else "traces"
    description = (
        f"{check.description or check.display_title} Computed by gatepack from {source}"
        + (" priced with the run's --pricing table" if isinstance(check, AiCostCheck) else "")
        + "; the value each collect run published."
    )
    expr = f"max({names.CHECK_VALUE_METRIC}{{{names.verdict_matchers(gate.id, check.id)}}})"
    return (
        _timeseries(f"{check.display_title} ({bound})", grafana_unit(unit), description)
        .with_target(_target(expr, "A", check.id))
        .thresholds(_steps((None, "blue"), (check.target, "blue")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
    )


def verdict_label_expr(expr: str) -> str:
    """``expr`` (verdict codes) with each series labelled ``verdict="<name>"``, so a table can show the word.

    Value mappings would do it per column only through field overrides, which the strict dashboard
    schema cannot express; a label is plain PromQL and works in every panel.
    """
    return " or ".join(
        f'label_replace({expr} == {code}, "verdict", "{verdict.value}", "", "")'
        for verdict, code in names.VERDICT_CODES.items()
    )


def _hide_values(*renames: tuple[str, str]) -> model.DataTransformerConfig:
    return model.DataTransformerConfig(
        id_val="organize",
        options={"excludeByName": {"Time": True, "Value #A": True}, "renameByName": dict(renames)},
    )


def _verdict_panels(gate: Gate) -> list[Any]:
    sel = names.verdict_matchers(gate.id)
    by_check = f"max by ({names.VERDICT_CHECK_LABEL})"
    verdict = (
        _stat("Gate verdict", "none", "The latest verdict `gatepack collect` published for this gate.")
        .with_target(_target(f"max({names.GATE_VERDICT}{{{sel}}})", "A", "verdict", instant=True))
        .mappings(_verdict_mappings())
        .thresholds(_verdict_steps())
    )
    age = (
        _stat("Evidence age", "s", "Time since the last `gatepack collect` run for this gate.")
        .with_target(_target(f"time() - max({names.LAST_RUN_TIMESTAMP}{{{sel}}})", "A", "age", instant=True))
        .thresholds(_steps((None, "green"), (86400.0, "yellow"), (7 * 86400.0, "red")))
        .color_mode(common.BigValueColorMode.VALUE)
    )
    checks = (
        _table("Checks", "Every check's latest verdict and measured value (attestation and load-test checks too).")
        .with_target(_target(verdict_label_expr(f"{by_check} ({names.CHECK_VERDICT}{{{sel}}})"), "A", None, True))
        .with_target(_target(f"{by_check} ({names.CHECK_VALUE_METRIC}{{{sel}}})", "B", None, True))
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(_hide_values(("Value #B", "value")))
    )
    return [verdict, age, checks]


def _verdict_steps() -> dash.ThresholdsConfig:
    return _steps(
        *(
            (None if i == 0 else float(code), names.VERDICT_COLORS[verdict])
            for i, (verdict, code) in enumerate(names.VERDICT_CODES.items())
        )
    )


# -- dashboards ----------------------------------------------------------------------------------


def _variables(gate: Gate) -> list[cogbuilder.Builder[model.VariableModel]]:
    result: list[cogbuilder.Builder[model.VariableModel]] = [
        dash.DatasourceVariable(DATASOURCE_VAR).label("Data source").type("prometheus")
    ]
    for name in used_placeholders(gate):
        default = gate.vars.get(name, "")
        result.append(
            dash.TextBoxVariable(name)
            .label(name)
            .default_value(default)
            .current(model.VariableOption(selected=True, text=default, value=default))
            .description("Spec variable (override it as with `gatepack collect --var`)")
        )
    return result


def _base(title: str, uid: str, options: DashboardOptions, description: str | None) -> dash.Dashboard:
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .tags([TAG])
        .time(options.time_from, "now")
        .refresh(options.refresh)
        .timezone("utc")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .editable()
        .annotation(
            dash.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
            .built_in(1)
        )
    )
    if description:
        board = board.description(description)
    return board


def gate_dashboard_builder(gate: Gate, options: DashboardOptions = DashboardOptions()) -> dash.Dashboard:
    """The builder of one gate's dashboard (before ids are numbered)."""
    variables = used_placeholders(gate)
    board = _base(f"gatepack: {gate.title}", gate_uid(gate.id), options, gate.description)
    board = board.link(
        dash.DashboardLink("Gate board")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(False)
        .keep_time(True)
    ).link(dash.DashboardLink("Gate docs").type(model.DashboardLinkType.LINK).url(docs_link(options, gate)))
    for variable in _variables(gate):
        board = board.with_variable(variable)
    board = board.with_row(dash.Row(f"{gate.id}: latest verdicts"))
    for panel in _verdict_panels(gate):
        board = board.with_panel(panel)
    for check in gate.checks:
        if isinstance(check, SloCheck):
            board = board.with_row(dash.Row(f"SLO {check.id}: {check.objective:g}% over {check.period}"))
            for panel in _slo_panels(gate, check, variables, options):
                board = board.with_panel(panel)
    thresholds = [c for c in gate.checks if isinstance(c, ThresholdCheck)]
    if thresholds:
        board = board.with_row(dash.Row("Threshold checks"))
        for check in thresholds:
            board = board.with_panel(_threshold_panel(gate, check, variables, options))
    computed = [c for c in gate.checks if isinstance(c, TraceCheck | AiCostCheck)]
    if computed:
        board = board.with_row(dash.Row("Trace and cost checks (values gatepack published)"))
        for check in computed:
            board = board.with_panel(_published_panel(gate, check))
    others = [c.id for c in gate.checks if isinstance(c, AttestationCheck | LoadtestCheck)]
    if others:
        board = board.description(
            (gate.description or gate.title) + f" Checks without a live query ({', '.join(others)}) show in 'Checks'."
        )
    return board


def overview_builder(gates: Sequence[Gate], options: DashboardOptions = DashboardOptions()) -> dash.Dashboard:
    """The gate board: every gate's latest verdict and age, failing checks and SLO budgets."""
    ids = [g.id for g in gates]
    board = _base("gatepack: gate board", OVERVIEW_UID, options, "Latest verdict of every release gate.")
    board = board.link(
        dash.DashboardLink("Gate dashboards")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .keep_time(True)
    )
    board = board.with_variable(dash.DatasourceVariable(DATASOURCE_VAR).label("Data source").type("prometheus"))
    board = board.with_variable(
        dash.CustomVariable("gate")
        .label("Gate")
        .values(",".join(ids))
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    gsel = f'{names.VERDICT_GATE_LABEL}=~"$gate"'
    gate_by = f"max by ({names.VERDICT_GATE_LABEL})"
    verdicts = (
        _table("Gate board", "Latest verdict per gate and the age of its evidence (seconds since the collect run).")
        .with_target(_target(verdict_label_expr(f"{gate_by} ({names.GATE_VERDICT}{{{gsel}}})"), "A", None, True))
        .with_target(_target(f"time() - {gate_by} ({names.LAST_RUN_TIMESTAMP}{{{gsel}}})", "B", None, True))
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(_hide_values(("Value #B", "age")))
        .unit("s")
        .span(12)
        .height(10)
    )
    failing = (
        _table("Failing checks", "Checks whose latest verdict fails the gate (fail or error).")
        .with_target(
            _target(
                verdict_label_expr(
                    f"max by ({names.VERDICT_GATE_LABEL}, {names.VERDICT_CHECK_LABEL}) "
                    f"({names.CHECK_VERDICT}{{{gsel}}} >= {_FAIL_CODE})"
                ),
                "A",
                None,
                True,
            )
        )
        .with_transformation(
            model.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True, "Value": True}})
        )
        .span(12)
        .height(10)
    )
    budgets = (
        _timeseries("Error budget remaining per SLO", "percentunit", "Budget left per SLO check at each collect run.")
        .with_target(
            _target(
                f"max by ({names.VERDICT_GATE_LABEL}, {names.VERDICT_CHECK_LABEL}) "
                f"({names.SLO_BUDGET_REMAINING}{{{gsel}}})",
                "A",
                "{{gate}}/{{check}}",
            )
        )
        .thresholds(_steps((None, "red"), (0.0, "yellow"), (0.25, "green")))
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
    )
    history = (
        _state_timeline("Gate verdicts over time", "Verdict of each gate at each collect run.")
        .with_target(_target(f"{gate_by} ({names.GATE_VERDICT}{{{gsel}}})", "A", "{{gate}}"))
        .mappings(_verdict_mappings())
        .thresholds(_verdict_steps())
    )
    board = board.with_row(dash.Row("Gates"))
    for panel in (verdicts, failing, budgets, history):
        board = board.with_panel(panel)
    return board


def _numbered(board: dash.Dashboard) -> dict[str, Any]:
    """The dashboard as a JSON-ready dict with panel ids 1, 2, … in layout order."""
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(board.build()))
    for index, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = index
    return data


def gate_dashboard(gate: Gate, options: DashboardOptions = DashboardOptions()) -> dict[str, Any]:
    """One gate's dashboard as Grafana JSON model."""
    return _numbered(gate_dashboard_builder(gate, options))


def overview_dashboard(gates: Sequence[Gate], options: DashboardOptions = DashboardOptions()) -> dict[str, Any]:
    """The gate board as Grafana JSON model."""
    return _numbered(overview_builder(gates, options))


def encode(data: Mapping[str, Any]) -> bytes:
    """Stable bytes: sorted keys, two-space indent, trailing newline (diff-friendly, byte-reproducible)."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def dashboard_files(
    gates: Sequence[Gate], options: DashboardOptions = DashboardOptions(), overview: bool = True
) -> dict[str, bytes]:
    """File name → content for every gate's dashboard and (optionally) the gate board."""
    files: dict[str, bytes] = {}
    owners: dict[str, str] = {}
    for gate in gates:
        uid = gate_uid(gate.id)
        if uid in owners:
            raise DashboardError(f"gates {owners[uid]!r} and {gate.id!r} map to the same dashboard uid {uid!r}")
        owners[uid] = gate.id
        files[dashboard_filename(gate.id)] = encode(gate_dashboard(gate, options))
    if overview:
        if OVERVIEW_FILE in files:
            raise DashboardError(f"a gate's dashboard file would overwrite the gate board ({OVERVIEW_FILE})")
        files[OVERVIEW_FILE] = encode(overview_dashboard(gates, options))
    return files

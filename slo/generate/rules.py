"""Prometheus recording and alerting rules from gate specs, in Sloth's names and structure.

Why Sloth's shape: teams that run Sloth already have dashboards and alert routing keyed on
``slo:sli_error:ratio_rate<W>``, ``sloth_id`` and ``sloth_severity``; rules that look the same plug into
them unchanged. Why this module owns no window table: the windows and factors come from
:func:`slo.promql.plan.conditions_for` and :func:`slo.burnrate.windows_to_query`, the same code the packet
evaluation uses, so the alerts that page and the packet reviewers read cannot disagree.

Pure: specs in, plain dicts (and YAML text) out; no I/O. Every series and label name comes from
:mod:`slo.generate.names`, which the dashboards and verdict metrics read too.

Sloth alert routing that a gate spec has no field for travels in gate labels whose keys start with
``alert.`` (no Prometheus label name contains a dot, so they never collide with rule labels):
``alert.name``, ``alert.label.K``, ``alert.annotation.K``, ``alert.page.label.K``,
``alert.ticket.annotation.K``, ``alert.page.disable: "true"``. ``sloth_service`` sets the service name
(default: the gate id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from slo import __version__
from slo.burnrate import error_budget, windows_to_query
from slo.durations import parse_duration
from slo.generate import names
from slo.generate.names import prom_duration as prom_duration  # re-exported: callers name windows with it
from slo.generate.names import rule_window
from slo.promql.plan import conditions_for
from slo.spec import BurnRateWindow, Gate, Op, Severity, SloCheck, ThresholdCheck
from slo.templating import escape_promql_string, render

ALERT_PREFIX = "alert."
SERVICE_LABEL = names.SLOTH_SERVICE
DEFAULT_ALERT_NAME = "GatepackSLOBurnRate"
DEFAULT_RUNBOOK = "docs/gates.md#{gate}"
_IDENTITY = (names.SLOTH_ID, names.SLOTH_SERVICE, names.SLOTH_SLO)


class RulesError(ValueError):
    """A gate whose rules cannot be generated (e.g. a query placeholder without a value)."""


@dataclass(frozen=True)
class RuleOptions:
    """Knobs that are not part of the spec: spec variable overrides and the runbook link template."""

    variables: Mapping[str, str] = field(default_factory=dict)
    runbook: str = DEFAULT_RUNBOOK


def rule_windows(check: SloCheck) -> list[str]:
    """Every window a check's rules record, as packet windows (shortest first, the period last)."""
    return windows_to_query(check.period, conditions_for(check))


def _number(value: float) -> str:
    """PromQL literal: integers without a trailing ``.0``, others with Python's shortest round-trip repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _selector(identity: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{escape_promql_string(identity[k])}"' for k in _IDENTITY)
    return "{" + inner + "}"


def _routing(gate: Gate) -> tuple[dict[str, str], dict[str, str]]:
    """(rule labels, alert routing settings) from gate labels."""
    labels = {k: v for k, v in gate.labels.items() if not k.startswith(ALERT_PREFIX)}
    routing = {k[len(ALERT_PREFIX) :]: v for k, v in gate.labels.items() if k.startswith(ALERT_PREFIX)}
    return labels, routing


def _prefixed(routing: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in routing.items() if k.startswith(prefix)}


def _ratio_expr(check: SloCheck, window: str, variables: Mapping[str, str]) -> str:
    """The error ratio over ``window``, computed from the same queries (and variables) as the packet."""
    values = {**variables, "window": rule_window(window)}
    try:
        total = render(check.total, values)
        if check.bad is not None:
            return f"({render(check.bad, values)})\n/\n({total})\n"
        assert check.good is not None
        return f"(1 - (({render(check.good, values)})\n/\n({total})))\n"
    except ValueError as exc:
        raise RulesError(f"check {check.id}: {exc}") from None


def _alert_expr(conditions: Iterable[BurnRateWindow], selector: str, budget: str) -> str:
    blocks = []
    for c in conditions:
        factor = _number(c.factor)
        parts = [
            f"max({names.sli_error(w)}{selector} > ({factor} * {budget})) without ({names.SLOTH_WINDOW})"
            for w in (c.short, c.long)
        ]
        blocks.append("(\n    " + "\n    and\n    ".join(parts) + "\n)")
    return "\nor\n".join(blocks) + "\n"


def slo_groups(gate: Gate, check: SloCheck, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """Sloth's three groups (SLI recordings, meta recordings, alerts) for one ``slo`` check."""
    options = options or RuleOptions()
    variables = {**gate.vars, **options.variables}
    base_labels, routing = _routing(gate)
    service = base_labels.get(SERVICE_LABEL, gate.id)
    identity = {
        names.SLOTH_ID: names.sloth_id(service, check.id),
        names.SLOTH_SERVICE: service,
        names.SLOTH_SLO: check.id,
    }
    own = {names.GATE_LABEL: gate.id, names.CHECK_LABEL: check.id}
    labels = {**base_labels, **identity, **own}
    selector = _selector(identity)
    conditions = conditions_for(check)
    windows = rule_windows(check)
    shortest, period = names.sli_error(windows[0]), names.sli_error(check.period)
    budget = error_budget(check.objective)

    sli_rules = [
        {
            "record": names.sli_error(w),
            "expr": _ratio_expr(check, w, variables),
            "labels": _sorted({**labels, names.SLOTH_WINDOW: rule_window(w)}),
        }
        for w in windows
    ]
    on = f"/ on({names.SLOTH_ID}, {names.SLOTH_SLO}, {names.SLOTH_SERVICE}) group_left\n"
    meta = [
        (names.OBJECTIVE, f"vector({_number(check.objective / 100)})"),
        (names.ERROR_BUDGET, f"vector({_number(budget)})"),
        (names.TIME_PERIOD_DAYS, f"vector({_number(parse_duration(check.period) / 86400)})"),
        (names.CURRENT_BURN_RATE, f"{shortest}{selector}\n{on}{names.ERROR_BUDGET}{selector}\n"),
        (names.PERIOD_BURN_RATE, f"{period}{selector}\n{on}{names.ERROR_BUDGET}{selector}\n"),
        (names.PERIOD_ERROR_BUDGET_REMAINING, f"1 - {names.PERIOD_BURN_RATE}{selector}"),
    ]
    meta_rules: list[dict[str, Any]] = [{"record": r, "expr": e, "labels": _sorted(labels)} for r, e in meta]
    info = {
        **labels,
        "sloth_mode": "gatepack",
        "sloth_objective": _number(check.objective),
        "sloth_spec": "gatepack/v1",
        "sloth_version": __version__,
    }
    meta_rules.append({"record": names.SLO_INFO, "expr": "vector(1)", "labels": _sorted(info)})

    groups: list[dict[str, Any]] = [
        {"name": f"sloth-slo-sli-recordings-{identity[names.SLOTH_ID]}", "rules": sli_rules},
        {"name": f"sloth-slo-meta-recordings-{identity[names.SLOTH_ID]}", "rules": meta_rules},
    ]
    alerts = []
    for severity in (Severity.PAGE, Severity.TICKET):
        chosen = [c for c in conditions if c.severity is severity]
        if not chosen or routing.get(f"{severity.value}.disable") == "true":
            continue
        alert_labels = {
            **_prefixed(routing, "label."),
            **_prefixed(routing, f"{severity.value}.label."),
            **own,
            names.SLOTH_SEVERITY: severity.value,
        }
        windows_text = ", ".join(f"{c.short}/{c.long}" for c in chosen)
        factors_text = ", ".join(_number(c.factor) for c in chosen)
        annotations = {
            "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.",
            "title": f"({severity.value}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error "
            "budget burn rate is too fast.",
            "runbook_url": options.runbook.format(gate=gate.id, check=check.id),
            "gate": gate.id,
            "check": check.id,
            "windows": windows_text,
            "factors": factors_text,
            **_prefixed(routing, "annotation."),
            **_prefixed(routing, f"{severity.value}.annotation."),
        }
        alerts.append(
            {
                "alert": routing.get("name", DEFAULT_ALERT_NAME),
                "expr": _alert_expr(chosen, selector, _number(budget)),
                "labels": _sorted(alert_labels),
                "annotations": _sorted(annotations),
            }
        )
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{identity[names.SLOTH_ID]}", "rules": alerts})
    return groups


def threshold_group(gate: Gate, checks: list[ThresholdCheck], options: RuleOptions | None = None) -> dict[str, Any]:
    """``gatepack:check_value`` for each threshold check, plus the opt-in alerts (``alert: true``)."""
    options = options or RuleOptions()
    variables = {**gate.vars, **options.variables}
    rules: list[dict[str, Any]] = []
    for check in checks:
        try:
            query = render(check.query, variables)
        except ValueError as exc:
            raise RulesError(f"check {check.id}: {exc}") from None
        labels = {names.GATE_LABEL: gate.id, names.CHECK_LABEL: check.id}
        rules.append({"record": names.CHECK_VALUE, "expr": query, "labels": _sorted(labels)})
    for check in checks:
        if not check.alert:
            continue
        gate_value, check_value = escape_promql_string(gate.id), escape_promql_string(check.id)
        selector = f'{{{names.GATE_LABEL}="{gate_value}", {names.CHECK_LABEL}="{check_value}"}}'
        broken = Op(check.op).negated
        alert: dict[str, Any] = {
            "alert": "GatepackCheckBroken",
            "expr": f"{names.CHECK_VALUE}{selector} {broken} {_number(check.target)}",
        }
        if check.for_ is not None:
            alert["for"] = check.for_
        alert["labels"] = _sorted({names.GATE_LABEL: gate.id, names.CHECK_LABEL: check.id, "severity": "ticket"})
        alert["annotations"] = _sorted(
            {
                "summary": f"{check.display_title}: {{{{ $value }}}} {broken} {_number(check.target)} "
                f"(target {check.op.value} {_number(check.target)}{' ' + check.unit if check.unit else ''})",
                "runbook_url": options.runbook.format(gate=gate.id, check=check.id),
                "gate": gate.id,
                "check": check.id,
            }
        )
        rules.append(alert)
    return {"name": f"gatepack-thresholds-{gate.id}", "rules": rules}


def gate_groups(gate: Gate, options: RuleOptions | None = None) -> list[dict[str, Any]]:
    """All rule groups for one gate: Sloth's groups per ``slo`` check, one group for its thresholds."""
    groups: list[dict[str, Any]] = []
    for check in gate.checks:
        if isinstance(check, SloCheck):
            groups.extend(slo_groups(gate, check, options))
    thresholds = [c for c in gate.checks if isinstance(c, ThresholdCheck)]
    if thresholds:
        groups.append(threshold_group(gate, thresholds, options))
    return groups


def rules_document(gates: Iterable[Gate], options: RuleOptions | None = None) -> dict[str, Any]:
    """A Prometheus rules file (``{"groups": [...]}``) for the gates, in their order."""
    return {"groups": [g for gate in gates for g in gate_groups(gate, options)]}


def prometheus_rule(document: Mapping[str, Any], name: str, namespace: str | None = None) -> dict[str, Any]:
    """The same groups as a prometheus-operator ``PrometheusRule`` custom resource."""
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "gatepack"}}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": list(document["groups"])},
    }


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line strings as literal blocks, so expressions stay readable."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(document: Mapping[str, Any]) -> str:
    """Stable YAML text: keys in the order built (labels sorted), block literals for expressions."""
    header = "# Generated by gatepack rules from gate specs. DO NOT EDIT: change the spec and regenerate.\n"
    text: str = yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return header + text


def _sorted(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k: mapping[k] for k in sorted(mapping)}

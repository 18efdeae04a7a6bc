"""Prometheus recording and alerting rules from gate specs, in Sloth's names and structure.

Why Sloth's shape: teams that run Sloth already have dashboards and alert routing keyed on
``slo:sli_error:ratio_rate<W>``, ``sloth_id`` and ``sloth_severity``; rules that look the same plug into
them unchanged. Why this module owns no window table: the windows and factors come from
:func:`slo.promql.plan.conditions_for` and :func:`slo.burnrate.windows_to_query`, the same code the packet
evaluation uses, so the alerts that page and the packet reviewers read cannot disagree.

Pure: specs in, plain dicts (and YAML text) out; no I/O.

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
from slo.promql.plan import conditions_for
from slo.spec import BurnRateWindow, Gate, Op, Severity, SloCheck, ThresholdCheck
from slo.templating import render

ALERT_PREFIX = "alert."
SERVICE_LABEL = "sloth_service"
DEFAULT_ALERT_NAME = "GatepackSLOBurnRate"
DEFAULT_RUNBOOK = "docs/gates.md#{gate}"
_IDENTITY = ("sloth_id", "sloth_service", "sloth_slo")


class RulesError(ValueError):
    """A gate whose rules cannot be generated (e.g. a query placeholder without a value)."""


@dataclass(frozen=True)
class RuleOptions:
    """Knobs that are not part of the spec: spec variable overrides and the runbook link template."""

    variables: Mapping[str, str] = field(default_factory=dict)
    runbook: str = DEFAULT_RUNBOOK


def prom_duration(seconds: int) -> str:
    """A duration as Prometheus prints it (``28d`` → ``4w``, ``30d`` stays): the names Sloth gives windows."""
    parts: list[str] = []
    remaining = seconds
    for unit, size, exact in (("y", 365 * 86400, True), ("w", 7 * 86400, True), ("d", 86400, False)):
        if exact and remaining % size:
            continue
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def rule_windows(check: SloCheck) -> list[str]:
    """Every window a check's rules record, as packet windows (shortest first, the period last)."""
    return windows_to_query(check.period, conditions_for(check))


def _number(value: float) -> str:
    """PromQL literal: integers without a trailing ``.0``, others with Python's shortest round-trip repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _selector(identity: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{_escape(identity[k])}"' for k in _IDENTITY)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _routing(gate: Gate) -> tuple[dict[str, str], dict[str, str]]:
    """(rule labels, alert routing settings) from gate labels."""
    labels = {k: v for k, v in gate.labels.items() if not k.startswith(ALERT_PREFIX)}
    routing = {k[len(ALERT_PREFIX) :]: v for k, v in gate.labels.items() if k.startswith(ALERT_PREFIX)}
    return labels, routing


def _prefixed(routing: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in routing.items() if k.startswith(prefix)}


def _ratio_expr(check: SloCheck, window: str, variables: Mapping[str, str]) -> str:
    """The error ratio over ``window``, computed from the same queries (and variables) as the packet."""
    values = {**variables, "window": prom_duration(parse_duration(window))}
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
            f"max(slo:sli_error:ratio_rate{prom_duration(parse_duration(w))}{selector} > ({factor} * {budget})) "
            "without (sloth_window)"
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
    identity = {"sloth_id": f"{service}-{check.id}", "sloth_service": service, "sloth_slo": check.id}
    own = {"gatepack_gate": gate.id, "gatepack_check": check.id}
    labels = {**base_labels, **identity, **own}
    selector = _selector(identity)
    conditions = conditions_for(check)
    windows = rule_windows(check)
    shortest, period = prom_duration(parse_duration(windows[0])), prom_duration(parse_duration(check.period))
    budget = error_budget(check.objective)

    sli_rules = [
        {
            "record": f"slo:sli_error:ratio_rate{prom_duration(parse_duration(w))}",
            "expr": _ratio_expr(check, w, variables),
            "labels": _sorted({**labels, "sloth_window": prom_duration(parse_duration(w))}),
        }
        for w in windows
    ]
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
    meta = [
        ("slo:objective:ratio", f"vector({_number(check.objective / 100)})"),
        ("slo:error_budget:ratio", f"vector({_number(budget)})"),
        ("slo:time_period:days", f"vector({_number(parse_duration(check.period) / 86400)})"),
        (
            "slo:current_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{shortest}{selector}\n{on}slo:error_budget:ratio{selector}\n",
        ),
        (
            "slo:period_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{period}{selector}\n{on}slo:error_budget:ratio{selector}\n",
        ),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{selector}"),
    ]
    meta_rules: list[dict[str, Any]] = [{"record": r, "expr": e, "labels": _sorted(labels)} for r, e in meta]
    info = {
        **labels,
        "sloth_mode": "gatepack",
        "sloth_objective": _number(check.objective),
        "sloth_spec": "gatepack/v1",
        "sloth_version": __version__,
    }
    meta_rules.append({"record": "sloth_slo_info", "expr": "vector(1)", "labels": _sorted(info)})

    groups: list[dict[str, Any]] = [
        {"name": f"sloth-slo-sli-recordings-{identity['sloth_id']}", "rules": sli_rules},
        {"name": f"sloth-slo-meta-recordings-{identity['sloth_id']}", "rules": meta_rules},
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
            "sloth_severity": severity.value,
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
        groups.append({"name": f"sloth-slo-alerts-{identity['sloth_id']}", "rules": alerts})
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
        labels = {"gatepack_gate": gate.id, "gatepack_check": check.id}
        rules.append({"record": "gatepack:check_value", "expr": query, "labels": _sorted(labels)})
    for check in checks:
        if not check.alert:
            continue
        selector = f'{{gatepack_gate="{_escape(gate.id)}", gatepack_check="{_escape(check.id)}"}}'
        broken = Op(check.op).negated
        alert: dict[str, Any] = {
            "alert": "GatepackCheckBroken",
            "expr": f"gatepack:check_value{selector} {broken} {_number(check.target)}",
        }
        if check.for_ is not None:
            alert["for"] = check.for_
        alert["labels"] = _sorted({"gatepack_gate": gate.id, "gatepack_check": check.id, "severity": "ticket"})
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

"""Sloth specs (``prometheus/v1`` and the ``PrometheusServiceLevel`` CR) → gate spec documents.

Pure: parsed YAML documents in, gate spec dicts out (validated by :class:`slo.spec.Gate`). One gate per
Sloth SLO, so that each SLO's own labels and alert routing survive: the gate id is Sloth's ``sloth_id``
(``service-slo``), the service travels in the ``sloth_service`` label and alert routing in ``alert.*``
labels (see :mod:`slo.generate.rules`).

Sloth's own alert windows for the period are written as explicit ``alerting:``, so the packet and the
generated rules behave exactly as Sloth does, whatever gatepack's defaults become. Anything Sloth can
express that a gate cannot (SLI plugins, raw error-ratio queries, SLO plugins that change rules) is an
:class:`ImportError_` naming the field, never a silent approximation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from slo.burnrate import burn_rate_factor
from slo.durations import DurationError, format_duration, parse_duration
from slo.spec import API_VERSION, Gate

_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
# Sloth plugins known to change nothing in the generated rules (they only log).
_NO_OP_PLUGINS = {"sloth.dev/core/debug/v1"}


class ImportError_(ValueError):  # the builtin name ImportError is taken
    """Input that cannot be imported; the message names the document and field."""


@dataclass(frozen=True)
class AlertWindow:
    """One Sloth alert window: share of the budget (percent) spent within ``long``, checked with ``short``."""

    severity: str
    budget_percent: float
    short: str
    long: str


# Sloth v0.16's built-in windows (internal/alert/windows/google-30d.yaml and google-28d.yaml): the same
# budget shares and windows for both periods. Kept here, not taken from slo.burnrate, on purpose: these are
# Sloth's windows, and an imported spec must keep matching Sloth even if gatepack's defaults change.
_GOOGLE = (
    AlertWindow("page", 2, "5m", "1h"),
    AlertWindow("page", 5, "30m", "6h"),
    AlertWindow("ticket", 10, "2h", "1d"),
    AlertWindow("ticket", 10, "6h", "3d"),
)
SLOTH_DEFAULT_WINDOWS: dict[int, tuple[AlertWindow, ...]] = {30 * 86400: _GOOGLE, 28 * 86400: _GOOGLE}


def _get(doc: Mapping[str, Any], *names: str) -> Any:
    """The first key present: Sloth's CR spells ``error_query`` as ``errorQuery``."""
    for name in names:
        if name in doc:
            return doc[name]
    return None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImportError_(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _labels(value: Any, where: str) -> dict[str, str]:
    return {str(k): _text(v) for k, v in _mapping(value, where).items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_alert_windows(doc: Mapping[str, Any], where: str = "windows") -> tuple[str, tuple[AlertWindow, ...]]:
    """A Sloth ``AlertWindows`` document → (period, windows)."""
    if doc.get("kind") != "AlertWindows":
        raise ImportError_(f"{where}: kind: expected AlertWindows, got {doc.get('kind')!r}")
    spec = _mapping(doc.get("spec"), f"{where}: spec")
    period = spec.get("sloPeriod")
    windows: list[AlertWindow] = []
    for severity in ("page", "ticket"):
        for speed in ("quick", "slow"):
            field = f"{where}: spec.{severity}.{speed}"
            item = _mapping(_mapping(spec.get(severity), field).get(speed), field)
            try:
                windows.append(
                    AlertWindow(
                        severity,
                        float(item["errorBudgetPercent"]),
                        _canonical(str(item["shortWindow"]), f"{field}.shortWindow"),
                        _canonical(str(item["longWindow"]), f"{field}.longWindow"),
                    )
                )
            except KeyError as exc:
                raise ImportError_(f"{field}.{exc.args[0]}: missing") from None
            except (TypeError, ValueError) as exc:
                raise ImportError_(f"{field}: {exc}") from None
    return _canonical(str(period), f"{where}: spec.sloPeriod"), tuple(windows)


def _canonical(duration: str, where: str) -> str:
    """``24h`` → ``1d``: windows are written the way the packet names them."""
    try:
        return format_duration(parse_duration(duration))
    except DurationError as exc:
        raise ImportError_(f"{where}: {exc}") from None


def alerting_for(period: str, windows: tuple[AlertWindow, ...] | None) -> list[dict[str, Any]]:
    """Explicit ``alerting:`` conditions equal to Sloth's for ``period``."""
    if windows is None:
        windows = SLOTH_DEFAULT_WINDOWS.get(parse_duration(period))
        if windows is None:
            raise ImportError_(
                f"period {period}: Sloth has built-in alert windows only for 30d and 28d; give its AlertWindows file"
            )
    return [
        {
            "long": w.long,
            "short": w.short,
            "factor": burn_rate_factor(w.budget_percent / 100.0, period, w.long),
            "severity": w.severity,
        }
        for w in windows
    ]


def _query(text: Any, where: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ImportError_(f"{where}: expected a PromQL query")
    if not _WINDOW.search(text):
        raise ImportError_(f"{where}: the query must use {{{{.window}}}} for its range")
    return _WINDOW.sub("{{ window }}", text.strip())


def _routing(alerting: Mapping[str, Any], where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    if alerting.get("name"):
        labels["alert.name"] = str(alerting["name"])
    for key, value in _labels(alerting.get("labels"), f"{where}.labels").items():
        labels[f"alert.label.{key}"] = value
    for key, value in _labels(alerting.get("annotations"), f"{where}.annotations").items():
        labels[f"alert.annotation.{key}"] = value
    for severity, names in (("page", ("page_alert", "pageAlert")), ("ticket", ("ticket_alert", "ticketAlert"))):
        alert = _mapping(_get(alerting, *names), f"{where}.{names[0]}")
        if alert.get("disable"):
            labels[f"alert.{severity}.disable"] = "true"
        for key, value in _labels(alert.get("labels"), f"{where}.{names[0]}.labels").items():
            labels[f"alert.{severity}.label.{key}"] = value
        for key, value in _labels(alert.get("annotations"), f"{where}.{names[0]}.annotations").items():
            labels[f"alert.{severity}.annotation.{key}"] = value
    return labels


def _plugins(value: Any, where: str) -> None:
    chain = _mapping(value, where).get("chain") or []
    for index, plugin in enumerate(chain):
        plugin_id = _mapping(plugin, f"{where}.chain[{index}]").get("id")
        if plugin_id not in _NO_OP_PLUGINS:
            raise ImportError_(f"{where}.chain[{index}].id: Sloth SLO plugin {plugin_id!r} cannot be imported")


def import_sloth_document(
    doc: Mapping[str, Any], where: str, period: str = "30d", windows: tuple[AlertWindow, ...] | None = None
) -> list[dict[str, Any]]:
    """One Sloth document (``prometheus/v1`` or ``PrometheusServiceLevel``) → gate spec dicts."""
    if doc.get("kind") == "PrometheusServiceLevel":
        spec = _mapping(doc.get("spec"), f"{where}: spec")
        prefix = f"{where}: spec."
    elif doc.get("version") == "prometheus/v1":
        spec = doc
        prefix = f"{where}: "
    else:
        raise ImportError_(
            f"{where}: not a Sloth spec (want version: prometheus/v1 or kind: PrometheusServiceLevel), "
            f"got version {doc.get('version')!r}, kind {doc.get('kind')!r}"
        )
    service = spec.get("service")
    if not isinstance(service, str) or not service:
        raise ImportError_(f"{prefix}service: missing")
    _plugins(_get(spec, "slo_plugins", "sloPlugins"), f"{prefix}slo_plugins")
    common = _labels(spec.get("labels"), f"{prefix}labels")
    alerting = alerting_for(period, windows)
    slos = spec.get("slos")
    if not isinstance(slos, list) or not slos:
        raise ImportError_(f"{prefix}slos: expected a non-empty list")
    gates: list[dict[str, Any]] = []
    for index, slo in enumerate(slos):
        here = f"{prefix}slos[{index}]"
        slo = _mapping(slo, here)
        name = slo.get("name")
        if not isinstance(name, str) or not name:
            raise ImportError_(f"{here}.name: missing")
        _plugins(slo.get("plugins"), f"{here}.plugins")
        sli = _mapping(slo.get("sli"), f"{here}.sli")
        if "plugin" in sli:
            raise ImportError_(f"{here}.sli.plugin: SLI plugins cannot be imported (their query is Go code)")
        if "raw" in sli:
            raise ImportError_(
                f"{here}.sli.raw: a raw error-ratio query has no event counts; rewrite it as sli.events "
                "(error_query and total_query)"
            )
        events = _mapping(sli.get("events"), f"{here}.sli.events")
        if not events:
            raise ImportError_(f"{here}.sli.events: missing (give error_query and total_query)")
        check: dict[str, Any] = {
            "id": name,
            "kind": "slo",
            "bad": _query(_get(events, "error_query", "errorQuery"), f"{here}.sli.events.error_query"),
            "total": _query(_get(events, "total_query", "totalQuery"), f"{here}.sli.events.total_query"),
            "objective": slo.get("objective"),
            "period": period,
            "alerting": alerting,
        }
        if slo.get("description"):
            check["description"] = str(slo["description"])
        labels = {
            **common,
            **_labels(slo.get("labels"), f"{here}.labels"),
            "sloth_service": service,
            **_routing(_mapping(slo.get("alerting"), f"{here}.alerting"), f"{here}.alerting"),
        }
        gate = {
            "apiVersion": API_VERSION,
            "kind": "Gate",
            "id": f"{service}-{name}",
            "title": f"{service} {name} (imported from Sloth)",
            "labels": labels,
            "checks": [check],
        }
        try:
            Gate.model_validate(gate)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ImportError_(f"{here}: not a valid gate after import: {loc}: {first['msg']}") from None
        gates.append(gate)
    return gates


def import_sloth(
    documents: list[Any], source: str, period: str = "30d", windows_doc: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every Sloth document of a (multi-document) file → gate spec dicts, in order."""
    windows: tuple[AlertWindow, ...] | None = None
    if windows_doc is not None:
        windows_period, windows = parse_alert_windows(windows_doc)
        if parse_duration(windows_period) != parse_duration(period):
            raise ImportError_(f"windows: spec.sloPeriod {windows_period} differs from the period {period}")
    gates: list[dict[str, Any]] = []
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        where = f"{source} document {index + 1}"
        gates.extend(import_sloth_document(_mapping(doc, where), where, period, windows))
    if not gates:
        raise ImportError_(f"{source}: no Sloth spec found")
    return gates

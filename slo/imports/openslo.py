"""OpenSLO v1 objects → gate spec documents.

Pure: parsed YAML documents and the OpenSLO v1 JSON Schema (as dicts keyed by ``$id``) in, gate spec
dicts out. Every object is validated against the schema first, then converted:

- ``ratioMetric`` good/bad + total → an ``slo`` check. A query that already uses ``{{.window}}`` is kept
  as written; a bare counter (``counter: true``) becomes ``sum(increase(Q[{{ window }}]))``.
- ``thresholdMetric`` with Occurrences → an ``slo`` check whose good events are the samples meeting the
  objective's ``op``/``value`` and whose total is all samples, counted by a subquery at the rule
  evaluation resolution (stated in the check's description, so it is never a silent approximation).
- ``AlertPolicy`` → ``AlertCondition`` of kind burnrate → one ``alerting:`` condition: long window
  ``lookbackWindow``, short window ``alertAfter`` (the burn must still hold over the last ``alertAfter``),
  factor ``threshold``; severity ``page`` for page/critical/high, else ``ticket``.

Refused with the field named: non-Prometheus sources, Timeslices/RatioTimeslices budgeting, calendar
windows, month/quarter/year durations, ``raw`` ratio metrics, non-counter ratio metrics without a window.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from slo.spec import API_VERSION, Gate

ROOT_ID = "https://openslo.com/schemas/v1/openslo.schema.json"
_WINDOW = re.compile(r"\{\{\s*\.?window\s*\}\}")
_DURATION = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_PAGE = {"page", "critical", "high"}


class OpenSloError(ValueError):
    """OpenSLO input that is invalid or cannot be represented; the message names the object and field."""


def validator(schemas: Mapping[str, Any]) -> jsonschema.Draft7Validator:
    """A draft-07 validator for the root schema with every part registered under its absolute ``$id``."""
    if ROOT_ID not in schemas:
        raise OpenSloError(f"OpenSLO schema: {ROOT_ID} not among the given schema files")
    registry: Registry[Any] = Registry().with_resources(
        (sid, Resource.from_contents(body, default_specification=DRAFT7)) for sid, body in schemas.items()
    )
    return jsonschema.Draft7Validator(schemas[ROOT_ID], registry=registry)


def _plain(value: Any) -> Any:
    """YAML timestamps back to text: the schema (a JSON Schema) knows strings, not datetimes."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return value


def _objects(documents: list[Any], source: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Flatten documents (an object, or a list of objects) into (where, object)."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        items = doc if isinstance(doc, list) else [doc]
        for position, item in enumerate(items):
            where = f"{source} document {index + 1}" + (f" item {position + 1}" if isinstance(doc, list) else "")
            if not isinstance(item, Mapping):
                raise OpenSloError(f"{where}: expected an OpenSLO object, got {type(item).__name__}")
            found.append((where, _plain(item)))
    return found


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(object)"


def validate(objects: list[tuple[str, Mapping[str, Any]]], schemas: Mapping[str, Any]) -> None:
    """Raise on the first object the OpenSLO v1 schema rejects, naming its deepest failing field."""
    check = validator(schemas)
    for where, obj in objects:
        if obj.get("apiVersion") != "openslo/v1":
            raise OpenSloError(f"{where}: apiVersion: only openslo/v1 is imported, got {obj.get('apiVersion')!r}")
        error = jsonschema.exceptions.best_match(check.iter_errors(dict(obj)))
        while error is not None and error.context:  # oneOf over kinds: report the deepest field that failed
            error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "const"))
        if error is not None:
            raise OpenSloError(f"{where}: {_path(error.absolute_path)}: {error.message} (OpenSLO v1 schema)")


def _duration(text: Any, where: str) -> str:
    match = _DURATION.match(str(text))
    if not match:
        raise OpenSloError(f"{where}: invalid duration {text!r}")
    count, unit = match.groups()
    if unit in "MQY":
        raise OpenSloError(f"{where}: {text} is calendar months/quarters/years, which have no fixed length")
    return f"{count}{unit}"


def _source_query(metric: Mapping[str, Any], where: str, sources: Mapping[str, Mapping[str, Any]]) -> str:
    source = metric.get("metricSource") or {}
    kind = source.get("type")
    ref = source.get("metricSourceRef")
    if kind is None and isinstance(ref, str) and ref in sources:
        kind = sources[ref].get("spec", {}).get("type")
    if str(kind).lower() != "prometheus":
        raise OpenSloError(f"{where}.metricSource.type: only Prometheus sources can be imported, got {kind!r}")
    query = (source.get("spec") or {}).get("query")
    if not isinstance(query, str) or not query.strip():
        raise OpenSloError(f"{where}.metricSource.spec.query: missing")
    return query.strip()


def _windowed(query: str, counter: bool, where: str) -> str:
    if _WINDOW.search(query):
        return _WINDOW.sub("{{ window }}", query)
    if not counter:
        raise OpenSloError(f"{where}: a non-counter query needs {{{{.window}}}} for its range")
    return f"sum(increase({query}[{{{{ window }}}}]))"


def _conditions(
    slo: Mapping[str, Any], where: str, policies: Mapping[str, Any], conditions: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = []
    for index, ref in enumerate(slo.get("alertPolicies") or []):
        here = f"{where}.alertPolicies[{index}]"
        policy = policies.get(ref) if isinstance(ref, str) else ref
        if policy is None:
            raise OpenSloError(f"{here}: no AlertPolicy named {ref!r} in the file")
        for position, item in enumerate(policy.get("spec", {}).get("conditions") or []):
            cond_where = f"{here}.spec.conditions[{position}]"
            condition = item
            if "conditionRef" in item:
                condition = conditions.get(item["conditionRef"])
                if condition is None:
                    raise OpenSloError(f"{cond_where}.conditionRef: no AlertCondition named {item['conditionRef']!r}")
            spec = condition.get("spec", {})
            body = spec.get("condition", {})
            if body.get("kind") != "burnrate":
                raise OpenSloError(f"{cond_where}.condition.kind: only burnrate conditions can be imported")
            if body.get("op", "gt") not in {"gt", "gte"}:
                raise OpenSloError(f"{cond_where}.condition.op: {body.get('op')} would alert on a slow burn")
            found.append(
                {
                    "long": _duration(body.get("lookbackWindow"), f"{cond_where}.condition.lookbackWindow"),
                    "short": _duration(body.get("alertAfter"), f"{cond_where}.condition.alertAfter"),
                    "factor": float(body.get("threshold")),
                    "severity": "page" if str(spec.get("severity", "")).lower() in _PAGE else "ticket",
                }
            )
    return found or None


def _slo_gates(
    slo: Mapping[str, Any],
    where: str,
    slis: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, Mapping[str, Any]],
    policies: Mapping[str, Any],
    conditions: Mapping[str, Any],
) -> dict[str, Any]:
    name = slo["metadata"]["name"]
    spec = slo["spec"]
    method = spec.get("budgetingMethod")
    if method != "Occurrences":
        raise OpenSloError(f"{where}: spec.budgetingMethod: {method} cannot be imported (only Occurrences)")
    windows = spec.get("timeWindow") or []
    if len(windows) != 1:
        raise OpenSloError(f"{where}: spec.timeWindow: expected exactly one window")
    if "calendar" in windows[0] or windows[0].get("isRolling") is False:
        raise OpenSloError(f"{where}: spec.timeWindow[0].calendar: calendar-aligned windows cannot be imported")
    period = _duration(windows[0].get("duration"), f"{where}: spec.timeWindow[0].duration")
    if "indicator" in spec:
        sli, sli_where = spec["indicator"], f"{where}: spec.indicator"
    else:
        ref = spec.get("indicatorRef")
        if ref not in slis:
            raise OpenSloError(f"{where}: spec.indicatorRef: no SLI named {ref!r} in the file")
        sli, sli_where = slis[ref], f"{where}: spec.indicatorRef {ref}"
    sli_spec = sli.get("spec", {})
    alerting = _conditions(spec, f"{where}: spec", policies, conditions)
    checks: list[dict[str, Any]] = []
    for index, objective in enumerate(spec.get("objectives") or []):
        obj_where = f"{where}: spec.objectives[{index}]"
        if "indicator" in objective or "indicatorRef" in objective:
            raise OpenSloError(f"{obj_where}.indicator: composite SLOs cannot be imported")
        if "target" in objective:
            target = float(objective["target"]) * 100.0
        elif "targetPercent" in objective:
            target = float(objective["targetPercent"])
        else:
            raise OpenSloError(f"{obj_where}.target: missing")
        check: dict[str, Any] = {
            "id": f"{name}-{index}",
            "kind": "slo",
            "objective": round(target, 10),
            "period": period,
        }
        if "ratioMetric" in sli_spec:
            ratio = sli_spec["ratioMetric"]
            base = f"{sli_where}.spec.ratioMetric"
            if "raw" in ratio:
                raise OpenSloError(f"{base}.raw: a raw ratio has no event counts and cannot be imported")
            if "value" in objective or "op" in objective:
                raise OpenSloError(f"{obj_where}.value: op/value apply to Timeslices, not to a ratio with Occurrences")
            counter = bool(ratio.get("counter"))
            role = "good" if "good" in ratio else "bad"
            check[role] = _windowed(_source_query(ratio[role], f"{base}.{role}", sources), counter, f"{base}.{role}")
            check["total"] = _windowed(
                _source_query(ratio["total"], f"{base}.total", sources), counter, f"{base}.total"
            )
        elif "thresholdMetric" in sli_spec:
            base = f"{sli_where}.spec.thresholdMetric"
            query = _source_query(sli_spec["thresholdMetric"], base, sources)
            op = _OPS.get(str(objective.get("op")))
            if op is None or "value" not in objective:
                raise OpenSloError(f"{obj_where}.op: a threshold metric needs op (lt, lte, gt, gte) and value")
            check["good"] = f"sum(count_over_time((({query}) {op} {float(objective['value'])!r})[{{{{ window }}}}:]))"
            check["total"] = f"sum(count_over_time(({query})[{{{{ window }}}}:]))"
            check["description"] = (
                f"Occurrences of {query} {op} {objective['value']}, counted per rule-evaluation step (subquery)"
            )
        else:
            raise OpenSloError(f"{sli_where}.spec: neither ratioMetric nor thresholdMetric")
        if alerting is not None:
            check["alerting"] = alerting
        if spec.get("description") and "description" not in check:
            check["description"] = str(spec["description"])
        checks.append(check)
    if not checks:
        raise OpenSloError(f"{where}: spec.objectives: empty")
    return {
        "apiVersion": API_VERSION,
        "kind": "Gate",
        "id": f"{spec.get('service') or name}-{name}",
        "title": str(slo["metadata"].get("displayName") or name),
        "labels": {"sloth_service": str(spec.get("service") or name), "openslo_slo": str(name)},
        "checks": checks,
    }


_V1ALPHA_UNITS = {"Day": "d", "Week": "w"}


def _v1alpha_gate(slo: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``openslo/v1alpha`` as Sloth reads it: ratioMetrics queries with ``{{.window}}``, Sloth's windows, no alerts."""
    from slo.imports.sloth import alerting_for

    name = str((slo.get("metadata") or {}).get("name") or "")
    spec = slo.get("spec") or {}
    service = str(spec.get("service") or "")
    if not name or not service:
        raise OpenSloError(f"{where}: metadata.name and spec.service are required")
    if spec.get("budgetingMethod") != "Occurrences":
        raise OpenSloError(f"{where}: spec.budgetingMethod: {spec.get('budgetingMethod')} cannot be imported")
    windows = spec.get("timeWindows") or []
    unit = _V1ALPHA_UNITS.get(str(windows[0].get("unit"))) if len(windows) == 1 else None
    if unit is None or windows[0].get("isRolling") is False or "calendar" in windows[0]:
        raise OpenSloError(f"{where}: spec.timeWindows: one rolling window in Day or Week units is required")
    period = f"{int(windows[0]['count'])}{unit}"
    checks = []
    for index, objective in enumerate(spec.get("objectives") or []):
        here = f"{where}: spec.objectives[{index}].ratioMetrics"
        ratio = objective.get("ratioMetrics") or {}
        queries = {}
        for role in ("good", "total"):
            query = (ratio.get(role) or {}).get("query")
            if not isinstance(query, str) or not _WINDOW.search(query):
                raise OpenSloError(f"{here}.{role}.query: a PromQL query with {{{{.window}}}} is required")
            queries[role] = _WINDOW.sub("{{ window }}", query.strip())
        checks.append(
            {
                "id": f"{name}-{index}",
                "kind": "slo",
                **queries,
                "objective": round(float(objective["target"]) * 100.0, 10),
                "period": period,
                "alerting": alerting_for(period, None),
            }
        )
        if spec.get("description"):
            checks[-1]["description"] = str(spec["description"])
    if not checks:
        raise OpenSloError(f"{where}: spec.objectives: empty")
    return {
        "apiVersion": API_VERSION,
        "kind": "Gate",
        "id": f"{service}-{name}",
        "title": str(slo["metadata"].get("displayName") or name),
        "labels": {"sloth_service": service, "alert.page.disable": "true", "alert.ticket.disable": "true"},
        "checks": checks,
    }


def _checked(gate: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        Gate.model_validate(gate)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise OpenSloError(f"{where}: not a valid gate after import: {loc}: {first['msg']}") from None
    return gate


def import_openslo(documents: list[Any], source: str, schemas: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every OpenSLO v1 SLO of the documents → one gate spec dict each (SLIs etc. resolved by name)."""
    objects = _objects(documents, source)
    alpha = [(w, o) for w, o in objects if o.get("apiVersion") == "openslo/v1alpha"]
    if alpha:  # Sloth's dialect; the v1 JSON Schema does not describe it
        if len(alpha) != len(objects):
            raise OpenSloError(f"{source}: apiVersion: do not mix openslo/v1alpha and openslo/v1 in one file")
        return [_checked(_v1alpha_gate(o, w), w) for w, o in alpha if o.get("kind") == "SLO"]
    validate(objects, schemas)
    by_kind: dict[str, dict[str, Mapping[str, Any]]] = {}
    for _, obj in objects:
        by_kind.setdefault(str(obj["kind"]), {})[str(obj["metadata"]["name"])] = obj
    gates: list[dict[str, Any]] = []
    for where, obj in objects:
        if obj["kind"] != "SLO":
            continue
        gate = _slo_gates(
            obj,
            where,
            by_kind.get("SLI", {}),
            by_kind.get("DataSource", {}),
            by_kind.get("AlertPolicy", {}),
            by_kind.get("AlertCondition", {}),
        )
        gates.append(_checked(gate, where))
    if not gates:
        raise OpenSloError(f"{source}: no OpenSLO SLO object found")
    return gates

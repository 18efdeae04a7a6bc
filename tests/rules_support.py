"""Helpers shared by the rules tests: import + generate, collect rules, compare PromQL semantically."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from slo.generate.rules import rules_document
from slo.imports.sloth import import_sloth
from slo.spec import Gate

_NUMBER = re.compile(r"(?<![A-Za-z_:\d.])(\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+)(?![\w.])")


def load_yaml_all(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def sloth_template(path: Path, version: str = "dev") -> list[Any]:
    """A Sloth golden ``.tpl`` rendered the way Sloth's own integration test renders it."""
    text = path.read_text(encoding="utf-8").replace("{{ .version }}", version)
    text = re.sub(r'\{\{"(\{\{[^"]*\}\})"\}\}', r"\1", text)
    return [d for d in yaml.safe_load_all(text) if d is not None]


def gates_from_sloth(docs: list[Any], source: str, **kwargs: Any) -> list[Gate]:
    return [Gate.model_validate(g) for g in import_sloth(docs, source, **kwargs)]


def all_rules(documents: list[Any]) -> list[dict[str, Any]]:
    """Rules of plain rule files and of PrometheusRule resources alike."""
    rules: list[dict[str, Any]] = []
    for doc in documents:
        groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
        for group in groups:
            rules.extend(group["rules"])
    return rules


def rule_key(rule: dict[str, Any]) -> tuple[str, str, str]:
    labels = rule.get("labels", {})
    name = rule.get("record") or rule["alert"]
    if "alert" in rule and "sloth_severity" in labels:  # Sloth's alerts take their identity from the expression
        found = re.search(r'sloth_id="([^"]+)"', rule["expr"])
        return name, found.group(1) if found else "", labels["sloth_severity"]
    return (
        name,
        labels.get("sloth_id", labels.get("gatepack_gate", "")),
        labels.get("sloth_window", labels.get("sloth_severity", "")),
    )


def generated_rules(gates: list[Gate]) -> list[dict[str, Any]]:
    return all_rules([rules_document(gates)])


def canonical(expr: str) -> str:
    return promql_parser.parse(expr).prettify()


def same_promql(left: str, right: str, rel_tol: float = 1e-9) -> bool:
    """Equal parse trees (printed canonically), numbers equal within ``rel_tol`` (float noise in Sloth)."""
    a, b = canonical(left), canonical(right)
    if _NUMBER.sub("N", a) != _NUMBER.sub("N", b):
        return False
    numbers_a = [float(x) for x in _NUMBER.findall(a)]
    numbers_b = [float(x) for x in _NUMBER.findall(b)]
    return len(numbers_a) == len(numbers_b) and all(
        math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-15) for x, y in zip(numbers_a, numbers_b, strict=True)
    )

"""Rules drift: the rules generated from the specs against the rules a Prometheus server runs.

Pure: the generated rules document and the server's ``/api/v1/rules`` data in, a list of differences out.
Expressions are compared as PromQL parse trees printed canonically, so the server's own reformatting of a
query is not drift, while any change in meaning is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slo.durations import DurationError, parse_duration
from slo.promql.parse import canonical

_DISCRIMINATORS = ("gatepack_check", "sloth_window", "sloth_severity")


@dataclass(frozen=True, order=True)
class RuleId:
    """Where a rule lives and which one it is: group, record/alert name, and its distinguishing labels."""

    group: str
    name: str
    discriminator: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in self.discriminator)
        return f"{self.group}/{self.name}" + (f"{{{labels}}}" if labels else "")


@dataclass(frozen=True)
class RuleBody:
    expr: str
    labels: tuple[tuple[str, str], ...]
    for_seconds: int


@dataclass(frozen=True)
class Drift:
    kind: str  # missing, extra, changed
    rule: RuleId
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.rule}" + (f" ({self.detail})" if self.detail else "")


def _identity(group: str, name: str, labels: Mapping[str, str]) -> RuleId:
    return RuleId(group, name, tuple((k, labels[k]) for k in _DISCRIMINATORS if k in labels))


def generated_index(document: Mapping[str, Any]) -> dict[RuleId, RuleBody]:
    """Rules of a generated rules document, by identity."""
    index: dict[RuleId, RuleBody] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
            name = rule.get("record") or rule["alert"]
            seconds = parse_duration(rule["for"]) if rule.get("for") else 0
            index[_identity(group["name"], name, labels)] = RuleBody(
                canonical(rule["expr"]), tuple(sorted(labels.items())), seconds
            )
    return index


def server_index(data: Mapping[str, Any], groups: set[str]) -> dict[RuleId, RuleBody]:
    """Rules of ``/api/v1/rules`` ``data`` in the given groups (the groups gatepack manages)."""
    index: dict[RuleId, RuleBody] = {}
    for group in data.get("groups") or []:
        if group.get("name") not in groups:
            continue
        for rule in group.get("rules") or []:
            labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
            duration = rule.get("duration") or 0
            try:
                seconds = int(float(duration)) if not isinstance(duration, str) else parse_duration(duration)
            except (ValueError, DurationError):
                seconds = -1
            index[_identity(group["name"], str(rule.get("name")), labels)] = RuleBody(
                canonical(str(rule.get("query", ""))), tuple(sorted(labels.items())), seconds
            )
    return index


def compare(document: Mapping[str, Any], server_data: Mapping[str, Any]) -> list[Drift]:
    """Missing, extra and changed rules, in a stable order; empty when the server runs exactly the specs."""
    expected = generated_index(document)
    actual = server_index(server_data, {rule.group for rule in expected})
    drifts: list[Drift] = []
    for rule in sorted(expected.keys() - actual.keys()):
        drifts.append(Drift("missing", rule))
    for rule in sorted(actual.keys() - expected.keys()):
        drifts.append(Drift("extra", rule))
    for rule in sorted(expected.keys() & actual.keys()):
        want, have = expected[rule], actual[rule]
        changed = [
            what
            for what, differs in (
                ("expression", want.expr != have.expr),
                ("labels", want.labels != have.labels),
                ("for", want.for_seconds != have.for_seconds),
            )
            if differs
        ]
        if changed:
            drifts.append(Drift("changed", rule, ", ".join(changed)))
    return drifts

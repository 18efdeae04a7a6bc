"""Undefined ``{{ placeholder }}`` names, found in the spec text itself so they carry file:line.

The schema check and the placeholder check used to run one after the other (the placeholders only
once the query was planned, without a line). Here the YAML node tree is walked directly, so an
undefined name is reported in the same list as schema problems, even when the file has those too,
and before anything is sent to a backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from slo.loader import SpecProblem, take_nodes
from slo.templating import PLACEHOLDER

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
QUERY_FIELDS = {"threshold": ("query",), "slo": ("good", "bad", "total"), "ai_cost": ("metric", "matchers")}
BUILTIN = {"slo": {"window"}}
"""Placeholders gatepack fills itself: ``{{ window }}`` is each SLO range being evaluated."""


def _mapping(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _scalar(node: yaml.Node | None) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _line_of(node: yaml.ScalarNode, offset: int) -> int:
    """1-based line of ``offset`` in a scalar: exact for block scalars, the scalar's line otherwise."""
    if node.style in ("|", ">"):
        return node.start_mark.line + 2 + node.value.count("\n", 0, offset)
    return node.start_mark.line + 1


def gate_placeholders(text: str) -> Iterator[tuple[str, dict[str, str], list[tuple[int, str, str]]]]:
    """Per gate document: its id, its vars, and (line, field, name) of every placeholder its queries use."""
    documents = take_nodes(text)  # the tree the loader just built for this text, when it kept it
    if documents is None:
        try:
            documents = list(yaml.compose_all(text, Loader=_LOADER))
        except yaml.YAMLError:
            return  # the loader reports invalid YAML with its line
    for document in documents:
        top = _mapping(document) if document is not None else {}
        gate_id = _scalar(top.get("id")) or "?"
        variables = {k: _scalar(v) or "" for k, v in _mapping(top.get("vars")).items()} if "vars" in top else {}
        uses: list[tuple[int, str, str]] = []
        checks = top.get("checks")
        items = checks.value if isinstance(checks, yaml.SequenceNode) else []
        for index, item in enumerate(items):
            fields = _mapping(item)
            kind = _scalar(fields.get("kind")) or ""
            for name in QUERY_FIELDS.get(kind, ()):
                node = fields.get(name)
                if not isinstance(node, yaml.ScalarNode):
                    continue
                for match in PLACEHOLDER.finditer(node.value):
                    if match.group(1) in BUILTIN.get(kind, set()):
                        continue
                    uses.append((_line_of(node, match.start()), f"checks[{index}].{name}", match.group(1)))
        yield gate_id, variables, uses


def undefined_placeholders(text: str, source: str, overrides: Mapping[str, str]) -> list[SpecProblem]:
    """A problem for every placeholder neither the gate's ``vars`` nor ``--var`` define."""
    problems: list[SpecProblem] = []
    for _gate, variables, uses in gate_placeholders(text):
        for line, field, name in uses:
            if name not in variables and name not in overrides:
                known = ", ".join(sorted(variables)) or "none"
                problems.append(
                    SpecProblem(
                        source,
                        line,
                        field,
                        f"placeholder {{{{ {name} }}}} is not defined (add it to vars or pass --var {name}=...;"
                        f" vars: {known})",
                    )
                )
    return problems


def used_names(text: str) -> dict[str, set[str]]:
    """Per gate id: every name ``--var`` may set (its vars and the placeholders its queries use)."""
    return {gate: set(variables) | {name for *_, name in uses} for gate, variables, uses in gate_placeholders(text)}

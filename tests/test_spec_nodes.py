"""The placeholder check reads the YAML node tree the loader built instead of composing the spec again.

Both must report exactly what the two separate parses reported (same problems, same lines), and no tree may
outlive the check that wanted it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli.common import gates_from
from collector.cli.placeholders import undefined_placeholders
from slo import loader
from slo.loader import SpecError, load_gates, take_nodes

SPEC = """apiVersion: gatepack/v1
kind: Gate
id: nodes
title: Nodes
checks:
  - id: a
    kind: threshold
    query: 'sum(rate(m{job="{{ job }}"}[5m]))'
    op: '<'
    target: 1
  - id: b
    kind: slo
    good: 'sum(increase(m{code!~"5..",svc="{{ svc }}"}[{{ window }}]))'
    total: 'sum(increase(m{svc="{{ svc }}"}[{{ window }}]))'
    objective: 99.9
    period: 30d
"""


def test_a_kept_tree_is_handed_out_once_and_reads_like_a_fresh_parse() -> None:
    fresh = undefined_placeholders(SPEC, "nodes.yaml", {})
    assert [(p.line, p.field) for p in fresh] == [
        (8, "checks[0].query"),
        (13, "checks[1].good"),
        (14, "checks[1].total"),
    ]
    load_gates(SPEC, "nodes.yaml", keep_nodes=True)
    assert loader._kept  # kept for the check
    assert undefined_placeholders(SPEC, "nodes.yaml", {}) == fresh
    assert take_nodes(SPEC) is None and not loader._kept  # handed out once
    load_gates(SPEC, "nodes.yaml")
    assert take_nodes(SPEC) is None  # not kept unless asked


def test_gates_from_reports_schema_and_placeholder_problems_and_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nodes.yaml"
    path.write_text(SPEC.replace("target: 1", "target: one"), encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        gates_from([path], [], {"svc": "api"})
    found = sorted((p.line, p.field) for p in raised.value.problems)
    assert found == [(8, "checks[0].query"), (10, "checks[0].target")]
    assert not loader._kept
    path.write_text(SPEC, encoding="utf-8")
    [loaded] = gates_from([path], [], {"svc": "api", "job": "x"})
    assert loaded.gate.id == "nodes" and not loader._kept

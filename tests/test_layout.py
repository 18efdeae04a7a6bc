"""The arrows point one way: ``collector`` imports ``slo``; ``slo`` stays pure (no I/O libraries)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SLO = Path(__file__).resolve().parent.parent / "slo"
FORBIDDEN = {"collector", "httpx", "socket", "subprocess", "urllib", "requests", "shutil", "tempfile"}


@pytest.mark.parametrize("module", sorted(SLO.rglob("*.py")), ids=lambda p: p.name)
def test_slo_imports_nothing_that_talks_to_the_outside(module: Path):
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{module.name} imports {sorted(imported & FORBIDDEN)}"
    opened = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "open"]
    assert not opened, f"{module.name} opens files itself"

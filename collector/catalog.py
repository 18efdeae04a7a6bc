"""The gate catalog shipped inside the package: every release gate as a ready-made spec.

The specs are data files in ``slo/catalog`` (``NN-name.yaml``); this module reads them through
``importlib.resources`` (so they work from a wheel, a zip or a checkout) and hands the text to the
same loader user specs go through.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from collector.specs import LoadedGate
from slo.loader import SpecError, SpecProblem, load_gates

CATALOG_PACKAGE = "slo.catalog"


def _files() -> list[resources.abc.Traversable]:
    root = resources.files(CATALOG_PACKAGE)
    return sorted((f for f in root.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def load_catalog() -> list[LoadedGate]:
    """Every catalog gate, in id order; the path recorded in evidence is ``catalog:FILE``."""
    loaded: list[LoadedGate] = []
    for item in _files():
        data = item.read_bytes()
        source = f"catalog:{item.name}"
        gates = load_gates(data.decode("utf-8"), source)
        sha = hashlib.sha256(data).hexdigest()
        loaded.extend(LoadedGate(gate, source, sha) for gate in gates)
    return loaded


def catalog_gates(ids: list[str]) -> list[LoadedGate]:
    """The catalog gates named in ``ids`` (all when empty); an unknown id is a spec problem."""
    loaded = load_catalog()
    if not ids:
        return loaded
    by_id = {g.gate.id: g for g in loaded}
    missing = [i for i in ids if i not in by_id]
    if missing:
        known = ", ".join(by_id)
        raise SpecError([SpecProblem("catalog", 0, "", f"no catalog gate {', '.join(missing)} (have: {known})")])
    return [by_id[i] for i in ids]

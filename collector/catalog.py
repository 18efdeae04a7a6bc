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


def _load(item: resources.abc.Traversable) -> list[LoadedGate]:
    data = item.read_bytes()
    source = f"catalog:{item.name}"
    gates = load_gates(data.decode("utf-8"), source)
    sha = hashlib.sha256(data).hexdigest()
    return [LoadedGate(gate, source, sha) for gate in gates]


def load_catalog() -> list[LoadedGate]:
    """Every catalog gate, in id order; the path recorded in evidence is ``catalog:FILE``."""
    return [gate for item in _files() for gate in _load(item)]


def _by_file_name(ids: list[str]) -> list[LoadedGate] | None:
    """The gates from their own files (``ID.yaml``), or None when any id is not exactly its file's one gate.

    Each catalog file holds one gate named like the file (``tests/test_catalog_units.py`` holds the catalog
    to that), so ``--gate ID`` reads and validates one file instead of the whole catalog; anything else
    (an unknown id, a file that holds other gates) goes the long way, with its full error message.
    """
    names = {item.name: item for item in _files()}
    found: list[LoadedGate] = []
    for gate_id in ids:
        item = names.get(f"{gate_id}.yaml")
        if item is None:
            return None
        gates = _load(item)
        if [g.gate.id for g in gates] != [gate_id]:
            return None
        found.extend(gates)
    return found


def catalog_gates(ids: list[str]) -> list[LoadedGate]:
    """The catalog gates named in ``ids`` (all when empty); an unknown id is a spec problem."""
    if ids:
        found = _by_file_name(ids)
        if found is not None:
            return found
    loaded = load_catalog()
    if not ids:
        return loaded
    by_id = {g.gate.id: g for g in loaded}
    missing = [i for i in ids if i not in by_id]
    if missing:
        known = ", ".join(by_id)
        raise SpecError([SpecProblem("catalog", 0, "", f"no catalog gate {', '.join(missing)} (have: {known})")])
    return [by_id[i] for i in ids]

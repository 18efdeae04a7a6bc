"""Read gate spec files from disk and hand their text to the pure loader."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from slo.loader import SpecError, SpecProblem, load_gates
from slo.spec import Gate

MAX_SPEC_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LoadedGate:
    gate: Gate
    path: str
    sha256: str


def load_spec_files(paths: list[Path]) -> list[LoadedGate]:
    """Every gate in every file; all problems across all files are raised together."""
    loaded: list[LoadedGate] = []
    problems: list[SpecProblem] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(SpecProblem(str(path), 0, "", f"cannot read: {exc.strerror or exc}"))
            continue
        if len(data) > MAX_SPEC_BYTES:
            problems.append(SpecProblem(str(path), 0, "", f"file is larger than {MAX_SPEC_BYTES} bytes"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(SpecProblem(str(path), 1, "", f"not UTF-8 text: {exc.reason}"))
            continue
        try:
            gates = load_gates(text, str(path))
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        sha = hashlib.sha256(data).hexdigest()
        loaded.extend(LoadedGate(gate, str(path), sha) for gate in gates)
    seen: dict[str, str] = {}
    for item in loaded:
        if item.gate.id in seen:
            problems.append(
                SpecProblem(item.path, 1, "id", f"gate id {item.gate.id!r} is also defined in {seen[item.gate.id]}")
            )
        seen[item.gate.id] = item.path
    if problems:
        raise SpecError(problems)
    return loaded

"""Read gate spec files from disk and hand their text to the pure loader."""

from __future__ import annotations

import hashlib
import os
import stat
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


def read_spec_bytes(path: Path, limit: int = MAX_SPEC_BYTES) -> bytes:
    """A spec file's bytes, refusing anything that is not a regular file of at most ``limit`` bytes.

    The checks run on the open descriptor before reading, and the read itself stops at ``limit + 1``
    bytes: ``/dev/zero``, a FIFO or a file that grows while being read can never make gatepack read
    more than that.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), 0, "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError([SpecProblem(str(path), 0, "", "not a regular file")])
        if info.st_size > limit:
            raise SpecError([SpecProblem(str(path), 0, "", f"file is larger than {limit} bytes")])
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), 0, "", f"cannot read: {exc.strerror or exc}")]) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SpecError([SpecProblem(str(path), 0, "", f"file is larger than {limit} bytes")])
    return data


def load_spec_files(paths: list[Path], *, keep_nodes: bool = False) -> list[LoadedGate]:
    """Every gate in every file; all problems across all files are raised together.

    ``keep_nodes``: each file's YAML node tree stays for one :func:`slo.loader.take_nodes` of its text.
    """
    loaded: list[LoadedGate] = []
    problems: list[SpecProblem] = []
    for path in paths:
        try:
            data = read_spec_bytes(path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(SpecProblem(str(path), 1, "", f"not UTF-8 text: {exc.reason}"))
            continue
        try:
            gates = load_gates(text, str(path), keep_nodes=keep_nodes)
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

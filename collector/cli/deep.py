"""``gatepack verify --deep``: find the kept responses and the recorded spec, recheck, print what differs.

The spec is found by the sha256 the packet records: ``--spec FILE`` when given (it must have that
sha256), else the copy ``--keep-responses`` left in ``specs/<sha256>.yaml`` beside the packet. Responses
are read from ``responses/<sha256>.json.gz`` beside the packet, each checked against its name.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

from collector.cli.common import err
from collector.errors import UsageError
from collector.recheck import BodyLookup, recheck_packet
from collector.sinks.responses import response_path, spec_copy_path
from slo.loader import SpecError, load_gates
from slo.spec import Gate


def find_gate(packet: dict[str, Any], root: Path, spec: Path | None) -> Gate:
    recorded = packet.get("spec", {})
    sha = str(recorded.get("sha256", ""))
    path = spec or spec_copy_path(root, sha)
    try:
        data = path.read_bytes()
    except OSError as exc:
        hint = "" if spec else " (collect with --keep-responses keeps it, or give --spec FILE)"
        raise UsageError(f"--deep: cannot read the spec {path}: {exc.strerror or exc}{hint}") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise UsageError(f"--deep: {path} is not the spec the packet was computed from (sha256 differs from {sha})")
    try:
        gates = load_gates(data.decode("utf-8"), str(recorded.get("path", path)))
    except (SpecError, UnicodeDecodeError) as exc:
        raise UsageError(f"--deep: the recorded spec {path} no longer loads: {exc}") from None
    gate_id = packet.get("gate", {}).get("id")
    for gate in gates:
        if gate.id == gate_id:
            return gate
    raise UsageError(f"--deep: the recorded spec {path} has no gate {gate_id!r}")


def body_lookup(root: Path) -> BodyLookup:
    """Kept bodies by sha256, each checked against its name (a renamed or edited file is caught)."""

    def lookup(sha256: str) -> bytes | str:
        path = response_path(root, sha256)
        if not path.exists():
            return f"response {sha256} was not kept (no {path})"
        try:
            body = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile):
            return f"kept response {path} cannot be decompressed"
        if hashlib.sha256(body).hexdigest() != sha256:
            return f"kept response {path} does not match its digest: it was altered"
        return body

    return lookup


def deep_report(file: Path, packet: dict[str, Any], spec: Path | None) -> bool:
    """Print the recheck check by check; True when every rechecked value and verdict was reproduced."""
    root = file.parent
    result = recheck_packet(packet, find_gate(packet, root, spec), body_lookup(root))
    for check in result.checks:
        if check.status == "same":
            err.print(f"deep: ok: {check.id}: value and verdict reproduced from the kept responses", style="green")
        elif check.status == "skipped":
            err.print(f"deep: {check.id}: {'; '.join(check.notes)}")
        else:
            label = "DIFFERENT" if check.status == "different" else "INCOMPLETE"
            for note in check.notes:
                err.print(f"deep: {label}: {check.id}: {note}", style="bold red")
    for note in result.gate_notes:
        err.print(f"deep: DIFFERENT: {note}", style="bold red")
    if result.ok:
        err.print(f"deep: ok: {file}: every rechecked value and verdict matches", style="green")
    return result.ok

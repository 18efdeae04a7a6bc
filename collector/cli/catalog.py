"""``gatepack gates`` (the shipped catalog) and ``gatepack attest`` (record a human statement)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err
from collector.errors import UsageError
from collector.timeutil import parse_time, rfc3339

ATTESTATIONS_HELP = "Attestations file (default ./gatepack-attestations.json)"


def gates_command() -> None:
    """List the release gates shipped with gatepack (use one with `collect --gate ID`)."""
    from rich.console import Console
    from rich.table import Table

    from collector.catalog import load_catalog

    table = Table(title="gatepack gate catalog", title_justify="left")
    table.add_column("id")
    table.add_column("gate")
    table.add_column("checks", justify="right")
    table.add_column("kinds")
    for loaded in load_catalog():
        gate = loaded.gate
        kinds = sorted({c.kind for c in gate.checks})
        table.add_row(gate.id, gate.title, str(len(gate.checks)), ", ".join(kinds))
    Console().print(table)


def attest_command(
    gate: Annotated[str, typer.Argument(help="Gate id, e.g. 00-architecture")],
    item: Annotated[str, typer.Argument(help="Attested item, as named in the gate's attestation check")],
    by: Annotated[str, typer.Option("--by", help="Who attests (name or e-mail)")],
    link: Annotated[str | None, typer.Option("--link", help="Where the attested document or decision lives")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Attach a file: its name and sha256 are recorded")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text kept with the statement")] = None,
    at: Annotated[str | None, typer.Option(help="When (RFC 3339 or Unix seconds; default now)")] = None,
    attestations: Annotated[Path | None, typer.Option("--attestations", help=ATTESTATIONS_HELP)] = None,
) -> None:
    """Record a human attestation that `collect` turns into evidence for the gate's attestation check."""
    from pydantic import ValidationError

    from collector.sinks.files import sha256_file
    from collector.sources.attestations import DEFAULT_PATH, AttestationFileError, append_attestation
    from slo.attestation import AttestationRecord

    path = attestations or DEFAULT_PATH
    file_sha = None
    if file is not None:
        try:
            file_sha, _ = sha256_file(file)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    moment = parse_time(at) if at else float(int(time.time()))
    try:
        record = AttestationRecord(
            gate=gate,
            item=item,
            by=by,
            at=rfc3339(moment),
            link=link,
            file_name=file.name if file else None,
            file_sha256=file_sha,
            note=note,
        )
        append_attestation(path, record)
    except (ValidationError, AttestationFileError) as exc:
        raise UsageError(str(exc)) from None
    attached = f", file {file.name} sha256:{file_sha}" if file is not None and file_sha else ""
    err.print(f"attested {gate}/{item} by {by} at {record.at}{attached} → {path}")

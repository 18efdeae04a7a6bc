"""``gatepack evidence list|show|pull|export|import``: read and move packets kept in a store.

The store comes from ``--store`` or ``GATEPACK_STORE``: a path (SQLite) or a PostgreSQL URL.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.errors import UsageError
from collector.sinks.files import write_atomic

if TYPE_CHECKING:
    from collector.store import EvidenceStore

app = typer.Typer(
    name="evidence", help="List, show, pull, export and import packets kept in a store.", no_args_is_help=True
)

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="Store: a path (SQLite) or a URL (or GATEPACK_STORE)", show_default=False)
]
GateOpt = Annotated[str | None, typer.Option("--gate", "-g", help="Only this gate")]
EnvOpt = Annotated[str | None, typer.Option("--env", help="Only this environment")]
ReleaseOpt = Annotated[str | None, typer.Option("--release", help="Only this release")]


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def open_from(store: str | None) -> EvidenceStore:
    """The store named by ``--store`` or GATEPACK_STORE (SQLAlchemy is imported only when one is used)."""
    from collector.store import open_store

    target = store or os.environ.get("GATEPACK_STORE")
    if not target:
        raise UsageError("give --store PATH|URL (or set GATEPACK_STORE)")
    return open_store(target)


def since_bound(text: str | None) -> str | None:
    """``--since``: RFC 3339 / Unix seconds, or a duration back from now (``7d``, ``12h``)."""
    if text is None:
        return None
    from collector.timeutil import TimeError, parse_time, rfc3339
    from slo.durations import parse_duration

    try:
        return rfc3339(datetime.now(tz=UTC).timestamp() - parse_duration(text))
    except (ValueError, TypeError):
        pass
    try:
        return rfc3339(parse_time(text))
    except TimeError as exc:
        raise UsageError(f"invalid --since {text!r}: {exc}") from None


@app.command("list")
def list_command(
    store: StoreOpt = None,
    gate: GateOpt = None,
    env: EnvOpt = None,
    release: ReleaseOpt = None,
    service: Annotated[str | None, typer.Option("--service", help="Only this service")] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="Only this commit")] = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="pass, warn, fail, no_data or error")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Evaluated at or after: time, or 7d back")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first")] = 50,
    output_format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Packets in the store, newest evaluation first."""
    with open_from(store) as opened:
        rows = opened.find(
            gate=gate,
            environment=env,
            service=service,
            release=release,
            commit=commit,
            verdict=verdict,
            since=since_bound(since),
            limit=limit,
        )
    if output_format is ListFormat.json:
        for row in rows:
            fields = ("digest", "gate", "environment", "service", "release", "commit", "verdict", "evaluated_at")
            item = {name: getattr(row, name) for name in fields}
            item["key_id"] = row.key_id
            sys.stdout.write(json.dumps(item, sort_keys=True) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("digest", "gate", "env", "release", "commit", "verdict", "evaluated", "signed by")
    for row in rows:
        table.add_row(
            row.digest[:12],
            row.gate,
            row.environment or "",
            row.release or "",
            (row.commit or "")[:10],
            row.verdict,
            row.evaluated_at,
            (row.key_id or "")[:12],
        )
    Console(soft_wrap=True).print(table)
    err.print(f"{len(rows)} packet(s)")


def _write(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(data.decode("utf-8").rstrip("\n") + "\n")
    else:
        write_atomic(output, data)
        err.print(f"written: {output}")


@app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(metavar="REF", help="A digest (or its first 8+ hex digits), or 'latest'")],
    store: StoreOpt = None,
    gate: GateOpt = None,
    env: EnvOpt = None,
    release: ReleaseOpt = None,
    envelope: Annotated[bool, typer.Option("--envelope", help="The signed envelope rather than the packet")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")] = None,
) -> None:
    """Print one packet (JSON) from the store."""
    with open_from(store) as opened:
        found = opened.get(ref, gate=gate, environment=env, release=release)
    if not envelope:
        _write(found.packet, output)
    elif found.envelope is None:
        raise UsageError(f"packet {found.digest[:12]} was recorded unsigned: it has no envelope")
    else:
        _write(found.envelope, output)


@app.command("pull")
def pull_command(
    gate: Annotated[str, typer.Argument(metavar="GATE", help="Gate id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the packet here")],
    store: StoreOpt = None,
    env: EnvOpt = None,
    release: ReleaseOpt = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="The newest matching packet (the default; spelled out for scripts)")
    ] = True,
) -> None:
    """The latest packet of a gate (its envelope when it was signed) into a file, e.g. for `verify`."""
    del latest  # pulling is always of the newest matching packet; the flag makes that explicit
    with open_from(store) as opened:
        found = opened.get("latest", gate=gate, environment=env, release=release)
    _write(found.envelope or found.packet, output)


@app.command("export")
def export_command(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Directory to write packets and kept responses into")
    ],
    store: StoreOpt = None,
    gate: GateOpt = None,
) -> None:
    """Every packet (envelope when signed) as GATE-DIGEST.json, kept responses under responses/."""
    from collector.sinks.responses import RESPONSES_DIR
    from slo.wire import response_digests

    with open_from(store) as opened:
        rows = opened.find(gate=gate, limit=None)
        count = 0
        for row in rows:
            write_atomic(directory / f"{row.gate}-{row.digest[:16]}.json", row.envelope or row.packet)
            shas = response_digests(row.document())
            for sha, blob in opened.response_blobs(shas).items():
                target = directory / RESPONSES_DIR / f"{sha}.json.gz"
                if not target.exists():
                    write_atomic(target, blob)
            count += 1
    err.print(f"exported {count} packet(s) to {directory}")


@app.command("import")
def import_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH...", help="Packet files, or directories of them (responses/ beside)")
    ],
    store: StoreOpt = None,
) -> None:
    """Record packet files (plain or signed) and the responses kept beside them."""
    from collector.sinks.responses import response_path
    from slo.wire import response_digests

    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    added = 0
    with open_from(store) as opened:
        for file in files:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
            try:
                document = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise UsageError(f"{file}: not JSON") from None
            packet = document
            if isinstance(document, dict) and "payloadType" in document:
                from slo.dsse import open_statement, parse_envelope

                packet = open_statement(parse_envelope(document))
            try:
                shas = response_digests(packet)
            except ValueError as exc:  # a reference to no table entry: recording would refuse it anyway
                raise UsageError(f"{file}: {exc}") from None
            kept = {
                s: response_path(file.parent, s).read_bytes() for s in shas if response_path(file.parent, s).exists()
            }
            recorded = opened.record(data, kept)
            added += recorded.new
    err.print(f"imported {added} new packet(s) of {len(files)}")

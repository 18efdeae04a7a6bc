"""``gatepack diff A B``: what changed between two packets, check by check (table, Markdown or JSON)."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collector.cli.common import err
from collector.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from slo.diff import PacketDiff


class DiffFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


def load_packet(ref: str, store: str | None) -> dict[str, Any]:
    """A packet file (plain or envelope, digest checked), else a digest or 'latest[:GATE]' in the store."""
    from slo.dsse import verify_file_bytes

    path = Path(ref)
    if path.is_file():
        result = verify_file_bytes(path.read_bytes())
        if not result.digest.ok or result.packet is None:
            raise UsageError(f"{path}: {result.digest.reason}")
        return result.packet
    if store is None and not _store_env():
        raise UsageError(f"{ref}: no such file (give --store to look digests up in a store)")
    from collector.cli.evidence import open_from

    name, _, gate = ref.partition(":")
    with open_from(store) as opened:
        return opened.get(name, gate=gate or None).document()


def _store_env() -> str | None:
    return os.environ.get("GATEPACK_STORE")


def table(diff: PacketDiff) -> Table:
    from rich.table import Table

    from slo.diff import describe

    view = Table(
        "check", "change", "before", "after", "what changed",
        title=f"{diff.gate_after}: {diff.verdict_before} → {diff.verdict_after}",
    )  # fmt: skip
    for change in diff.checks:
        style = "red" if change.worse else ("green" if change.flipped else None)
        view.add_row(
            change.id,
            change.change,
            f"{change.verdict_before or '–'} {'' if change.value_before is None else f'{change.value_before:.6g}'}",
            f"{change.verdict_after or '–'} {'' if change.value_after is None else f'{change.value_after:.6g}'}",
            describe(change),
            style=style,
        )
    return view


def diff_command(
    before: Annotated[
        str, typer.Argument(metavar="BEFORE", help="Older packet: a file, a digest, or latest:GATE (with --store)")
    ],
    after: Annotated[
        str, typer.Argument(metavar="AFTER", help="Newer packet: a file, a digest, or latest:GATE (with --store)")
    ],
    store: Annotated[
        str | None, typer.Option("--store", help="Store to look digests up in (or GATEPACK_STORE)")
    ] = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
) -> None:
    """Check by check: verdict flips, values that moved and by how much, new and removed checks, changed queries."""
    from slo.diff import diff_packets, markdown

    diff = diff_packets(load_packet(before, store), load_packet(after, store))
    if diff.gate_before != diff.gate_after:
        err.print(f"note: comparing different gates ({diff.gate_before} and {diff.gate_after})", style="yellow")
    if output_format is DiffFormat.json:
        sys.stdout.write(json.dumps(diff.to_json(), indent=2, sort_keys=True) + "\n")
    elif output_format is DiffFormat.markdown:
        sys.stdout.write(markdown(diff))
    else:
        from rich.console import Console

        Console(soft_wrap=True).print(table(diff))
    err.print(f"{len(diff.changed)} of {len(diff.checks)} check(s) changed")

"""``gatepack recheck PACKET [-p URL]``: send the recorded queries again at the recorded time and compare."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.cli.options import BackendOptions, uses
from collector.errors import EXIT_FAIL, EXIT_UNREACHABLE, UsageError

if TYPE_CHECKING:
    from collector.recheck import QueryRecheck


@uses(backend=BackendOptions)
def recheck_command(
    packet: Annotated[Path, typer.Argument(metavar="PACKET", help="Evidence packet or signed envelope")],
    *,
    backend: BackendOptions,
) -> None:
    """Re-run every recorded query at its recorded time; exit 1 when a value no longer matches."""
    from collector.recheck import requery_packet
    from collector.sources.prometheus.client import PrometheusClient
    from slo.dsse import verify_file_bytes

    try:
        data = packet.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {packet}: {exc.strerror or exc}") from None
    checked = verify_file_bytes(data)
    if not checked.digest.ok or checked.packet is None:
        raise UsageError(f"{packet}: {checked.digest.reason}")
    document = checked.packet
    recorded = [b.get("url") for b in document.get("backends", []) if b.get("kind") == "prometheus"]
    if not backend.prometheus and recorded:
        backend = dataclasses.replace(backend, prometheus=recorded[0])
    config = backend.config()
    if config is None:
        raise UsageError("give --prometheus URL: the packet records no Prometheus backend")

    async def go() -> list[QueryRecheck]:
        async with PrometheusClient(config) as client:
            return await requery_packet(document, client)

    import asyncio  # loaded only when a backend is asked

    results = asyncio.run(go())
    if results and all(r.now[0] == "error" and r.recorded[0] != "error" for r in results):
        err.print(f"cannot recheck: {config.public_url} answered no query", style="bold red")
        raise typer.Exit(EXIT_UNREACHABLE)
    changed = [r for r in results if not r.same]
    for r in results:
        if r.same:
            err.print(f"same: {r.check}: {r.label}: {r.recorded[0]} {r.recorded[1]!r}", style="green")
        else:
            err.print(
                f"CHANGED: {r.check}: {r.label}: recorded {r.recorded[0]} {r.recorded[1]!r}, "
                f"now {r.now[0]} {r.now[1]!r}",
                style="bold red",
            )
    err.print(f"{len(changed)} of {len(results)} recorded queries answer differently now at {config.public_url}")
    if changed:
        raise typer.Exit(EXIT_FAIL)

"""``gatepack serve``: the evidence API, /metrics and the board over a store (loopback unless told otherwise).

The backend options are the ones ``gatepack collect`` takes (the same option groups), because
``POST /api/v1/gates/{id}/evaluate`` runs the same engine over the same kind of sources.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.cli.options import BackendOptions, ContextOptions, TraceOptions, uses
from collector.errors import UsageError

if TYPE_CHECKING:
    from collector.server.evaluate import Evaluator
    from collector.specs import LoadedGate


def server_gates(specs: list[Path], catalog: bool) -> list[LoadedGate]:
    """The gates the server evaluates: the spec files, plus the built-in catalog with ``--catalog`` or no spec."""
    from collector.cli.common import gates_from

    loaded = gates_from(specs, []) if specs else []
    if catalog or not specs:
        loaded += gates_from(None, [])
    seen: dict[str, str] = {}
    for item in loaded:
        if item.gate.id in seen:
            raise UsageError(f"gate {item.gate.id} is defined twice: in {seen[item.gate.id]} and in {item.path}")
        seen[item.gate.id] = item.path
    return loaded


def build_evaluator(
    gates: list[LoadedGate],
    backend: BackendOptions,
    traces: TraceOptions,
    attestations: Path | None,
    sign: Path | None,
    keep_responses: bool,
    max_evaluations: int,
    history: ContextOptions | None = None,
) -> Evaluator:
    """Everything is checked now (URLs, credentials, keys, trace files), so a bad setting is exit 2 at start-up."""
    from collector.cli.sources import build_sources
    from collector.server.evaluate import Evaluator
    from collector.signing import PacketSigner, signing_key_from

    config = backend.config()
    targets = traces.targets()
    context = history.settings() if history is not None else None
    build_sources(gates, backend=config, attestations=attestations, traces=targets)  # fail early on a bad input

    def sources(selected: list[LoadedGate]) -> list:  # type: ignore[type-arg]
        # context ranges are asked only after every verdict is decided, so a rollout's answer never waits on a chart
        return build_sources(selected, backend=config, attestations=attestations, traces=targets, context=context)

    key = signing_key_from(sign, os.environ)
    signer = PacketSigner(key, envelope=True) if key is not None else None
    return Evaluator(
        gates={g.gate.id: g for g in gates},
        sources=sources,
        signer=signer,
        keep_responses=keep_responses,
        max_concurrent=max_evaluations,
    )


@uses(backend=BackendOptions, traces=TraceOptions, history=ContextOptions)
def serve_command(
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store: a path (SQLite) or a URL (or GATEPACK_STORE)", show_default=False),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1; others need a read token)")
    ] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port")] = 8080,
    key: Annotated[
        Path | None, typer.Option("--key", help="Public key (PEM) posted signatures must verify under")
    ] = None,
    trusted: Annotated[
        Path | None, typer.Option("--trusted-keys", help="Directory of trusted public keys (*.pub, *.pem)")
    ] = None,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Refuse posted packets not signed by a trusted key")
    ] = False,
    max_body: Annotated[int, typer.Option("--max-body", min=1024, help="Largest accepted POST body, bytes")] = 8
    * 1024
    * 1024,
    spec: Annotated[
        list[Path],
        typer.Option(
            "--spec", metavar="FILE", help="Gate spec the evaluate endpoint runs (repeatable; default: catalog)"
        ),
    ] = [],
    catalog: Annotated[
        bool, typer.Option("--catalog", help="Also serve the built-in catalog's gates when --spec is given")
    ] = False,
    attestations: Annotated[
        Path | None, typer.Option("--attestations", metavar="FILE", help="Attestations file for attestation checks")
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option(
            "--sign", metavar="KEY", help="Sign evaluated packets (or GATEPACK_SIGNING_KEY / GATEPACK_SIGNING_KEY_FILE)"
        ),
    ] = None,
    keep_responses: Annotated[
        bool, typer.Option("--keep-responses", help="Store the raw backend responses of evaluations, for verify --deep")
    ] = False,
    max_evaluations: Annotated[
        int, typer.Option("--max-evaluations", min=1, max=64, metavar="N", help="Gate evaluations running at once")
    ] = 2,
    sprints: Annotated[
        Path | None,
        typer.Option("--sprints", metavar="FILE", help="Sprint calendar (sprints.yaml) for the board's matrix"),
    ] = None,
    *,
    backend: BackendOptions,
    traces: TraceOptions,
    history: ContextOptions,
) -> None:
    """Serve the JSON API (/api/v1/), /metrics and the board. Tokens: GATEPACK_READ_TOKEN[_FILE], GATEPACK_WRITE_TOKEN[_FILE], GATEPACK_EVALUATE_TOKEN[_FILE]."""
    import uvicorn

    from collector.cli.evidence import open_from
    from collector.server import ServerConfig, create_app
    from collector.server.auth import is_loopback, load_tokens, token_from_env
    from collector.signing import trusted_keys
    from collector.telemetry import request_span, setup_tracing

    tokens = load_tokens()
    evaluate_token = token_from_env("GATEPACK_EVALUATE_TOKEN")
    bind = host or "127.0.0.1"
    if not is_loopback(bind) and tokens.read is None:
        raise UsageError(
            f"--host {bind} is not loopback: set GATEPACK_READ_TOKEN (or _FILE) before serving beyond this machine"
        )
    keys = trusted_keys(key, trusted)
    if require_signature and keys is None:
        raise UsageError("--require-signature needs --key or --trusted-keys to check signatures against")
    gates = server_gates(spec, catalog)
    evaluator = build_evaluator(gates, backend, traces, attestations, sign, keep_responses, max_evaluations, history)
    calendar = None
    if sprints is not None:
        from collector.server.matrix import read_calendar

        calendar = read_calendar(sprints)
    opened = open_from(store)
    setup_tracing("gatepack-serve")
    config = ServerConfig(
        store=opened,
        tokens=tokens,
        trusted_keys=keys,
        require_signature=require_signature,
        max_body_bytes=max_body,
        evaluator=evaluator,
        evaluate_token=evaluate_token,
        calendar=calendar,
        catalog=[g.gate for g in gates],
    )
    app = create_app(config, span_hook=request_span)
    writes = "writes with the write token" if tokens.write else "writes disabled (no GATEPACK_WRITE_TOKEN)"
    reads = "reads with the read token" if tokens.read else "reads open to loopback clients only"
    err.print(f"gatepack serve: http://{bind}:{port}/ ({reads}; {writes}; {len(gates)} gates to evaluate)")
    try:
        uvicorn.run(
            app, host=bind, port=port, log_level="warning", proxy_headers=False, server_header=False, access_log=False
        )
    finally:
        opened.close()

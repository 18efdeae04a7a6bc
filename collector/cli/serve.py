"""``gatepack serve``: the evidence API, /metrics and the board over a store (loopback unless told otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err
from collector.errors import UsageError


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
) -> None:
    """Serve the JSON API (/api/v1/), /metrics and the board. Tokens: GATEPACK_READ_TOKEN[_FILE], GATEPACK_WRITE_TOKEN[_FILE]."""
    import uvicorn

    from collector.cli.evidence import open_from
    from collector.server import ServerConfig, create_app
    from collector.server.auth import is_loopback, load_tokens
    from collector.signing import trusted_keys
    from collector.telemetry import request_span, setup_tracing

    tokens = load_tokens()
    bind = host or "127.0.0.1"
    if not is_loopback(bind) and tokens.read is None:
        raise UsageError(
            f"--host {bind} is not loopback: set GATEPACK_READ_TOKEN (or _FILE) before serving beyond this machine"
        )
    keys = trusted_keys(key, trusted)
    if require_signature and keys is None:
        raise UsageError("--require-signature needs --key or --trusted-keys to check signatures against")
    opened = open_from(store)
    setup_tracing("gatepack-serve")
    config = ServerConfig(
        store=opened, tokens=tokens, trusted_keys=keys, require_signature=require_signature, max_body_bytes=max_body
    )
    app = create_app(config, span_hook=request_span)
    writes = "writes with the write token" if tokens.write else "writes disabled (no GATEPACK_WRITE_TOKEN)"
    reads = "reads with the read token" if tokens.read else "reads open to loopback clients only"
    err.print(f"gatepack serve: http://{bind}:{port}/ ({reads}; {writes})")
    try:
        uvicorn.run(
            app, host=bind, port=port, log_level="warning", proxy_headers=False, server_header=False, access_log=False
        )
    finally:
        opened.close()

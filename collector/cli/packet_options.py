"""Options every packet-writing command shares (``collect``, ``ingest``): signing, and what is kept beside.

Each command declares the options with the aliases below and hands the values to :func:`apply`, which
fills the matching :class:`~collector.runner.CollectOptions` fields; the runner then needs no knowledge
of keys or files beyond "write these bytes".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collector.runner import CollectOptions
    from collector.specs import LoadedGate

SignOpt = Annotated[
    Path | None,
    typer.Option("--sign", help="Sign with this Ed25519 key (or GATEPACK_SIGNING_KEY / GATEPACK_SIGNING_KEY_FILE)"),
]
EnvelopeOpt = Annotated[
    bool,
    typer.Option(
        "--envelope/--no-envelope",
        help="When signing: the packet file is the DSSE envelope, or the plain packet with X.intoto.json beside",
    ),
]

KeepResponsesOpt = Annotated[
    bool,
    typer.Option(
        "--keep-responses",
        help="Keep every raw backend response (gzip) and the spec beside the packets, for `verify --deep`",
    ),
]


def apply(
    options: CollectOptions,
    *,
    sign: Path | None,
    envelope: bool,
    keep_responses: bool = False,
    gates: list[LoadedGate] | None = None,
) -> None:
    """Set up signing and response keeping on ``options`` from the flags and the environment."""
    from collector.cli.app import UsageError, err
    from collector.signing import PacketSigner, SigningKeyError, signing_key_from

    try:
        key = signing_key_from(sign, os.environ)
    except SigningKeyError as exc:
        raise UsageError(str(exc)) from None
    if key is not None:
        options.signer = PacketSigner(key, envelope=envelope)
        err.print(f"signing with key {options.signer.key_id}", highlight=False)
    if keep_responses and options.out_dir is not None:
        from collector.sinks.responses import ResponseKeeper, keep_spec

        options.on_body = ResponseKeeper(options.out_dir)
        for loaded in gates or []:
            if not keep_spec(options.out_dir, loaded.path, loaded.sha256):
                err.print(f"warning: {loaded.path} changed since it was read; its copy is not kept", style="yellow")

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


def apply(options: CollectOptions, *, sign: Path | None, envelope: bool) -> None:
    """Set up signing on ``options`` from the flags and the environment."""
    from collector.cli.app import UsageError, err
    from collector.signing import PacketSigner, SigningKeyError, signing_key_from

    try:
        key = signing_key_from(sign, os.environ)
    except SigningKeyError as exc:
        raise UsageError(str(exc)) from None
    if key is not None:
        options.signer = PacketSigner(key, envelope=envelope)
        err.print(f"signing with key {options.signer.key_id}", highlight=False)

"""The option group every packet-writing command shares (``collect``, ``ingest``): signing, kept responses.

Commands take it with ``@uses(..., evidence=EvidenceOptions)`` and call :meth:`EvidenceOptions.apply`
on their :class:`~collector.run.CollectOptions` before collecting: it sets the signer (the run then writes
whatever files the signer returns for each packet) and hooks response keeping into the Prometheus sources.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.signing_env import asks_for_signing

if TYPE_CHECKING:
    from collector.run import CollectOptions
    from collector.specs import LoadedGate


@dataclasses.dataclass
class EvidenceOptions:
    """Signing (``--sign``, or GATEPACK_SIGNING_KEY / GATEPACK_SIGNING_KEY_FILE) and ``--keep-responses``."""

    sign: Annotated[
        Path | None,
        typer.Option(
            "--sign",
            metavar="KEY",
            help="Sign with this Ed25519 key (or GATEPACK_SIGNING_KEY / GATEPACK_SIGNING_KEY_FILE)",
        ),
    ] = None
    envelope: Annotated[
        bool,
        typer.Option(
            "--envelope/--no-envelope",
            help="When signing: the packet file is the DSSE envelope, or the plain packet with X.intoto.json beside",
        ),
    ] = True
    keep_responses: Annotated[
        bool,
        typer.Option(
            "--keep-responses",
            help="Keep every raw backend response (gzip) and the spec beside the packets, for `verify --deep`",
        ),
    ] = False
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="PATH|URL",
            help="Record packets (and kept responses) in this store: a path (SQLite) or a URL",
        ),
    ] = None

    def apply(self, options: CollectOptions, gates: list[LoadedGate]) -> None:
        """Set up signing and response keeping on ``options`` (key errors are usage errors, exit 2)."""
        key = None
        if asks_for_signing(self.sign, os.environ):
            from collector.signing import PacketSigner, signing_key_from  # cryptography: ~8 MiB, only to sign

            key = signing_key_from(self.sign, os.environ)
        if key is not None:
            options.signer = PacketSigner(key, envelope=self.envelope)
            err.print(f"signing with key {options.signer.key_id}")
        if self.keep_responses and options.out_dir is not None:
            from collector.sinks.responses import ResponseKeeper, keep_spec

            keeper = ResponseKeeper(options.out_dir)
            self._keeper = keeper
            for source in options.sources:
                client = getattr(source, "client", None)
                if client is not None and hasattr(client, "on_body"):
                    client.on_body = keeper
            for loaded in gates:
                if not keep_spec(options.out_dir, loaded.path, loaded.sha256):
                    err.print(f"warning: {loaded.path} changed since it was read; its copy is not kept", style="yellow")

    def record(self, written: list[Path]) -> None:
        """With ``--store`` (or GATEPACK_STORE): record every packet file just written, with its kept responses."""
        target = self.store or os.environ.get("GATEPACK_STORE")
        if not target or not written:
            return
        from collector.sinks.responses import response_path
        from collector.store import open_store

        keeper = getattr(self, "_keeper", None)
        with open_store(target) as store:
            for path in written:
                kept = {}
                if keeper is not None:
                    for sha in keeper.shas:
                        kept_file = response_path(keeper.root, sha)
                        if kept_file.exists():
                            kept[sha] = kept_file.read_bytes()
                recorded = store.record(path.read_bytes(), kept)
                state = "recorded" if recorded.new else "already in the store"
                err.print(f"{state}: sha256:{recorded.digest} ({recorded.responses_added} new responses)")

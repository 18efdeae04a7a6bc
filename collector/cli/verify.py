"""``gatepack verify``: is this packet the one that was sealed, and who signed it?

Three questions, answered in order and each in plain words: does the packet's digest match its content
(an accidental or careless edit), does a trusted key's signature cover it (a deliberate edit re-sealed with
a new digest fails here), and, with ``--deep``, do the kept raw responses and the recorded spec still give
the recorded values and verdicts. Packets of schema 1.0.0 and 2.0.0 verify alike; for 2.0.0 the digest
check also checks the query table (every reference finds its entry, every entry is keyed by its own query),
and ``--deep`` re-derives each outcome from the response its table entry names.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli.common import err
from collector.errors import EXIT_FAIL, UsageError

if TYPE_CHECKING:
    from slo.dsse import Verification

MAX_PACKET_BYTES = 64 * 1024 * 1024
"""The default of ``--max-bytes``: slo.evidence.MAX_PACKET_BYTES (a test keeps them equal), written out so
that building the command list does not load pydantic."""


def _read(path: Path, limit: int) -> bytes:
    """The file's bytes, refusing what is not a regular file or is larger than ``limit`` before reading it."""
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise UsageError(f"{path} is not a regular file")
            if status.st_size > limit:
                raise UsageError(f"{path} is {status.st_size} bytes, more than --max-bytes {limit}: not a packet")
            return handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def verify_command(
    file: Annotated[Path, typer.Argument(metavar="PACKET", help="Evidence packet or signed envelope (JSON)")],
    key: Annotated[Path | None, typer.Option("--key", help="Public key (PEM) the signature must verify under")] = None,
    trusted: Annotated[
        Path | None, typer.Option("--trusted-keys", help="Directory of trusted public keys (*.pub, *.pem)")
    ] = None,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Exit 1 unless a trusted key signed the packet")
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Recompute every value and verdict from kept responses and the spec")
    ] = False,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="With --deep: the spec file (default: the copy kept beside)")
    ] = None,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Refuse packets larger than this many bytes")
    ] = MAX_PACKET_BYTES,
) -> None:
    """Recompute the packet's digest and check its signature; exit 1 if it changed or the signature fails."""
    # cryptography and pydantic load here, not when ``gatepack --help`` builds the command list
    from collector.signing import envelope_path, trusted_keys
    from slo.dsse import SignatureState, verify_file_bytes

    keys = trusted_keys(key, trusted)  # a bad key file is a usage error (SigningKeyError), exit 2
    if require_signature and keys is None:
        raise UsageError("--require-signature needs --key or --trusted-keys to check the signature against")
    file_limit = max_bytes * 4 // 3 + 4096  # a signed envelope carries the packet in base64
    data = _read(file, file_limit)
    sibling = envelope_path(file)
    detached = _read(sibling, file_limit) if sibling != file and sibling.is_file() else None
    result = verify_file_bytes(data, keys, detached, max_bytes)
    failed = not report(file, result)
    if require_signature and result.signature.state is not SignatureState.VALID:
        err.print(f"FAILED: {file}: a signature by a trusted key is required", style="bold red")
        failed = True
    if deep and result.packet is not None and result.digest.ok:
        from collector.cli.deep import deep_report

        failed = not deep_report(file, result.packet, spec) or failed
    if failed:
        raise typer.Exit(EXIT_FAIL)


def report(file: Path, result: Verification) -> bool:
    """Print what was found; True when nothing is wrong (an unsigned packet is not wrong by itself)."""
    from slo.dsse import SignatureState

    digest = result.digest
    if digest.ok:
        version = (result.packet or {}).get("schema_version")
        err.print(f"ok: {file}: sha256:{digest.actual} (digest matches, schema {version})", style="green")
    else:
        err.print(f"FAILED: {file}: {digest.reason}", style="bold red")
        if digest.expected and digest.actual and digest.expected != digest.actual:
            err.print(f"  recorded sha256:{digest.expected}\n  computed sha256:{digest.actual}")
    signature = result.signature
    state = signature.state
    if state is SignatureState.VALID:
        err.print(f"signed: key {signature.key_id} (trusted): signature valid", style="green")
    elif state is SignatureState.UNCHECKED:
        err.print(f"signed by key {signature.key_id or '(no key id)'}: {signature.reason}", style="yellow")
    elif state is SignatureState.UNSIGNED:
        err.print(
            "unsigned: no signature; the digest catches accidental edits only (anyone can re-seal an edited packet)",
            style="yellow",
        )
    elif state is not SignatureState.MALFORMED or digest.ok:
        err.print(f"FAILED: {file}: {signature.reason}", style="bold red")
    return result.ok

"""``gatepack keygen``: an Ed25519 key pair for signing evidence packets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli.common import err
from collector.errors import UsageError


def keygen_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Private key file (mode 0600); KEY.pub beside it")],
    force: Annotated[bool, typer.Option("--force", help="Replace existing key files")] = False,
) -> None:
    """Generate a signing key: KEY (private, 0600) and KEY.pub; print the key id (sha256 of the public key)."""
    from collector.signing import write_keypair  # cryptography loads only here

    try:
        kid = write_keypair(output, force=force)  # an existing file is a SigningKeyError: usage, exit 2
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(kid)
    err.print(f"private key: {output} (keep it secret)\npublic key:  {output}.pub (give it to reviewers)")

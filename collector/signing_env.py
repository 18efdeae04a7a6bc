"""Whether a run is asked to sign, decided without loading ``cryptography``.

``collector.signing`` imports ``cryptography``, whose Rust extension and OpenSSL bindings add about 8 MiB
to a process; a ``collect`` that signs nothing (the usual case) should not pay that. The names of the
environment variables live here so that the check and :func:`collector.signing.signing_key_from` read
the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

KEY_ENV = "GATEPACK_SIGNING_KEY"
KEY_FILE_ENV = "GATEPACK_SIGNING_KEY_FILE"


def asks_for_signing(option: Path | None, env: Mapping[str, str]) -> bool:
    """True when ``--sign`` or either variable names a key: exactly when ``signing_key_from`` may return one."""
    return option is not None or bool(env.get(KEY_ENV)) or bool(env.get(KEY_FILE_ENV))

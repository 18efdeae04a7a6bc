"""Who may read and who may write: bearer tokens from the environment, compared in constant time.

Tokens come from ``GATEPACK_WRITE_TOKEN`` / ``GATEPACK_READ_TOKEN`` or the file named by the ``_FILE``
variant (a mounted secret; one trailing newline is dropped). No token is ever logged or echoed: errors
name the variable, never its value.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from collector.errors import UsageError

LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class Tokens:
    """The configured tokens (None = not set). ``repr`` hides them so a traceback cannot leak one."""

    read: bytes | None = field(default=None, repr=False)
    write: bytes | None = field(default=None, repr=False)


def token_from_env(name: str, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The token in ``name`` or in the file ``name_FILE`` names (None when neither is set).

    One reader for every token gatepack takes, on either side of the wire (the server's read, write and
    evaluate tokens, ``gatepack push``'s ``GATEPACK_TOKEN``), so each has the same rules: not both forms, one
    trailing newline dropped, at least 16 characters, and errors that name the variable, never the value.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    path = environ.get(f"{name}_FILE")
    if value is not None and path is not None:
        raise UsageError(f"set {name} or {name}_FILE, not both")
    if path is not None:
        try:
            value = Path(path).read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except OSError as exc:
            raise UsageError(f"{name}_FILE={path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{name}_FILE={path}: not UTF-8 text") from None
    if value is None:
        return None
    if not value.strip():
        raise UsageError(f"{name}{'_FILE' if path else ''}: the token is empty")
    if len(value) < 16:
        raise UsageError(f"{name}{'_FILE' if path else ''}: the token is too short (at least 16 characters)")
    return value.encode("utf-8")


def load_tokens(environ: Mapping[str, str] | None = None) -> Tokens:
    """Read both tokens; a bad setting is a usage error naming the variable (never the value)."""
    env = os.environ if environ is None else environ
    return Tokens(read=token_from_env("GATEPACK_READ_TOKEN", env), write=token_from_env("GATEPACK_WRITE_TOKEN", env))


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; an unknown or empty host is not loopback."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bearer(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer …`` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip().encode("utf-8", "surrogateescape")


def matches(given: bytes | None, expected: bytes | None) -> bool:
    """Constant-time comparison; False when either side is missing."""
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given, expected)

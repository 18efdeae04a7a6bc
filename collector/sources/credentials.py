"""Backend credentials from the environment or files, never from spec files or literal flags.

Precedence: an explicit ``--*-file`` flag, then ``GATEPACK_PROMETHEUS_*_FILE``, then
``GATEPACK_PROMETHEUS_*``. File contents are stripped of surrounding whitespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from slo.errors import InputError

ENV_PREFIX = "GATEPACK_PROMETHEUS_"


class CredentialError(InputError):
    pass


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


def _read_secret(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def _secret(env: Mapping[str, str], name: str, file_flag: Path | None) -> str | None:
    if file_flag is not None:
        return _read_secret(file_flag, name.lower().replace("_", " "))
    file_var = env.get(f"{ENV_PREFIX}{name}_FILE")
    if file_var:
        return _read_secret(Path(file_var), f"{ENV_PREFIX}{name}_FILE")
    return env.get(f"{ENV_PREFIX}{name}") or None


def load_credentials(
    env: Mapping[str, str],
    bearer_token_file: Path | None = None,
    password_file: Path | None = None,
    username: str | None = None,
) -> Credentials:
    token = _secret(env, "BEARER_TOKEN", bearer_token_file)
    user = username or env.get(f"{ENV_PREFIX}USERNAME") or None
    password = _secret(env, "PASSWORD", password_file)
    if token and (user or password):
        raise CredentialError("give either a bearer token or basic auth, not both")
    if bool(user) != bool(password):
        raise CredentialError("basic auth needs both a username and a password")
    return Credentials(bearer_token=token, basic_auth=(user, password) if user and password else None)


def parse_headers(values: list[str]) -> dict[str, str]:
    """``Name: value`` pairs from ``--header`` flags (e.g. ``X-Scope-OrgID: tenant-a`` for Mimir)."""
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise CredentialError(f"invalid header {value!r}: use 'Name: value'")
        headers[name.strip()] = content.strip()
    return headers

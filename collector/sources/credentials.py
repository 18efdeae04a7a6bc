"""Backend credentials from the environment or files, never from spec files or literal flags.

Precedence: an explicit ``--*-file`` flag, then ``GATEPACK_PROMETHEUS_*_FILE``, then
``GATEPACK_PROMETHEUS_*`` (``GATEPACK_TEMPO_*`` and ``GATEPACK_JAEGER_*`` for the trace backends). File contents are stripped of surrounding whitespace.

Every credential is validated here, when it is loaded, not when the HTTP library first sends it: a
token file with a second line or a non-ASCII character would otherwise fail deep inside the request
with an error message that quotes the header, secret included. The messages below name the file and
the position of the offending character, never the secret itself.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from slo.errors import InputError

ENV_PREFIX = "GATEPACK_PROMETHEUS_"

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""RFC 9110 ``token``: the only characters a header name may have."""

SECRET_HEADER = re.compile(r"(authorization|cookie|token|secret|key|password|passwd|credential|auth)", re.I)
"""Header names whose value is a credential: never shown, never recorded. Everything else (a tenant id
such as ``X-Scope-OrgID``) is configuration and is recorded in the packet."""


class CredentialError(InputError):
    pass


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


def _problem(value: str, *, printable_ascii: bool, allow_space: bool) -> str | None:
    """What is wrong with ``value`` as a credential, by position only (the value is secret)."""
    for index, char in enumerate(value):
        position = f"character {index + 1}"
        if char in "\r\n":
            line = value.count("\n", 0, index) + 1
            return f"contains a line break after line {line} (a credential is one line)"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains a control character ({position})"
        if char == " " and not allow_space:
            return f"contains a space ({position})"
        if printable_ascii and ord(char) > 0x7E:
            return f"contains a non-ASCII character ({position}); a header value must be printable ASCII"
    return None


def check_secret(value: str, what: str, *, printable_ascii: bool = True, allow_space: bool = False) -> str:
    """``value`` unchanged when usable as ``what``; a :class:`CredentialError` without the value otherwise."""
    problem = _problem(value, printable_ascii=printable_ascii, allow_space=allow_space)
    if problem:
        raise CredentialError(f"{what} {problem}")
    return value


def _read_secret(path: Path, what: str) -> str:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise CredentialError(f"{what} {path} is not a regular file")
        if status.st_size > 64 * 1024:
            raise CredentialError(f"{what} {path} is larger than 64 KiB: not a credential file")
        raw = path.read_bytes()
    except OSError as exc:
        raise CredentialError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise CredentialError(f"{what} {path} is not UTF-8 text (byte {exc.start + 1})") from None


def _secret(
    env: Mapping[str, str], name: str, file_flag: Path | None, flag: str, prefix: str = ENV_PREFIX
) -> tuple[str | None, str]:
    """The secret and a description of where it came from (for messages: a file or variable name)."""
    if file_flag is not None:
        return _read_secret(file_flag, flag), f"{flag} {file_flag}"
    file_var = env.get(f"{prefix}{name}_FILE")
    if file_var:
        return _read_secret(Path(file_var), f"{prefix}{name}_FILE"), f"{prefix}{name}_FILE {file_var}"
    return env.get(f"{prefix}{name}") or None, f"{prefix}{name}"


def load_credentials(
    env: Mapping[str, str],
    bearer_token_file: Path | None = None,
    password_file: Path | None = None,
    username: str | None = None,
    *,
    prefix: str = ENV_PREFIX,
) -> Credentials:
    """Credentials for one backend; ``prefix`` names its variables (``GATEPACK_TEMPO_`` for Tempo…)."""
    token, token_from = _secret(env, "BEARER_TOKEN", bearer_token_file, "--bearer-token-file", prefix)
    user = username or env.get(f"{prefix}USERNAME") or None
    password, password_from = _secret(env, "PASSWORD", password_file, "--password-file", prefix)
    if token:
        check_secret(token, f"the bearer token from {token_from}")
    if user:
        check_secret(user, "the basic-auth username", printable_ascii=False, allow_space=True)
        if ":" in user:
            raise CredentialError("the basic-auth username contains ':' (RFC 7617 forbids it)")
    if password:
        # basic auth is base64-encoded, so any printable character works; control characters never do
        check_secret(password, f"the password from {password_from}", printable_ascii=False, allow_space=True)
    if token and (user or password):
        raise CredentialError("give either a bearer token or basic auth, not both")
    if bool(user) != bool(password):
        raise CredentialError("basic auth needs both a username and a password")
    return Credentials(bearer_token=token, basic_auth=(user, password) if user and password else None)


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential (``Authorization``, cookies, anything token/secret/key-like)."""
    return bool(SECRET_HEADER.search(name))


def parse_headers(values: list[str]) -> dict[str, str]:
    """``Name: value`` pairs from ``--header`` flags (e.g. ``X-Scope-OrgID: tenant-a`` for Mimir).

    A value may be a credential (``--header 'Authorization: …'``), so messages never quote it.
    """
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        name, content = name.strip(), content.strip()
        if not sep or not name:
            raise CredentialError("invalid --header: use 'Name: value' (not shown: it may hold a credential)")
        if not _HEADER_NAME.match(name):
            raise CredentialError("invalid --header name: letters, digits and -_.!#$%&'*+^`|~ only (not shown)")
        check_secret(content, f"the value of header {name}", allow_space=True)
        headers[name] = content
    return headers

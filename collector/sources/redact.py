"""Keep credentials out of evidence, logs and error messages.

URLs lose their user-info and the values of query parameters that look like secrets; free text is
scrubbed of every secret value the run knows about (tokens, passwords) before anyone sees it.

A secret reaches text in more shapes than its raw form: an HTTP library's error quotes the header as
``repr`` of bytes (``b'Bearer abc\\ndef'``), JSON escapes it, a URL percent-encodes it, basic auth
base64-encodes ``user:password``. :func:`secret_forms` lists every such shape, and the redactor masks
them all, so a new error path that quotes a credential in any of these shapes is still covered.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

_SENSITIVE_PARAM = re.compile(r"(token|secret|password|passwd|pwd|key|auth|signature|sig|credential)", re.I)
MASK = "***"


def redact_url(url: str) -> str:
    """``url`` without user-info and with secret-looking query values masked."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", a port of 99999: still say what was given, minus user-info and query
        return re.sub(r"(//)[^/@\s]*@", rf"\1{MASK}@", url.split("?", 1)[0].split("#", 1)[0])[:200]
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "") if parts.netloc else ""
    if parts.username or parts.password:
        netloc = f"{MASK}@{netloc}"
    query = urlencode(
        [(k, MASK if _SENSITIVE_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


MIN_SECRET = 3
"""Shorter strings are not masked: masking "ab" everywhere would destroy the text, and cannot hide much."""


def secret_forms(secret: str) -> set[str]:
    """Every shape ``secret`` can take in text: raw, repr- and JSON-escaped, URL-encoded, per line, base64."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        quote(secret),
        base64.b64encode(secret.encode("utf-8")).decode("ascii"),
    }
    forms.update(line.strip() for line in secret.splitlines())  # a multi-line secret quoted one line at a time
    return {f for f in forms if len(f) >= MIN_SECRET}


def basic_auth_forms(username: str, password: str) -> set[str]:
    """The base64 ``user:password`` of a Basic header, plus the forms of each part."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {
        *secret_forms(token),
        *secret_forms(password),
        *(secret_forms(username) if len(username) >= MIN_SECRET else ()),
    }


class Redactor:
    """Scrubs a known set of secret strings, in every shape they take in text (and URL user-info)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                self._secrets.update(secret_forms(secret))

    def add_basic_auth(self, username: str, password: str) -> None:
        self._secrets.update(basic_auth_forms(username, password))

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return re.sub(r"(\w+://)[^/\s@]+@", rf"\1{MASK}@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record's message through a :class:`Redactor`."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor(record.getMessage())
        record.args = ()
        return True

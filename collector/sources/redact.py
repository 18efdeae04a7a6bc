"""Keep credentials out of evidence, logs and error messages.

URLs lose their user-info and the values of query parameters that look like secrets; free text is
scrubbed of every secret value the run knows about (tokens, passwords) before anyone sees it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SENSITIVE_PARAM = re.compile(r"(token|secret|password|passwd|pwd|key|auth|signature|sig|credential)", re.I)
MASK = "***"


def redact_url(url: str) -> str:
    """``url`` without user-info and with secret-looking query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "") if parts.netloc else ""
    if parts.username or parts.password:
        netloc = f"{MASK}@{netloc}"
    query = urlencode(
        [(k, MASK if _SENSITIVE_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class Redactor:
    """Scrubs a known set of secret strings (and URL user-info) out of text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= 3:
                self._secrets.add(secret)

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

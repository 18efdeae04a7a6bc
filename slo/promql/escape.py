"""PromQL string escaping and quote context, for putting untrusted values into query templates.

A value substituted between quotes must stay one string literal whatever it contains, so it is
escaped for the quote that encloses it: ``"…"`` and ``'…'`` strings take backslash escapes (the
backslash, that quote, and newline, carriage return and tab, which a string may not hold raw or a
reader could misread); a backtick string is raw, so nothing can be escaped there and placeholders
inside one are refused by the caller. Where a placeholder stands is read from the template itself,
before any value is put in, so a value can never change what the rest of the template means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DOUBLE = '"'
SINGLE = "'"
BACKTICK = "`"
COMMENT = "#"

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TABLES = {quote: str.maketrans({**_ESCAPES, quote: "\\" + quote}) for quote in (DOUBLE, SINGLE)}
DOUBLE_TABLE = _TABLES[DOUBLE]
"""``str.translate`` table of :func:`escape_string` for ``"`` strings (for callers escaping many values)."""


def escape_string(value: str, quote: str = DOUBLE) -> str:
    """``value`` escaped for use between two ``quote`` characters (``"`` or ``'``) in PromQL."""
    if quote not in (DOUBLE, SINGLE):
        raise ValueError(f"PromQL strings in {quote!r} cannot be escaped")
    return value.translate(_TABLES[quote])


_LEXEMES = re.compile(
    r'"(?:[^"\\]|\\.)*"?'  # a double-quoted string (to the end of the text when unterminated)
    r"|'(?:[^'\\]|\\.)*'?"  # a single-quoted string
    r"|`[^`]*`?"  # a raw string: no escapes
    r"|#[^\n]*\n?",  # a comment, to the end of the line
    re.DOTALL,
)


def contexts(text: str, positions: Iterable[int]) -> list[str | None]:
    """What encloses each position of ``text``: a quote character, :data:`COMMENT`, or None (plain code).

    Reads PromQL's lexical rules only: ``"`` and ``'`` strings with backslash escapes, raw backtick
    strings, and ``#`` comments to the end of the line. A position on an opening quote is outside the
    string, one on its closing quote inside. Positions must be ascending.
    """
    result: list[str | None] = []
    lexemes = _LEXEMES.finditer(text)
    current = next(lexemes, None)
    for position in positions:
        while current is not None and current.end() <= position:
            current = next(lexemes, None)
        inside = current is not None and current.start() < position
        result.append(text[current.start()] if current is not None and inside else None)
    return result


def context(text: str, position: int) -> str | None:
    """What encloses ``position`` in ``text`` (see :func:`contexts`)."""
    return contexts(text, [position])[0]

"""PromQL string escaping and quote context, for putting untrusted values into query templates.

A value substituted between quotes must stay one string literal whatever it contains, so it is
escaped for the quote that encloses it: ``"…"`` and ``'…'`` strings take backslash escapes (the
backslash, that quote, and newline, carriage return and tab, which a string may not hold raw or a
reader could misread); a backtick string is raw, so nothing can be escaped there and placeholders
inside one are refused by the caller. Where a placeholder stands is read from the template itself,
before any value is put in, so a value can never change what the rest of the template means.
"""

from __future__ import annotations

from collections.abc import Iterable

DOUBLE = '"'
SINGLE = "'"
BACKTICK = "`"
COMMENT = "#"

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TABLES = {quote: str.maketrans({**_ESCAPES, quote: "\\" + quote}) for quote in (DOUBLE, SINGLE)}


def escape_string(value: str, quote: str = DOUBLE) -> str:
    """``value`` escaped for use between two ``quote`` characters (``"`` or ``'``) in PromQL."""
    if quote not in (DOUBLE, SINGLE):
        raise ValueError(f"PromQL strings in {quote!r} cannot be escaped")
    return value.translate(_TABLES[quote])


def contexts(text: str, positions: Iterable[int]) -> list[str | None]:
    """What encloses each position of ``text``: a quote character, :data:`COMMENT`, or None (plain code).

    Reads PromQL's lexical rules only: ``"`` and ``'`` strings with backslash escapes, raw backtick
    strings, and ``#`` comments to the end of the line. Positions must be ascending.
    """
    wanted = list(positions)
    result: list[str | None] = []
    state: str | None = None
    index = 0
    for position in wanted:
        while index < position and index < len(text):
            char = text[index]
            if state in (DOUBLE, SINGLE):
                if char == "\\":
                    index += 2
                    continue
                if char == state:
                    state = None
            elif state == BACKTICK:
                if char == BACKTICK:
                    state = None
            elif state == COMMENT:
                if char == "\n":
                    state = None
            elif char in (DOUBLE, SINGLE, BACKTICK, COMMENT):
                state = char
            index += 1
        result.append(state)
    return result


def context(text: str, position: int) -> str | None:
    """What encloses ``position`` in ``text`` (see :func:`contexts`)."""
    return contexts(text, [position])[0]

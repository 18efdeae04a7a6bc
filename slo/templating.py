"""Substitute ``{{ name }}`` placeholders into PromQL without letting a value change the query.

A value that lands inside a double-quoted label matcher is escaped as a PromQL string. A value that
lands outside quotes (a metric name, a range such as ``{{ window }}``) must be a bare identifier,
number or duration; anything else is refused, because no escaping makes arbitrary text safe there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slo.errors import InputError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BARE_VALUE = re.compile(r"^[A-Za-z0-9_:.]+$")


class TemplateError(InputError):
    """A placeholder without a value, or a value that is unsafe where it stands."""


def escape_promql_string(value: str) -> str:
    """Escape text for use between double quotes in PromQL (``\\``, ``"`` and newlines)."""
    return (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )


def placeholders(query: str) -> list[str]:
    """Names of the placeholders a query uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(query):
        seen.setdefault(match.group(1), None)
    return list(seen)


def _inside_quotes(query: str, position: int) -> bool:
    """Whether ``position`` lies inside a double- or single-quoted PromQL string."""
    quote: str | None = None
    index = 0
    while index < position:
        char = query[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in ('"', "'"):
            quote = char
        index += 1
    return quote is not None


def render(query: str, values: Mapping[str, str]) -> str:
    """The query with every placeholder replaced; raises :class:`TemplateError` on a missing or unsafe value."""
    pieces: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(query):
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"placeholder {{{{ {name} }}}} has no value (define it in vars or --var)")
        value = str(values[name])
        if _inside_quotes(query, match.start()):
            value = escape_promql_string(value)
        elif not _BARE_VALUE.match(value):
            raise TemplateError(
                f"value {value!r} for {{{{ {name} }}}} stands outside quotes in the query and is not a bare "
                "name, number or duration; put the placeholder inside a quoted label matcher"
            )
        pieces.append(query[last : match.start()])
        pieces.append(value)
        last = match.end()
    pieces.append(query[last:])
    return "".join(pieces)

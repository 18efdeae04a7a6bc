"""Substitute ``{{ name }}`` placeholders into PromQL without letting a value change the query.

A value that lands inside a ``"…"`` or ``'…'`` string is escaped for that quote, so it stays one string
literal. A value inside a backtick string is refused: raw strings have no escapes, so a backtick in the
value would end the string. A value that lands outside any string (a metric name, a range such as
``{{ window }}``) or in a comment must be a bare identifier, number or duration; anything else is
refused, because no escaping makes arbitrary text safe there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from slo.errors import InputError
from slo.promql.escape import BACKTICK, DOUBLE, SINGLE, contexts, escape_string

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_:.]+")


class TemplateError(InputError):
    """A placeholder without a value, or a value that is unsafe where it stands."""


def escape_promql_string(value: str) -> str:
    """Escape text for use between double quotes in PromQL (``\\``, ``"``, newline, CR and tab)."""
    return escape_string(value, DOUBLE)


def placeholders(query: str) -> list[str]:
    """Names of the placeholders a query uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(query):
        seen.setdefault(match.group(1), None)
    return list(seen)


@lru_cache(maxsize=4096)
def _slots(query: str) -> tuple[tuple[int, int, str, str | None], ...]:
    """Each placeholder's (start, end, name, enclosing quote); cached because one template is rendered
    once per window and the same checks are planned again for validation and collection."""
    matches = list(PLACEHOLDER.finditer(query))
    enclosing = contexts(query, [m.start() for m in matches])
    return tuple((m.start(), m.end(), m.group(1), quote) for m, quote in zip(matches, enclosing, strict=True))


def render(query: str, values: Mapping[str, str]) -> str:
    """The query with every placeholder replaced; raises :class:`TemplateError` on a missing or unsafe value."""
    pieces: list[str] = []
    last = 0
    for start, end, name, quote in _slots(query):
        if name not in values:
            raise TemplateError(f"placeholder {{{{ {name} }}}} has no value (define it in vars or --var)")
        value = str(values[name])
        if quote in (DOUBLE, SINGLE):
            value = escape_string(value, quote)
        elif quote == BACKTICK:
            raise TemplateError(
                f"placeholder {{{{ {name} }}}} stands inside a backtick string, which cannot be escaped; "
                "use double or single quotes around it"
            )
        elif not _BARE_VALUE.fullmatch(value):  # fullmatch: "$" would let a trailing newline through
            raise TemplateError(
                f"value {value!r} for {{{{ {name} }}}} stands outside quotes in the query and is not a bare "
                "name, number or duration; put the placeholder inside a quoted label matcher"
            )
        pieces.append(query[last:start])
        pieces.append(value)
        last = end
    pieces.append(query[last:])
    return "".join(pieces)

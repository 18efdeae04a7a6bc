"""Text from outside (label values, backend errors, spec titles) made safe to show to a person.

A Prometheus label value or an error body can carry terminal control sequences: ``\\x1b[2J`` clears a
CI log viewer's screen, an OSC 8 sequence turns text into a link to anywhere, a bidi override makes a
failing line read as passing. Every human output (terminal table, Markdown, JUnit, stderr) therefore
shows such characters as visible escapes (``\\x1b``) instead of sending them raw. Rich's markup is
turned off for outside text too: ``[link=…]`` in a label value would otherwise become an OSC 8 link.
Machine outputs (the packet, ``--format json``) keep the exact text: JSON escapes control characters
itself, and the packet must record what the backend said.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rich.console import Console
from rich.text import Text

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with every control, bidi or line-separator character shown as ``\\xNN``/``\\uNNNN``.

    ``keep`` names characters to leave as they are (``"\\n"`` where a line break is meant, e.g. XML text).
    """
    if keep:
        return "".join(c if c in keep else _UNSAFE.sub(_escape, c) for c in text)
    return _UNSAFE.sub(_escape, text)


def is_safe(text: str) -> bool:
    """Whether ``text`` has nothing :func:`escape_controls` would change (and no other Cc/Cf character)."""
    return not any(unicodedata.category(c) == "Cc" for c in text) and not _UNSAFE.search(text)


def safe_text(text: str, style: str = "") -> Text:
    """A rich ``Text`` (never parsed as markup) with control characters escaped."""
    return Text(escape_controls(text), style=style)


class SafeConsole(Console):
    """A rich console whose ``print`` never interprets markup in, or sends control characters from, strings.

    Renderables (tables, ``Text``) pass unchanged: the views build them from :func:`safe_text` already.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        kwargs.setdefault("highlight", False)
        cleaned = [escape_controls(o, keep="\n") if isinstance(o, str) else o for o in objects]
        super().print(*cleaned, **kwargs)

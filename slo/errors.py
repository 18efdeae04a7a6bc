"""The root of gatepack's error hierarchy, here so the pure core can raise into it.

Every foreseeable fault gatepack raises is a :class:`GatepackError`; the command line turns each one
into one clear line on stderr and an exit code (``collector.errors.exit_code_for``), never a
traceback. :class:`InputError` is bad input (a spec, a file, a flag): it names where (source, line,
field) when it knows, and exits 2.
"""

from __future__ import annotations


class GatepackError(Exception):
    """A fault gatepack foresaw: reported in one line, never with a traceback."""

    exit_code = 2


class InputError(GatepackError, ValueError):
    """Input gatepack cannot use: a spec, a result file, a flag's value. Exit 2."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.field = field

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.source, self.line) if p is not None)
        parts = [p for p in (where, self.field, self.message) if p]
        return ": ".join(parts)

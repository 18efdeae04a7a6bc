"""One error hierarchy for everything gatepack foresees, and the one place that maps it to exit codes.

``GatepackError`` (``slo.errors``) is the root; the pure core raises ``InputError`` subclasses for bad
specs and queries, the collector adds usage, credential, time and file errors below it and
``BackendUnreachable`` (exit 3). The CLI catches ``GatepackError`` once and prints ``str(exc)``: every
message must be one line, and must never contain a credential.
"""

from __future__ import annotations

from slo.errors import GatepackError, InputError

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class UsageError(InputError):
    """How gatepack was called: an unknown gate, a bad flag value. Exit 2."""


class BackendUnreachable(GatepackError):
    """No backend could be reached at all: nothing was measured. Exit 3."""

    exit_code = EXIT_UNREACHABLE


def exit_code_for(exc: GatepackError) -> int:
    return exc.exit_code


__all__ = [
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "BackendUnreachable",
    "GatepackError",
    "InputError",
    "UsageError",
    "exit_code_for",
]

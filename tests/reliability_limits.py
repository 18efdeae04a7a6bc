"""Run gatepack's CLI in a child process with an address-space limit (for memory-bound tests).

A regression then fails fast with a MemoryError (or the kernel refusing a mapping) instead of taking the
machine's memory: the limit is set in the child only, through ``preexec_fn``.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable

MIB = 1 << 20


def limit_address_space(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        limit = megabytes * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_limited(args: list[str], megabytes: int, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m collector.cli ARGS`` under an address-space limit of ``megabytes``."""
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_address_space(megabytes),
    )


def python_limited(code: str, megabytes: int, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` under an address-space limit: for readers that have no CLI command of their own."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_address_space(megabytes),
    )

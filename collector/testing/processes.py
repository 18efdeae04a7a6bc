"""Waiting for a local server the tests started: ready, or a clear error with the tail of its log."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Protocol

import httpx


class Stoppable(Protocol):
    def stop(self) -> None: ...


def wait_until_ready(
    server: Stoppable,
    process: subprocess.Popen[bytes],
    probe_url: str,
    log: Path,
    name: str,
    timeout: float,
    error: type[Exception],
) -> None:
    """Return once ``probe_url`` answers 200; stop ``server`` and raise ``error`` if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-800:]
            server.stop()
            raise error(f"{name} exited with code {process.returncode}: {tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(probe_url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    server.stop()
    raise error(f"{name} did not become ready within {timeout:.0f}s")

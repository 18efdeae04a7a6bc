"""A real ``gatepack serve`` (uvicorn) on a free 127.0.0.1 port, started and stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from collector.testing.promserver import free_port

ROOT = Path(__file__).resolve().parent.parent
READ = "read-token-0123456789abcdef"
WRITE = "write-token-0123456789abcdef"


@dataclass
class Served:
    url: str
    pid: int
    log: Path


@contextmanager
def serving(
    store: Path, tmp: Path, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Served]:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GATEPACK_", "OTEL_"))}
    environ.update(env or {})
    command = [sys.executable, "-m", "collector.cli", "serve", "--store", str(store), "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gatepack serve exited {process.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gatepack serve did not answer: {log.read_text()}")
            time.sleep(0.1)
        yield Served(url, process.pid, log)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

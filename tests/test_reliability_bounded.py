"""Time bounds against a server that never finishes: every run ends within its --deadline.

The server here is real and local (a socket on 127.0.0.1): it accepts, answers with a status line and
headers, and then drips the body one byte a second (or drips the status line itself), forever. A client
whose per-request timeout only bounded each read, or whose deadline was only checked between requests,
would wait for as long as the server keeps dripping.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TIMEOUT, DEADLINE = 3.0, 8.0
SLACK = 3.0  # on top of the deadline and of this machine's measured start-up time


@pytest.fixture(scope="module")
def startup() -> float:
    """How long the CLI takes to start and exit here (imports on a shared, loaded machine)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "collector.cli", "--help"], capture_output=True, timeout=120, check=True)
    return time.monotonic() - started


class DrippingServer:
    """Answers every request by sending one byte a second, never completing the response."""

    def __init__(self, mode: str) -> None:
        self.mode = mode  # "body": headers at once, body dripped; "headers": the status line dripped
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                if self.mode == "body":
                    conn.sendall(head)
                    payload = b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * 100_000
                else:
                    payload = head
                for byte in payload:
                    if self.stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(1.0)
            except OSError:
                return

    def __enter__(self) -> DrippingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture(params=["body", "headers"])
def dripping(request: pytest.FixtureRequest) -> Iterator[DrippingServer]:
    with DrippingServer(request.param) as server:
        yield server


SPEC = """\
apiVersion: gatepack/v1
kind: Gate
id: drip
title: Drip
checks:
  - {id: a, kind: threshold, query: 'sum(rate(x_total[5m]))', op: "<", target: 1}
  - {id: b, kind: threshold, query: 'sum(rate(y_total[5m]))', op: "<", target: 1}
  - id: s
    kind: slo
    objective: 99.9
    period: 1d
    good: 'sum(increase(ok_total[{{ window }}]))'
    total: 'sum(increase(all_total[{{ window }}]))'
"""


def _run(args: list[str], limit: float) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True, timeout=limit + 60
    )
    return done, time.monotonic() - started


def test_collect_ends_within_its_deadline_against_a_dripping_server(
    dripping: DrippingServer, tmp_path: Path, startup: float
) -> None:
    spec = tmp_path / "drip.yaml"
    spec.write_text(SPEC)
    args = ["collect", str(spec), "-p", dripping.url, "--timeout", str(TIMEOUT), "--deadline", str(DEADLINE)]
    done, took = _run([*args, "--out", str(tmp_path / "ev"), "--concurrency", "2"], DEADLINE)
    assert dripping.connections >= 1  # the server was really asked
    assert took < DEADLINE + 2 * startup + SLACK, (took, startup, done.stderr[-500:])
    assert "Traceback" not in done.stderr
    assert done.returncode != 0  # nothing was measured: never a pass


def test_validate_ends_within_the_deadline_against_a_dripping_server(
    dripping: DrippingServer, tmp_path: Path, startup: float
) -> None:
    spec = tmp_path / "drip.yaml"
    spec.write_text(SPEC)
    args = ["validate", str(spec), "-p", dripping.url, "--timeout", str(TIMEOUT), "--deadline", str(DEADLINE)]
    done, took = _run(args, DEADLINE)
    assert dripping.connections >= 1
    assert took < DEADLINE + 2 * startup + SLACK, (took, startup, done.stderr[-500:])
    assert "Traceback" not in done.stderr
    assert done.returncode != 0

"""A small local HTTP server for the real-tool tests: variable latency, some 500s, a 404, a redirect.

It keeps its own per-request record (path, status, injected delay) so tests can compute the expected
counts and error ratio independently of any tool's output.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class LoggedRequest:
    path: str
    status: int
    delay: float


@dataclass
class RequestLog:
    entries: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: LoggedRequest) -> None:
        with self.lock:
            self.entries.append(entry)


def _plan(path: str, n: int, rng: random.Random) -> tuple[int, float]:
    """Status and delay for the n-th request to ``path``: deterministic per path and arrival order."""
    if path.startswith("/fast"):
        return 200, rng.uniform(0.0, 0.004)
    if path.startswith("/slow"):
        return (500 if n % 5 == 4 else 200), rng.uniform(0.010, 0.040)
    if path.startswith("/mixed"):
        status = 500 if n % 7 == 6 else 404 if n % 11 == 10 else 200
        return status, rng.uniform(0.0, 0.020)
    if path.startswith("/redirect"):
        return 302, 0.0
    return 404, 0.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log: RequestLog
    counters: dict[str, int]
    rng: random.Random
    state_lock: threading.Lock

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        with self.state_lock:
            n = self.counters.get(path, 0)
            self.counters[path] = n + 1
            status, delay = _plan(path, n, self.rng)
        self.log.add(LoggedRequest(path, status, delay))  # before replying: the client may stop us next
        time.sleep(delay)
        body = b"ok\n" if status < 400 else b"error\n"
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/fast")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # clients closing kept-alive connections at the end of a run are not errors


@dataclass
class RunningServer:
    url: str
    log: RequestLog


@contextmanager
def running_server(seed: int = 7) -> Iterator[RunningServer]:
    """Serve on 127.0.0.1 on a free port until the block ends."""
    log = RequestLog()
    handler = type(
        "Handler",
        (_Handler,),
        {"log": log, "counters": {}, "rng": random.Random(seed), "state_lock": threading.Lock()},
    )
    server = _QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningServer(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

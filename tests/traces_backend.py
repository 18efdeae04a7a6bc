"""A real local HTTP server that answers Tempo/Jaeger API paths with recorded responses (or faults).

Routes map a path to a function of the query parameters returning (status, body); every request is
recorded so tests can check what was asked (TraceQL text, time ranges, fallbacks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Route = Callable[[dict[str, str]], tuple[int, bytes]]


def fixed(body: bytes, status: int = 200) -> Route:
    return lambda params: (status, body)


def slow(seconds: float, body: bytes) -> Route:
    def answer(params: dict[str, str]) -> tuple[int, bytes]:
        time.sleep(seconds)
        return 200, body

    return answer


class TraceBackend:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                backend.requests.append((parts.path, params))
                route = backend.routes.get(parts.path)
                status, body = route(params) if route else (404, b'{"error":"not found"}')
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TraceBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

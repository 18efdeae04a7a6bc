"""A small real HTTP server that plays a misbehaving Prometheus, chosen per query text.

Each query names its behaviour (``ok``, ``flaky``, ``ratelimit``, ``slow``, ``garbage``, ``huge``,
``bad``, ``echo``); the server counts requests per query so tests can check retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


def _success(value: str) -> bytes:
    return json.dumps(
        {
            "status": "success",
            "warnings": ["fake warning"],
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, value]}]},
        }
    ).encode()


class FaultyBackend:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real Prometheus: no spurious disconnects

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                query = form.get("query", [""])[0]
                backend.hits[query] += 1
                backend.seen_headers.append(dict(self.headers))
                backend.respond(self, query, backend.hits[query])

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops concurrent connects (SYN retry after 1 s)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def respond(self, handler: BaseHTTPRequestHandler, query: str, hit: int) -> None:
        send = self.send
        if "flaky" in query:
            if hit <= 2:
                send(handler, 503, b'{"status":"error","errorType":"unavailable","error":"try later"}')
            else:
                send(handler, 200, _success("3"))
        elif "ratelimit_long" in query:
            send(handler, 429, b"slow down", {"Retry-After": "3600"}, "text/plain")
        elif "ratelimit" in query:
            if hit == 1:
                send(handler, 429, b"slow down", {"Retry-After": "1"}, "text/plain")
            else:
                send(handler, 200, _success("4"))
        elif "slow" in query:
            time.sleep(2.0)
            send(handler, 200, _success("5"))
        elif "garbage" in query:
            send(handler, 200, b"<html><body>502 Bad Gateway from a proxy</body></html>", content_type="text/html")
        elif "huge" in query:
            send(
                handler, 200, b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * 300_000 + b"]}}"
            )
        elif "bad" in query:
            send(handler, 400, b'{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}')
        elif "echo" in query:
            echoed = json.dumps(
                {
                    "status": "error",
                    "errorType": "internal",
                    "error": f"denied for {handler.headers.get('Authorization')}",
                }
            ).encode()
            send(handler, 500, echoed)
        else:
            send(handler, 200, _success("1"))

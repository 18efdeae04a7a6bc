"""A small real HTTP server that plays a misbehaving Prometheus, chosen per query text.

Each query names its behaviour (``ok``, ``flaky``, ``ratelimit``, ``slow``, ``garbage``, ``huge``,
``bad``, ``echo``); the server counts requests per query so tests can check retries.

Added for the security and compatibility tests:
- ``echoforms``: a 500 whose error quotes the Authorization header raw, ``repr``-escaped, URL-encoded,
  JSON-escaped and (for Basic) with the decoded ``user:password``, as careless proxies do;
- ``retryneg`` / ``retrynan``: a 429 with ``Retry-After: -5`` / ``nan``, then success on the 3rd try;
- ``reset``: headers and half the body, then a TCP reset (SO_LINGER 0) in the middle of the body;
- ``mimir``: Mimir's multi-tenancy: 401 ``no org id`` without ``X-Scope-OrgID``, else the tenant's value;
- ``thanos``: Thanos' partial responses: a store is down, so with ``partial_response=false`` the query
  fails (422 ``execution``), otherwise it succeeds with the store's error in ``warnings``;
- ``vmpartial``: a VictoriaMetrics cluster answer with ``"isPartial": true``;
- ``hostile``: a label value and a value carrying ``ESC[2J`` and an OSC 8 link; ``hostileerr``: an
  error message carrying them.

Added for ``gatepack push``: a POST to ``/<behaviour>/api/v1/packets`` plays a misbehaving board, chosen by
the path's first segment (``flaky``: 503 twice, then stored; ``refuse``: 422 every time; ``otherdigest``:
stored under a digest that is not the packet's; ``echo``: a 401 whose reason quotes the Authorization header
and carries ``ESC[2J``; anything else: stored). ``posted`` keeps every body.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


def _success(value: str, metric: dict[str, str] | None = None, **extra: object) -> bytes:
    document: dict[str, object] = {
        "status": "success",
        "warnings": ["fake warning"],
        "data": {"resultType": "vector", "result": [{"metric": metric or {}, "value": [1, value]}]},
    }
    document.update(extra)
    return json.dumps(document).encode()


CLEAR_SCREEN = "\x1b[2J"
OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
STORE_DOWN = "receive series from store 10.0.0.7:10901: rpc error: code = Unavailable desc = connection refused"


class FaultyBackend:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        self.seen_forms: list[dict[str, str]] = []
        self.posted: list[bytes] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real Prometheus: no spurious disconnects

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                if self.path.endswith("/api/v1/packets"):
                    backend.hits[self.path] += 1
                    backend.seen_headers.append(dict(self.headers))
                    backend.posted.append(self.rfile.read(length))
                    backend.board(self, self.path.strip("/").split("/")[0], backend.hits[self.path])
                    return
                form = parse_qs(self.rfile.read(length).decode())
                query = form.get("query", [""])[0]
                backend.hits[query] += 1
                backend.seen_headers.append(dict(self.headers))
                backend.seen_forms.append({k: v[0] for k, v in form.items()})
                backend.respond(self, query, backend.hits[query], form)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops concurrent connects (SYN retry after 1 s)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:  # an HTTPS backend: a client that does not trust the certificate never gets a request in
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
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

    def board(self, handler: BaseHTTPRequestHandler, behaviour: str, hit: int) -> None:
        """A ``POST /api/v1/packets`` answered as ``behaviour`` says; a stored answer names the posted digest."""
        if behaviour == "flaky" and hit <= 2:
            self.send(handler, 503, b'{"error": "the store is busy"}')
            return
        if behaviour == "echo":
            reason = f"token {handler.headers.get('Authorization')} is not ours{CLEAR_SCREEN}"
            self.send(handler, 401, json.dumps({"error": reason}).encode())
            return
        if behaviour == "refuse":
            self.send(handler, 422, b'{"error": "the packet does not match the evidence schema: verdict: bad"}')
            return
        upload = json.loads(self.posted[-1])
        digest = json.loads(upload["packet"])["digest"]["value"]
        if behaviour == "otherdigest":
            digest = "0" * 64
        answer = {"digest": digest, "new": True, "verdict": "pass", "responses_added": len(upload["responses"])}
        self.send(handler, 201, json.dumps(answer).encode())

    @staticmethod
    def reset_mid_body(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """Promise the whole body, send half of it, then reset the connection (RST, not a clean FIN)."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        connection: socket.socket = handler.connection  # type: ignore[assignment]
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
        handler.close_connection = True

    def respond_extra(self, handler: BaseHTTPRequestHandler, query: str, hit: int, form: dict[str, list[str]]) -> bool:
        """The behaviours added for security and compatibility tests; False when ``query`` names none."""
        send = self.send
        if "echoforms" in query:
            auth = handler.headers.get("Authorization") or ""
            forms = [auth, repr(auth.encode()), urllib.parse.quote(auth, safe=""), json.dumps(auth)]
            scheme, _, credential = auth.partition(" ")
            if scheme == "Basic":
                forms.append(base64.b64decode(credential).decode("utf-8", "replace"))
            error = "denied: " + " | ".join(forms)
            send(handler, 500, json.dumps({"status": "error", "errorType": "internal", "error": error}).encode())
        elif "retryneg" in query or "retrynan" in query:
            if hit <= 2:
                send(handler, 429, b"slow down", {"Retry-After": "-5" if "neg" in query else "nan"}, "text/plain")
            else:
                send(handler, 200, _success("6"))
        elif "reset" in query:
            self.reset_mid_body(handler, _success("7", {"padding": "x" * 4000}))
        elif "mimir" in query:
            tenant = handler.headers.get("X-Scope-OrgID")
            if not tenant:
                send(handler, 401, b"no org id\n", content_type="text/plain")
            else:
                value = {"team-a": "11", "team-b": "22"}.get(tenant, "0")
                send(handler, 200, _success(value))
        elif "thanos" in query:
            if form.get("partial_response", [""])[0] == "false":
                error = {"status": "error", "errorType": "execution", "error": STORE_DOWN}
                send(handler, 422, json.dumps(error).encode())
            else:
                body = {
                    "status": "success",
                    "warnings": [STORE_DOWN],
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "8"]}]},
                }
                send(handler, 200, json.dumps(body).encode())
        elif "vmpartial" in query:
            send(handler, 200, _success("9", isPartial=True))
        elif "hostileerr" in query:
            error = {"status": "error", "errorType": "internal", "error": f"boom{CLEAR_SCREEN}{OSC8_LINK}"}
            send(handler, 500, json.dumps(error).encode())
        elif "hostile" in query:
            # two series, so the reason lists their labels (the path a label value takes to a screen)
            series = [{"metric": {"service": f"api{CLEAR_SCREEN}{OSC8_LINK}"}, "value": [1, "1"]}]
            series.append({"metric": {"service": "[link=https://evil.example/]web[/link]"}, "value": [1, "2"]})
            body = {"status": "success", "data": {"resultType": "vector", "result": series}}
            send(handler, 200, json.dumps(body).encode())
        else:
            return False
        return True

    def respond(
        self, handler: BaseHTTPRequestHandler, query: str, hit: int, form: dict[str, list[str]] | None = None
    ) -> None:
        send = self.send
        if self.respond_extra(handler, query, hit, form or {}):
            return
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

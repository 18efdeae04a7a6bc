"""The ASGI application: the JSON API under /api/v1/, /metrics and the board, over one evidence store.

Reads need the read token when one is configured; without one they are answered only to loopback clients.
Writes always need the write token (no token configured: writes are refused). Store calls are synchronous
SQLAlchemy, so they run in Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.server import board, upload
from collector.server.auth import Tokens, bearer, is_loopback, matches
from collector.server.evaluate import (
    FORMATS,
    EvaluationRefused,
    Evaluator,
    answer_body,
    decision_for,
    parse_request,
    status_for,
)
from collector.server.intake import MAX_BODY_BYTES, Rejected, check_packet
from collector.server.matrix import matrix_page
from collector.server.metrics import CONTENT_TYPE, ServerMetrics
from collector.server.openapi import openapi_document
from collector.store import EvidenceStore, StoredPacket
from collector.store.store import StoreError
from slo.diff import diff_packets
from slo.dsse import SignatureState, verify_file_bytes
from slo.spec import Gate
from slo.sprints import Calendar

DIGEST_RE = re.compile(r"^(?:sha256:)?[0-9a-f]{8,64}$")
GATE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FILTER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+@-]{0,199}$")
EVALUATE_BODY_BYTES = 64 * 1024
VERDICTS = frozenset({"pass", "warn", "fail", "no_data", "error"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
BOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass
class ServerConfig:
    store: EvidenceStore
    tokens: Tokens = field(default_factory=Tokens)
    trusted_keys: list[Ed25519PublicKey] | None = None
    require_signature: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    evaluator: Evaluator | None = None
    """The gates ``POST /api/v1/gates/{id}/evaluate`` runs and their sources; None: none configured (404)."""
    evaluate_token: bytes | None = field(default=None, repr=False)
    """GATEPACK_EVALUATE_TOKEN: may evaluate gates (and so store their packets) but not post packets."""
    calendar: Calendar | None = None
    """``--sprints``: the sprint calendar the matrix marks due and overdue evidence with."""
    catalog: list[Gate] = field(default_factory=list)
    """The configured gates: the matrix lists them (and their required checks) even before any evidence."""


def problem(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def summary(row: StoredPacket) -> dict[str, Any]:
    return {
        "digest": row.digest,
        "gate": row.gate,
        "environment": row.environment,
        "service": row.service,
        "release": row.release,
        "commit": row.commit,
        "verdict": row.verdict,
        "evaluated_at": row.evaluated_at,
        "key_id": row.key_id,
        "signed": row.envelope is not None,
    }


class Api:
    """The handlers; each reads its configuration from ``self.config``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    # --- access -------------------------------------------------------------------------------------
    def may_read(self, request: Request) -> None:
        expected = self.config.tokens.read
        if expected is None:
            if is_loopback(request.client.host if request.client else None):
                return
            raise HTTPException(401, "reads are open to loopback clients only: configure GATEPACK_READ_TOKEN")
        if not matches(bearer(request.headers.get("authorization")), expected):
            raise HTTPException(401, "a valid read token is required (Authorization: Bearer …)")

    def may_write(self, request: Request) -> None:
        expected = self.config.tokens.write
        if expected is None:
            raise HTTPException(403, "writes are disabled: the server has no GATEPACK_WRITE_TOKEN")
        if not matches(bearer(request.headers.get("authorization")), expected):
            raise HTTPException(401, "a valid write token is required (Authorization: Bearer …)")

    # --- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _digest(text: str) -> str:
        if not DIGEST_RE.fullmatch(text):
            raise HTTPException(400, "a digest is 8 to 64 lowercase hex digits (optionally sha256:…)")
        return text

    @staticmethod
    def _filter(request: Request, name: str) -> str | None:
        value = request.query_params.get(name)
        if value is None or value == "":
            return None
        if name == "verdict" and value not in VERDICTS:
            raise HTTPException(400, f"verdict must be one of {', '.join(sorted(VERDICTS))}")
        if not FILTER_RE.fullmatch(value):
            raise HTTPException(400, f"{name}: unexpected characters")
        return value

    def _get(self, ref: str, **filters: str | None) -> StoredPacket:
        try:
            return self.config.store.get(ref, **filters)
        except StoreError as exc:
            status = 409 if "ambiguous" in str(exc) else 404
            raise HTTPException(status, str(exc)) from None

    # --- endpoints ----------------------------------------------------------------------------------
    async def post_packet(self, request: Request) -> Response:
        self.may_write(request)
        metrics = self.config.metrics
        try:
            posted = await read_limited(request, self.config.max_body_bytes)
            data, kept = await run_in_threadpool(upload.unwrap, posted)  # a packet, or a packet with kept responses
            checked = await run_in_threadpool(
                check_packet, data, self.config.trusted_keys, self.config.require_signature
            )
            strays = upload.unnamed(checked.packet or {}, kept)
            if strays:
                raise Rejected(
                    422, "response_unnamed", f"upload: response {strays[0][:12]}… is not named by the packet"
                )
        except Rejected as exc:
            metrics.rejected.labels(exc.kind).inc()
            return problem(exc.status, exc.reason)
        try:
            recorded = await run_in_threadpool(self.config.store.record, data, kept)
        except StoreError as exc:
            metrics.rejected.labels("store").inc()
            return problem(422, str(exc))
        (metrics.stored if recorded.new else metrics.duplicates).inc()
        body = {
            "digest": recorded.digest,
            "new": recorded.new,
            "verdict": checked.packet["verdict"] if checked.packet else None,
            "signature": checked.signature.state.value,
            "responses_added": recorded.responses_added,
        }
        return JSONResponse(
            body, status_code=201 if recorded.new else 200, headers={"Location": f"/api/v1/packets/{recorded.digest}"}
        )

    async def evaluate(self, request: Request) -> Response:
        """Evaluate a gate now, store its packet, answer the verdict for Argo Rollouts or Flagger."""
        flavour = request.query_params.get("format", "argo")
        if flavour not in FORMATS:
            raise HTTPException(400, "format must be argo or flagger")
        fail_on = request.query_params.get("fail_on", "fail")
        if fail_on not in ("fail", "warn"):
            raise HTTPException(400, "fail_on must be fail or warn")
        gate = request.path_params["gate"]
        if not GATE_RE.fullmatch(gate):
            raise HTTPException(400, "a gate id is letters, digits, '.', '_' or '-' (at most 128)")
        try:
            data = await read_limited(request, EVALUATE_BODY_BYTES)
        except Rejected as exc:
            return problem(exc.status, exc.reason)
        try:
            body = json.loads(data.decode("utf-8")) if data.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise HTTPException(400, "the body must be empty or a JSON object") from None
        self.may_evaluate(request, body if flavour == "flagger" else None)
        evaluator = self.config.evaluator
        try:
            if evaluator is None:
                raise EvaluationRefused(404, "this server evaluates no gates (give gatepack serve --spec or --catalog)")
            wanted = parse_request(body, flavour)
            loaded = evaluator.gate(gate)
            packet, new = await evaluator.evaluate(loaded, wanted, self.config.store)
        except EvaluationRefused as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=exc.headers)
        (self.config.metrics.stored if new else self.config.metrics.duplicates).inc()
        decision = decision_for(packet, fail_on)
        digest = packet.digest.value if packet.digest else ""
        return JSONResponse(
            answer_body(packet, decision, new),
            status_code=status_for(decision, flavour),
            headers={"Location": f"/api/v1/packets/{digest}"},
        )

    def may_evaluate(self, request: Request, flagger_body: Any) -> None:
        """The write token or the evaluate token, from the header or (Flagger sends no headers) ``metadata.token``."""
        allowed = [t for t in (self.config.tokens.write, self.config.evaluate_token) if t is not None]
        if not allowed:
            raise HTTPException(
                403, "evaluation is disabled: the server has no GATEPACK_WRITE_TOKEN or GATEPACK_EVALUATE_TOKEN"
            )
        given = bearer(request.headers.get("authorization"))
        if given is None and isinstance(flagger_body, dict) and isinstance(flagger_body.get("metadata"), dict):
            token = flagger_body["metadata"].get("token")
            given = token.encode("utf-8", "surrogateescape") if isinstance(token, str) and token else None
        if not any(matches(given, expected) for expected in allowed):
            raise HTTPException(401, "a valid write or evaluate token is required (Authorization: Bearer …)")

    def list_packets(self, request: Request) -> Response:
        self.may_read(request)
        limit_text = request.query_params.get("limit", "100")
        if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= 1000:
            raise HTTPException(400, "limit must be a whole number from 1 to 1000")
        rows = self.config.store.find(
            gate=self._filter(request, "gate"),
            environment=self._filter(request, "env"),
            release=self._filter(request, "release"),
            verdict=self._filter(request, "verdict"),
            limit=int(limit_text),
        )
        return JSONResponse({"packets": [summary(r) for r in rows]})

    def get_packet(self, request: Request) -> Response:
        self.may_read(request)
        found = self._get(self._digest(request.path_params["digest"]))
        return Response(found.packet, media_type="application/json")

    def latest(self, request: Request) -> Response:
        self.may_read(request)
        gate = request.path_params["gate"]
        if not GATE_RE.fullmatch(gate):
            raise HTTPException(400, "a gate id is letters, digits, '.', '_' or '-' (at most 128)")
        found = self._get("latest", gate=gate, environment=self._filter(request, "env"))
        return Response(found.packet, media_type="application/json")

    def diff(self, request: Request) -> Response:
        self.may_read(request)
        a, b = request.query_params.get("a"), request.query_params.get("b")
        if not a or not b:
            raise HTTPException(400, "give both a= and b= (digests)")
        before = self._get(self._digest(a)).document()
        after = self._get(self._digest(b)).document()
        return JSONResponse(diff_packets(before, after).to_json())

    def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    def metrics(self, request: Request) -> Response:
        self.may_read(request)
        return Response(self.config.metrics.render(), media_type=CONTENT_TYPE)

    def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # --- board --------------------------------------------------------------------------------------
    def board(self, request: Request) -> Response:
        self.may_read(request)
        layout = request.query_params.get("layout")
        if layout not in (None, "", "environments", "matrix"):
            raise HTTPException(400, "layout must be environments or matrix")
        if layout == "matrix":
            return self.matrix(request)
        env = self._filter(request, "env")
        release = self._filter(request, "release")
        rows = self.config.store.find(environment=env, release=release, limit=5000)
        return HTMLResponse(
            board.overview(rows, env=env, release=release, now=time.time()),
            headers={"Content-Security-Policy": BOARD_CSP},
        )

    def matrix(self, request: Request) -> Response:
        """The runbook's sprint execution matrix (``/matrix``, or ``/?layout=matrix``)."""
        self.may_read(request)
        env = self._filter(request, "env")
        release = self._filter(request, "release")
        rows = self.config.store.find(environment=env, release=release, limit=5000)
        page = matrix_page(self.config.catalog, rows, self.config.calendar, env=env, release=release, now=time.time())
        return HTMLResponse(page, headers={"Content-Security-Policy": BOARD_CSP})

    def packet_page(self, request: Request) -> Response:
        self.may_read(request)
        found = self._get(self._digest(request.path_params["digest"]))
        document = found.document()
        previous = [
            r
            for r in self.config.store.find(gate=found.gate, environment=found.environment, limit=200)
            if r.evaluated_at < found.evaluated_at
        ]
        diff = diff_packets(previous[0].document(), document) if previous else None
        page = board.packet_page(found, document, diff, previous[0].digest if previous else None, self.signature(found))
        return HTMLResponse(page, headers={"Content-Security-Policy": BOARD_CSP})

    def signature(self, found: StoredPacket) -> str:
        """The envelope checked now against the server's trusted keys, in the words ``gatepack verify`` uses."""
        if found.envelope is None:
            return "unsigned"
        checked = verify_file_bytes(found.envelope, self.config.trusted_keys).signature
        if checked.state is SignatureState.VALID:
            return f"signed: key {checked.key_id} (trusted): signature valid"
        return f"signed by key {checked.key_id or '(no key id)'}: {checked.reason}"

    def stylesheet(self, request: Request) -> Response:
        return Response(board.STYLESHEET, media_type="text/css")


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Rejected(413, "size", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(413, "size", f"the body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Rejected(400, "disconnect", "the client went away before the body was complete") from None
    return b"".join(chunks)


def routes(api: Api) -> list[Route]:
    return [
        Route("/", api.board, methods=["GET"], name="board"),
        Route("/matrix", api.matrix, methods=["GET"], name="matrix"),
        Route("/packets/{digest}", api.packet_page, methods=["GET"], name="packet_page"),
        Route("/static/board.css", api.stylesheet, methods=["GET"], name="stylesheet"),
        Route("/healthz", api.healthz, methods=["GET"], name="healthz"),
        Route("/metrics", api.metrics, methods=["GET"], name="metrics"),
        Route("/api/v1/openapi.json", api.openapi, methods=["GET"], name="openapi"),
        Route("/api/v1/packets", api.post_packet, methods=["POST"], name="post_packet"),
        Route("/api/v1/packets", api.list_packets, methods=["GET"], name="list_packets"),
        Route("/api/v1/packets/{digest}", api.get_packet, methods=["GET"], name="get_packet"),
        Route("/api/v1/gates/{gate}/latest", api.latest, methods=["GET"], name="latest"),
        Route("/api/v1/gates/{gate}/evaluate", api.evaluate, methods=["POST"], name="evaluate"),
        Route("/api/v1/diff", api.diff, methods=["GET"], name="diff"),
    ]


class Observe:
    """ASGI middleware: security headers, and each request counted and timed under its route template."""

    def __init__(
        self, app: ASGIApp, metrics: ServerMetrics, table: list[Route], hook: Callable[..., Any] | None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.table = table
        self.hook = hook

    def template(self, scope: Scope) -> str:
        for route in self.table:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.template(scope)
        method = scope["method"]
        status = {"code": 500}
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        span = self.hook(method, route) if self.hook else None
        try:
            if span is not None:
                with span as current:
                    await self.app(scope, receive, sending)
                    current.set_attribute("http.response.status_code", status["code"])
            else:
                await self.app(scope, receive, sending)
        finally:
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return problem(500, "internal error")  # details stay out of the answer (they may name the store URL)


def create_app(config: ServerConfig, span_hook: Callable[..., Any] | None = None) -> ASGIApp:
    """The application over ``config.store``; ``span_hook(method, route)`` opens a span per request."""
    api = Api(config)
    table = routes(api)
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: _http_error,
        Exception: _server_error,
    }
    app = Starlette(routes=table, exception_handlers=handlers)
    return Observe(app, config.metrics, table, span_hook)

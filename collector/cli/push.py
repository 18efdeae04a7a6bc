"""``gatepack push PACKET... --server URL``: publish collected packets, with their kept responses, to a board.

A CI job runs ``gatepack collect`` and then pushes what it wrote to the team's ``gatepack serve``, so the
board shows the release without anyone copying files. The packet travels as the upload object of
``POST /api/v1/packets`` (:mod:`collector.server.upload`): its exact bytes, so a signed envelope stays
signed, and every kept response it names (``collect --keep-responses`` writes them to ``responses/`` beside
the packets), so ``verify --deep`` works against the server's copy too.

Every file is read and checked before anything is sent: a file that is not a sealed packet is exit 2 and
nothing is pushed. Requests go through the HTTP transport the backends use (TLS verified by default,
connection errors and 5xx retried with backoff, 4xx never retried, the token redacted from every message).
The token is the server's write token, from ``GATEPACK_TOKEN`` or the file ``GATEPACK_TOKEN_FILE`` names,
read by the same function that reads the server's own tokens; it is never an option, so it never shows in a
process list or a CI log's echoed command.

stdout has one line per packet that is on the server: gate id, digest, the stored packet's API URL, and
whether it was new. Exit 0 when every packet is there, 1 when the server refused one (4xx, or an answer
for another digest), 3 when it could not be reached (after the retries), 2 on bad input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from collector.cli.common import err
from collector.cli.options import TlsOptions, check_backend_url, positive_seconds, uses
from collector.errors import EXIT_FAIL, EXIT_PASS, EXIT_UNREACHABLE, UsageError
from collector.report.safe import escape_controls

if TYPE_CHECKING:  # httpx and ssl (and asyncio) load only when something is pushed: ``gatepack --help`` stays fast
    import ssl

    import httpx

    from collector.sources.http import HttpConfig

TOKEN_VARIABLE = "GATEPACK_TOKEN"
PACKETS_PATH = "/api/v1/packets"
REFUSALS = frozenset(range(400, 500)) - {429}
"""4xx answers whose body (``{"error": …}``) says why; 429 stays a retried fault, as for every backend."""
HINTS = {
    401: f"is {TOKEN_VARIABLE} the server's GATEPACK_WRITE_TOKEN?",
    413: "raise the server's --max-body, or push with --no-responses",
}


@dataclass(frozen=True)
class Prepared:
    """One packet file, checked and turned into the upload body the server takes."""

    path: Path
    gate: str
    digest: str
    body: bytes
    attached: int
    named: int


@dataclass(frozen=True)
class Outcome:
    """What the server made of one packet: ``stored``/``already`` (on the server), ``refused`` or ``unreached``."""

    state: str
    line: str


def prepare(path: Path, responses: Path | None, attach: bool) -> Prepared:
    """Read ``path`` as a sealed packet (plain or DSSE envelope) and build its upload; bad input is exit 2."""
    from collector.server.upload import build_upload, kept_responses
    from collector.sinks.responses import RESPONSES_DIR
    from slo.dsse import verify_file_bytes
    from slo.wire import response_digests

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    checked = verify_file_bytes(data)
    document = checked.packet
    if not isinstance(document, dict) or not isinstance(document.get("digest"), dict):
        raise UsageError(f"{path}: not an evidence packet: {checked.digest.reason or 'no digest'}")
    if not checked.digest.ok:
        raise UsageError(f"{path}: not a sealed packet: {checked.digest.reason}")
    gate = document.get("gate")
    gate_id = gate.get("id") if isinstance(gate, dict) else None
    try:
        named = response_digests(document)
    except ValueError as exc:  # a query reference to no table entry: the server would refuse it too
        raise UsageError(f"{path}: {exc}") from None
    try:
        kept = kept_responses(document, responses or path.parent / RESPONSES_DIR) if attach else {}
        body = build_upload(data, kept)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read a kept response: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    return Prepared(path, str(gate_id or "?"), str(document["digest"]["value"]), body, len(kept), len(named))


def server_config(url: str, tls: TlsOptions, timeout: float, retries: int) -> HttpConfig:
    """The transport settings for the board: its URL, the write token from the environment, TLS, retries."""
    from collector.server.auth import token_from_env
    from collector.sources.http import HttpConfig

    check_backend_url(url, "--server")
    per_request = positive_seconds(timeout, "--timeout")
    token = token_from_env(TOKEN_VARIABLE)
    if token is None:
        raise UsageError(f"no token: set {TOKEN_VARIABLE} or {TOKEN_VARIABLE}_FILE to the server's write token")
    return HttpConfig(
        url=url,
        bearer_token=token.decode("utf-8"),
        verify=tls.verify(),
        timeout=per_request,
        deadline=per_request * (retries + 1) + 60.0,  # every attempt and its backoff, per packet
        concurrency=1,
        max_retries=retries,
    )


def ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """``HttpConfig.verify`` as the inner transport takes it; an unusable ``--ca-file`` is exit 2 now."""
    import ssl

    if not isinstance(verify, str):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"--ca-file {verify}: not a readable CA bundle: {reason}") from None


def env_proxy(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, either case;
    ``NO_PROXY`` exempts), so a push goes out the way the backend requests do (httpx reads them for those)."""
    from urllib.parse import urlsplit

    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    found = {k.lower(): v for k, v in env.items() if k.lower().endswith("_proxy") and v}
    if exempt(parts.hostname or "", found.get("no_proxy", "")):
        return None
    return found.get(f"{parts.scheme}_proxy") or found.get("all_proxy")


def exempt(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, the host itself, a parent domain (``example.com`` or
    ``.example.com``), or a network (``10.0.0.0/8``) holding the host's address."""
    import ipaddress

    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        name = entry.lstrip(".")
        if entry == "*" or (name and (host == name or host.endswith(f".{name}"))):
            return True
        try:
            if "/" in entry and ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # not an address and a network: only names can match
    return False


def json_body_transport(body: bytes, verify: bool | ssl.SSLContext, proxy: str | None) -> httpx.AsyncBaseTransport:
    """An httpx transport that sends ``body`` (an upload) as the JSON body of the POST it forwards.

    :class:`~collector.sources.http.HttpTransport` sends forms (what Prometheus takes) and the board takes
    JSON; this keeps everything else the transport does (retries, timeouts, redaction, bounded reads) and
    swaps only the body. It is the whole connection: httpx ignores the client's ``verify`` and the
    environment's proxies once a transport is given, so both are set here: TLS from the same ``verify``,
    the proxy from ``proxy`` (see :func:`env_proxy`).
    """
    import httpx

    class JsonBody(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport(verify=verify, proxy=proxy)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            drop = (b"content-type", b"content-length")
            headers = [(k, v) for k, v in request.headers.raw if k.lower() not in drop]
            headers.append((b"Content-Type", b"application/json"))
            sent = httpx.Request(
                request.method, request.url, headers=headers, content=body, extensions=request.extensions
            )
            return await self.inner.handle_async_request(sent)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return JsonBody()


def server_reason(body: bytes | None) -> str:
    """The server's one-line reason: ``{"error": …}`` from the board, else the body's first line, bounded."""
    if not body:
        return "no reason given"
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        text = document["error"]
    else:
        text = body.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    return (lines[0] if lines else "no reason given")[:300]


async def push_one(item: Prepared, config: HttpConfig, verify: bool | ssl.SSLContext) -> Outcome:
    """POST one upload; the answer becomes one line (stdout when the packet is on the server, else stderr)."""
    from collector.sources.http import HttpTransport

    async with HttpTransport(
        config, transport=json_body_transport(item.body, verify, env_proxy(config.url))
    ) as transport:
        result = await transport.request("POST", PACKETS_PATH, accept=REFUSALS)
        redact = transport.redactor
        where = f"{config.public_url.rstrip('/')}{PACKETS_PATH}"
    if not result.ok:
        tries = f"after {result.attempts} attempt{'s' if result.attempts != 1 else ''}"
        return Outcome("unreached", f"{item.path}: not pushed to {where}: {result.reason} ({tries})")
    status = result.status_code or 0
    if status in REFUSALS:
        reason = redact(server_reason(result.body))
        hint = f" ({HINTS[status]})" if status in HINTS else ""
        return Outcome("refused", f"{item.path}: refused by the server (HTTP {status}): {reason}{hint}")
    try:
        answer = json.loads(result.body or b"")
        digest = str(answer["digest"])
        new = bool(answer["new"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return Outcome("refused", f"{item.path}: HTTP {status} from {where} is not a gatepack server's answer")
    if digest != item.digest:
        return Outcome(
            "refused",
            f"{item.path}: the server stored sha256:{digest}, but the packet's digest is sha256:{item.digest}",
        )
    kept = f"{item.attached} of {item.named} kept responses attached" if item.named else "no kept responses"
    added = answer.get("responses_added")
    if item.attached and isinstance(added, int):
        kept += f", {added} new on the server"
    said = "stored" if new else "already on the server (same digest)"
    line = f"{escape_controls(item.gate)} sha256:{digest} {escape_controls(where)}/{digest} {said}; {kept}"
    return Outcome("stored" if new else "already", line)


async def push_all(
    items: list[Prepared], config: HttpConfig, verify: bool | ssl.SSLContext, said: Callable[[Outcome], None]
) -> list[Outcome]:
    """One packet after another, in the order given; each outcome is said as soon as it is known (CI logs)."""
    outcomes = []
    for item in items:
        outcomes.append(await push_one(item, config, verify))
        said(outcomes[-1])
    return outcomes


def say(outcome: Outcome) -> None:
    """stdout for a packet the server holds (the line scripts read), stderr for one it does not."""
    if outcome.state in ("stored", "already"):
        print(outcome.line, flush=True)
    else:
        err.print(f"error: {outcome.line}", style="bold red")


def exit_code(outcomes: list[Outcome]) -> int:
    """1 when the server refused one (something to fix) over 3 when it was not reached (try again); else 0."""
    states = {o.state for o in outcomes}
    if "refused" in states:
        return EXIT_FAIL
    if "unreached" in states:
        return EXIT_UNREACHABLE
    return EXIT_PASS


@uses(tls=TlsOptions)
def push_command(
    packets: Annotated[
        list[Path], typer.Argument(metavar="PACKET...", help="Packet files (plain or signed) that collect wrote")
    ],
    server: Annotated[
        str, typer.Option("--server", metavar="URL", help="Base URL of the gatepack serve to publish to")
    ],
    responses: Annotated[
        Path | None,
        typer.Option(
            "--responses",
            metavar="DIR",
            help="Folder of kept responses (<sha256>.json.gz); default: responses/ beside each packet",
        ),
    ] = None,
    no_responses: Annotated[
        bool, typer.Option("--no-responses", help="Send the packets without their kept responses")
    ] = False,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Per-request timeout in seconds")] = 30.0,
    retries: Annotated[
        int, typer.Option(min=0, max=10, metavar="N", help="Retries on connection errors, 5xx and 429 (0-10)")
    ] = 3,
    *,
    tls: TlsOptions,
) -> None:
    """Publish packets (and the kept responses they name) to a gatepack serve. Token: GATEPACK_TOKEN[_FILE]."""
    import asyncio

    config = server_config(server, tls, timeout, retries)
    verify = ssl_verify(config.verify)
    items = [prepare(path, responses, not no_responses) for path in packets]  # all checked before any is sent
    outcomes = asyncio.run(push_all(items, config, verify, say))
    raise typer.Exit(exit_code(outcomes))

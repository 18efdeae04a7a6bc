"""One HTTP transport for every backend gatepack reads (Prometheus, Tempo, Jaeger, …).

Everything that makes a request trustworthy as evidence lives here once, so a new backend gets it by
construction: credentials from env or files (added as headers, registered with the redactor), TLS
verified by default, bounded concurrency over one connection pool, transient faults (connect errors,
5xx, 429 with ``Retry-After``) retried with exponential backoff and jitter, a per-request timeout that
covers the whole exchange (a server dripping one byte a second cannot outlast it) and a run deadline,
response bodies read with a size bound and hashed. Faults never raise to the caller: they come back
as an :class:`HttpResult` with a ``fault`` and a redacted reason. Decoding the body is the caller's job.

Tests can pass an ``httpx.MockTransport`` (or any ``httpx.AsyncBaseTransport``) as ``transport``.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import httpx

from collector.sources.credentials import is_secret_header
from collector.sources.redact import Redactor, redact_url
from slo.results import Fault

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

CONNECT, TIMEOUT, READ, PROTOCOL, HTTP, TOO_LARGE, DEADLINE = (
    Fault.CONNECT,
    Fault.TIMEOUT,
    Fault.READ,
    Fault.PROTOCOL,
    Fault.HTTP,
    Fault.TOO_LARGE,
    Fault.DEADLINE,
)
"""Transport faults. ``connect`` alone means the backend was never reached; a reset mid-body is ``read``."""


@dataclass(frozen=True)
class HttpConfig:
    """How to reach one HTTP backend. Secrets come from env or files, never specs."""

    url: str
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify: bool | str = True
    timeout: float = 30.0
    deadline: float = 300.0
    concurrency: int = 8
    max_retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @property
    def public_url(self) -> str:
        return redact_url(self.url)

    @property
    def public_headers(self) -> dict[str, str]:
        """The extra headers that are not credentials, for the evidence (a tenant id says whose data it is)."""
        return {k: v for k, v in sorted(self.headers.items()) if not is_secret_header(k)}


@dataclass
class HttpResult:
    """What one request produced: a body with its status code, or a fault with a reason."""

    status_code: int | None
    body: bytes | None
    sha256: str | None
    attempts: int
    fault: Fault | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


class _Fault(Exception):
    def __init__(
        self, fault: Fault, reason: str, retry: bool, retry_after: float | None = None, body: bytes | None = None
    ) -> None:
        super().__init__(reason)
        self.fault = fault
        self.reason = reason
        self.retry = retry
        self.retry_after = retry_after
        self.body = body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = httpx.URL(url)
    if parts.username or parts.password:
        return str(parts.copy_with(username=None, password=None)), (parts.username, parts.password)
    return url, None


def short_error(exc: BaseException) -> str:
    """The first line of an exception's text, bounded: enough to act on, never a dump."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def api_error(body: bytes | None) -> str | None:
    """``errorType: error`` from a JSON error body (Prometheus and most Go APIs), when there is one."""
    if not body:
        return None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None


class HttpTransport:
    """Requests to one backend; use as ``async with HttpTransport(config) as t: await t.request(...)``.

    ``accept`` names the non-2xx status codes whose body the caller decodes itself (Prometheus answers
    a bad query with 400 and a JSON error; Jaeger answers "nothing found" with 404). Other 4xx are
    faults without retry; 5xx and 429 are retried.
    """

    def __init__(
        self,
        config: HttpConfig,
        redactor: Redactor | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        error_detail: Callable[[bytes | None], str | None] = api_error,
    ) -> None:
        base_url, userinfo = _split_userinfo(config.url)
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.redactor = redactor or Redactor()
        self._error_detail = error_detail
        auth = config.basic_auth or userinfo
        # only credentials are secret: a tenant id (X-Scope-OrgID) is configuration and stays readable
        secret_headers = [v for k, v in config.headers.items() if is_secret_header(k)]
        # "Authorization: Bearer abc" as a --header: the credential is also the part after the scheme
        self.redactor.add(config.bearer_token, *secret_headers, *(v.split()[-1] for v in secret_headers if v.split()))
        if auth:  # the raw parts and the base64 header form of basic auth
            self.redactor.add_basic_auth(*auth)
        headers = {"Accept": "application/json", "User-Agent": "gatepack", **config.headers}
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(*auth) if auth else None,
            headers=headers,
            verify=config.verify,
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency),
            follow_redirects=False,
            transport=transport,
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._deadline = time.monotonic() + config.deadline
        self.requests_sent = 0

    async def __aenter__(self) -> HttpTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def public_url(self) -> str:
        return self.config.public_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> HttpResult:
        """Send one request with retries; the body of any 2xx or ``accept``-ed status comes back."""
        attempts = 0
        last: _Fault | None = None
        async with self._semaphore:
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    reason = "overall deadline exceeded"
                    if last is not None:
                        reason += f" (last attempt: {last.reason})"
                    return HttpResult(
                        None, None, None, attempts, fault=last.fault if last else DEADLINE, reason=self.redactor(reason)
                    )
                attempts += 1
                try:
                    status, body = await self._send(method, path, form, params, accept, remaining)
                    return HttpResult(status, body, hashlib.sha256(body).hexdigest(), attempts)
                except _Fault as fault:
                    last = fault
                    sha = hashlib.sha256(fault.body).hexdigest() if fault.body else None
                    if not fault.retry or attempts > self.config.max_retries:
                        return HttpResult(
                            None, fault.body, sha, attempts, fault=fault.fault, reason=self.redactor(fault.reason)
                        )
                    delay = self._backoff(attempts, fault.retry_after)
                    if delay > self._deadline - time.monotonic():
                        reason = f"{fault.reason}; retry in {delay:.1f}s would pass the deadline"
                        return HttpResult(None, None, None, attempts, fault=fault.fault, reason=self.redactor(reason))
                    await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _send(
        self,
        method: str,
        path: str,
        form: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        accept: Collection[int],
        remaining: float,
    ) -> tuple[int, bytes]:
        """One attempt, bounded as a whole by the per-request timeout and what is left of the deadline."""
        budget = min(self.config.timeout, remaining)
        self.requests_sent += 1
        try:
            async with asyncio.timeout(budget):
                return await self._exchange(method, path, form, params, accept, budget)
        except TimeoutError:
            raise _Fault(TIMEOUT, f"timed out: no complete response within {budget:.1f}s", retry=False) from None

    async def _exchange(
        self,
        method: str,
        path: str,
        form: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        accept: Collection[int],
        budget: float,
    ) -> tuple[int, bytes]:
        connected = False
        try:
            # waiting for a pooled connection is bounded by the semaphore and the deadline, not the timeout
            limits = httpx.Timeout(budget, pool=None)
            request = self._client.stream(
                method, self.base_url + path, data=dict(form) if form else None, params=params, timeout=limits
            )
            async with request as response:
                connected = True
                body = await self._read_bounded(response)
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except httpx.TimeoutException as exc:
            connect = isinstance(exc, httpx.ConnectTimeout)
            kind = "connect timeout" if connect else "timed out waiting for the response"
            raise _Fault(CONNECT if connect else TIMEOUT, f"{kind} after {budget:.1f}s", retry=connect) from None
        except httpx.ConnectError as exc:
            raise _Fault(CONNECT, f"cannot connect to {self.public_url}: {short_error(exc)}", retry=True) from None
        except httpx.RemoteProtocolError as exc:
            fault = PROTOCOL if connected else CONNECT
            raise _Fault(fault, f"protocol error from {self.public_url}: {short_error(exc)}", retry=True) from None
        except httpx.TransportError as exc:
            fault = READ if connected else CONNECT
            where = "reading the response from" if connected else "talking to"
            raise _Fault(fault, f"transport error {where} {self.public_url}: {short_error(exc)}", retry=True) from None
        if status == 429:
            raise _Fault(
                HTTP, "HTTP 429 Too Many Requests (rate limited)", retry=True, retry_after=retry_after, body=body
            )
        if status >= 500:
            detail = self._error_detail(body)
            reason = f"HTTP {status}" + (f": {detail}" if detail else "")
            raise _Fault(HTTP, reason, retry=True, retry_after=retry_after, body=body)
        if status >= 300 and status not in accept:
            detail = self._error_detail(body)
            raise _Fault(HTTP, f"HTTP {status}" + (f": {detail}" if detail else ""), retry=False, body=body)
        return status, body

    async def _read_bounded(self, response: httpx.Response) -> bytes:
        limit = self.config.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _Fault(TOO_LARGE, f"response of {int(declared)} bytes exceeds the {limit}-byte limit", retry=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _Fault(TOO_LARGE, f"response exceeds the {limit}-byte limit", retry=False)
            chunks.append(chunk)
        return b"".join(chunks)

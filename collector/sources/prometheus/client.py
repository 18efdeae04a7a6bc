"""An async client for the Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

It is built for evidence, not dashboards: every query is pinned to one evaluation time, identical
queries in a run are sent once, a bounded number run at once over one connection pool, transient
faults (connect errors, 5xx, 429 with Retry-After) are retried with exponential backoff and jitter,
and the body of every response is size-bounded and hashed so a reviewer can tie a number to the bytes
it came from. Faults never raise to the caller: they come back as a :class:`QueryResponse` with
``status="error"`` and a plain-words reason.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from collector.sources.redact import Redactor, redact_url

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class PrometheusConfig:
    """How to reach one Prometheus-compatible backend. Secrets come from env or files, never specs."""

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


@dataclass
class QueryResponse:
    """What one query produced: data or a reason, plus provenance for the evidence."""

    query: str
    time: float
    status: str  # "ok" or "error"
    result_type: str | None = None
    result: Any = None
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    fault: str | None = None  # connect, timeout, http, bad_data, garbage, too_large, deadline
    response_sha256: str | None = None
    attempts: int = 0
    selected: dict[str, str] | None = None  # set when this answers one member of a grouped query


class _Fault(Exception):
    def __init__(
        self, fault: str, reason: str, retry: bool, retry_after: float | None = None, body: bytes | None = None
    ) -> None:
        super().__init__(reason)
        self.fault = fault
        self.reason = reason
        self.retry = retry
        self.retry_after = retry_after
        self.body = body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
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


class PrometheusClient:
    """Use as ``async with PrometheusClient(config) as client: await client.instant(q, t)``."""

    def __init__(self, config: PrometheusConfig, redactor: Redactor | None = None) -> None:
        base_url, userinfo = _split_userinfo(config.url)
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.redactor = redactor or Redactor()
        auth = config.basic_auth or userinfo
        self.redactor.add(config.bearer_token, *(auth or ()), *config.headers.values())
        if auth:  # the header form of basic auth is a credential too
            self.redactor.add(base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
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
        )
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._cache: dict[tuple[str, str, float], asyncio.Task[QueryResponse]] = {}
        self._deadline = time.monotonic() + config.deadline
        self.requests_sent = 0
        self.on_body: Callable[[str, bytes], None] | None = None  # sees every body read: (sha256, bytes)

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def public_url(self) -> str:
        return self.config.public_url

    def instant(self, query: str, at: float) -> asyncio.Task[QueryResponse]:
        """Instant query at ``at`` (Unix seconds); the same query and time share one request."""
        key = ("query", query, at)
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(
                self._request("/api/v1/query", {"query": query, "time": _fmt_time(at)}, query, at)
            )
            self._cache[key] = task
        return task

    async def query_range(self, query: str, start: float, end: float, step: float) -> QueryResponse:
        params = {"query": query, "start": _fmt_time(start), "end": _fmt_time(end), "step": f"{step:g}"}
        return await self._request("/api/v1/query_range", params, query, end)

    async def check_syntax(self, query: str) -> QueryResponse:
        """Ask the server to parse ``query`` without relying on it returning data.

        Newer servers have ``/api/v1/parse_query``; older ones evaluate the query at the Unix epoch,
        where no data exists, so only a parse or type error can come back.
        """
        response = await self._request("/api/v1/parse_query", {"query": query}, query, 0.0)
        if response.status == "error" and response.fault == "http" and "404" in (response.reason or ""):
            return await self._request("/api/v1/query", {"query": query, "time": "1"}, query, 1.0)
        return response

    async def _request(self, path: str, form: dict[str, str], query: str, at: float) -> QueryResponse:
        attempts = 0
        last: _Fault | None = None
        async with self._semaphore:
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    reason = "overall deadline exceeded"
                    if last is not None:
                        reason += f" (last attempt: {last.reason})"
                    return QueryResponse(
                        query, at, "error", reason=reason, fault=last.fault if last else "deadline", attempts=attempts
                    )
                attempts += 1
                try:
                    body = await self._post(path, form, min(self.config.timeout, remaining))
                    return self._decode(body, query, at, attempts)
                except _Fault as fault:
                    last = fault
                    if not fault.retry or attempts > self.config.max_retries:
                        sha = hashlib.sha256(fault.body).hexdigest() if fault.body else None
                        if sha and self.on_body is not None:
                            self.on_body(sha, fault.body)
                        return QueryResponse(
                            query,
                            at,
                            "error",
                            reason=self.redactor(fault.reason),
                            fault=fault.fault,
                            attempts=attempts,
                            response_sha256=sha,
                        )
                    delay = self._backoff(attempts, fault.retry_after)
                    if delay > self._deadline - time.monotonic():
                        return QueryResponse(
                            query,
                            at,
                            "error",
                            attempts=attempts,
                            fault=fault.fault,
                            reason=self.redactor(f"{fault.reason}; retry in {delay:.1f}s would pass the deadline"),
                        )
                    await asyncio.sleep(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _post(self, path: str, form: dict[str, str], timeout: float) -> bytes:
        self.requests_sent += 1
        try:
            # waiting for a pooled connection is bounded by the semaphore and the deadline, not the timeout
            limits = httpx.Timeout(timeout, pool=None)
            async with self._client.stream("POST", self.base_url + path, data=form, timeout=limits) as response:
                body = await self._read_bounded(response)
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except httpx.TimeoutException as exc:
            connect = isinstance(exc, httpx.ConnectTimeout)
            kind = "connect timeout" if connect else "timed out waiting for the response"
            raise _Fault("connect" if connect else "timeout", f"{kind} after {timeout:.1f}s", retry=connect) from None
        except httpx.ConnectError as exc:
            raise _Fault("connect", f"cannot connect to {self.public_url}: {_short(exc)}", retry=True) from None
        except httpx.TransportError as exc:
            raise _Fault(
                "connect", f"transport error talking to {self.public_url}: {_short(exc)}", retry=True
            ) from None
        if status == 429:
            raise _Fault(
                "http", "HTTP 429 Too Many Requests (rate limited)", retry=True, retry_after=retry_after, body=body
            )
        if status >= 500:
            detail = _api_error(body)
            raise _Fault(
                "http",
                f"HTTP {status}" + (f": {detail}" if detail else ""),
                retry=True,
                retry_after=retry_after,
                body=body,
            )
        if status >= 300 and status not in (400, 422):
            detail = _api_error(body)
            raise _Fault("http", f"HTTP {status}" + (f": {detail}" if detail else ""), retry=False, body=body)
        return body

    async def _read_bounded(self, response: httpx.Response) -> bytes:
        limit = self.config.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _Fault("too_large", f"response of {int(declared)} bytes exceeds the {limit}-byte limit", retry=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _Fault("too_large", f"response exceeds the {limit}-byte limit", retry=False)
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, body: bytes, query: str, at: float, attempts: int) -> QueryResponse:
        sha = hashlib.sha256(body).hexdigest()
        if self.on_body is not None:
            self.on_body(sha, body)
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            preview = body[:80].decode("utf-8", "replace")
            document = None
            garbage = f"backend answered with a non-JSON body: {preview!r}"
        else:
            garbage = "backend answered JSON that is not a Prometheus API response"
        if not isinstance(document, dict) or "status" not in document:
            return QueryResponse(
                query,
                at,
                "error",
                fault="garbage",
                response_sha256=sha,
                attempts=attempts,
                reason=self.redactor(garbage),
            )
        warnings = [str(w) for w in document.get("warnings") or []] + [str(w) for w in document.get("infos") or []]
        if document["status"] != "success":
            error_type = document.get("errorType", "error")
            reason = f"{error_type}: {document.get('error', 'unknown error')}"
            return QueryResponse(
                query,
                at,
                "error",
                fault="bad_data",
                reason=self.redactor(reason),
                response_sha256=sha,
                attempts=attempts,
                warnings=warnings,
            )
        data = document.get("data")
        if not isinstance(data, dict):
            # parse_query answers with the syntax tree; anything else without data is malformed
            return QueryResponse(query, at, "ok", response_sha256=sha, attempts=attempts, warnings=warnings)
        return QueryResponse(
            query,
            at,
            "ok",
            result_type=data.get("resultType"),
            result=data.get("result"),
            response_sha256=sha,
            attempts=attempts,
            warnings=warnings,
        )


def _fmt_time(at: float) -> str:
    return f"{at:.3f}".rstrip("0").rstrip(".")


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _api_error(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None


@dataclass(frozen=True)
class Reduced:
    """An instant-query result reduced to one number (or the reason it could not be)."""

    status: str  # ok, no_data, error
    value: float | None
    series: int
    reason: str | None = None


def reduce_to_number(response: QueryResponse) -> Reduced:
    """One number from an instant query: a scalar, or a vector with exactly one series."""
    if response.status != "ok":
        return Reduced("error", None, 0, response.reason)
    kind, result = response.result_type, response.result
    try:
        if kind == "scalar":
            return _finite(float(result[1]), 1)
        if kind == "vector":
            if not result:
                return Reduced("no_data", None, 0, f"no series matched: {response.query}")
            if len(result) > 1:
                labels = ", ".join(_labels(s.get("metric", {})) for s in result[:3])
                return Reduced(
                    "error",
                    None,
                    len(result),
                    f"query returned {len(result)} series ({labels}{', …' if len(result) > 3 else ''}); "
                    "aggregate it to one (sum, max, …)",
                )
            sample = result[0]
            if "value" not in sample:
                return Reduced("error", None, 1, "native histogram results cannot be compared with a target")
            return _finite(float(sample["value"][1]), 1)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError):
        return Reduced("error", None, 0, "malformed result in the backend's response")
    return Reduced("error", None, 0, f"result type {kind!r} cannot be reduced to one number")


def _finite(value: float, series: int) -> Reduced:
    if math.isnan(value):
        return Reduced("no_data", None, series, "result is NaN (0/0: no events in the window?)")
    if math.isinf(value):
        return Reduced("error", None, series, f"result is {'+' if value > 0 else '-'}Inf")
    return Reduced("ok", value, series)


def _labels(metric: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"

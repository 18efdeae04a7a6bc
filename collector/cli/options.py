"""Option groups shared by the commands, so one flag means one thing everywhere.

A group is a dataclass whose fields are Typer options; :func:`uses` adds a group's options to a
command's signature and hands the command one built group object instead of a dozen loose
parameters. ``collect``, ``ingest`` and ``validate`` read the backend the same way because they use
the same :class:`BackendOptions`, not three hand-kept copies of its flags.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints
from urllib.parse import urlsplit

import typer

from collector.errors import UsageError
from collector.sources.credentials import load_credentials, parse_headers
from collector.timeutil import parse_time

if TYPE_CHECKING:
    from collector.cli.overrides import Override  # the spec model (pydantic) behind it loads in the command

    # httpx and the HTTP transport load only in commands that talk to a backend (``gatepack --help`` stays fast)
    from collector.sources.http import HttpConfig
    from collector.sources.prometheus.context import ContextSettings

F = TypeVar("F", bound=Callable[..., Any])


OptionalSpecs = Annotated[
    list[Path] | None,
    typer.Argument(help="Gate spec YAML files (default: the built-in catalog)", show_default=False, metavar="SPEC..."),
]
"""The spec files every gate-reading command takes (collect, validate, rules, dashboards)."""
GateIds = Annotated[list[str], typer.Option("--gate", "-g", metavar="ID", help="Only these gate ids (repeatable)")]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class FailOn(StrEnum):
    fail = "fail"
    warn = "warn"


@functools.cache
def _group_hints(group: type) -> dict[str, Any]:
    """A group's evaluated annotations, once per process: ``collect`` and ``ingest`` share most groups, and
    evaluating the ``Annotated[..., typer.Option(...)]`` strings is a visible part of every start-up."""
    return get_type_hints(group, include_extras=True)


def uses(**groups: type) -> Callable[[F], F]:
    """Expand each ``name=GroupClass`` into the group's options; the command receives ``name=GroupClass(...)``."""

    def decorate(func: F) -> F:
        own = inspect.signature(func)
        own_hints = get_type_hints(func, include_extras=True)
        params = [p.replace(annotation=own_hints.get(p.name, p.annotation)) for p in own.parameters.values()]
        params = [p for p in params if p.name not in groups]
        members: dict[str, list[str]] = {}
        for name, group in groups.items():
            hints = _group_hints(group)
            fields = dataclasses.fields(group)
            members[name] = [f.name for f in fields]
            for f in fields:
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
                params.append(
                    inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[f.name])
                )

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            for name, group in groups.items():
                kwargs[name] = group(**{m: kwargs.pop(m) for m in members[name]})
            return func(**kwargs)

        wrapper.__signature__ = inspect.Signature(sorted(params, key=_positional_first))  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper  # type: ignore[return-value]

    return decorate


def _positional_first(param: inspect.Parameter) -> int:
    return 0 if param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) else 1


@dataclasses.dataclass
class TlsOptions:
    """How a server's TLS certificate is checked: verified by default, against ``--ca-file`` when given.

    Every command that talks HTTPS takes this group (``BackendOptions`` by inheritance, ``push`` directly),
    so ``--ca-file`` and ``--insecure`` mean the same thing whichever server is on the other end.
    """

    ca_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="CA bundle to verify the server's TLS certificate")
    ] = None
    insecure: Annotated[bool, typer.Option(help="Skip TLS verification (not recommended)")] = False

    def verify(self) -> bool | str:
        """httpx's ``verify``: False with ``--insecure``, the CA bundle's path with ``--ca-file``, else True."""
        return False if self.insecure else (str(self.ca_file) if self.ca_file else True)


@dataclasses.dataclass
class _BackendAddress:
    """Where the Prometheus-compatible backend is and who gatepack is there (the fields before the TLS group)."""

    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus", "-p", metavar="URL", help="Prometheus-compatible base URL (or GATEPACK_PROMETHEUS_URL)"
        ),
    ] = None
    bearer_token_file: Annotated[Path | None, typer.Option(metavar="FILE", help="File holding a bearer token")] = None
    username: Annotated[
        str | None,
        typer.Option(
            metavar="USER", help="Basic-auth user (password from --password-file or GATEPACK_PROMETHEUS_PASSWORD)"
        ),
    ] = None
    password_file: Annotated[Path | None, typer.Option(metavar="FILE", help="File holding the basic-auth password")] = (
        None
    )
    header: Annotated[
        list[str], typer.Option(metavar="'NAME: VALUE'", help="Extra header, e.g. 'X-Scope-OrgID: team-a'")
    ] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BackendOptions(TlsOptions, _BackendAddress):
    """Where the Prometheus-compatible backend is and how to reach it (credentials from env or files).

    The bases put the options in their long-standing order: address and credentials, then TLS, then limits.
    """

    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Per-request timeout in seconds")] = 30.0
    deadline: Annotated[float, typer.Option(metavar="SECONDS", help="Overall deadline in seconds")] = 300.0
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, metavar="N", help="Requests in flight at once (1-256)")
    ] = 8

    def config(self, *, deadline: float | None = None) -> HttpConfig | None:
        """Backend settings from flags and the environment (``GATEPACK_PROMETHEUS_*``); None without a URL."""
        url = self.prometheus or os.environ.get("GATEPACK_PROMETHEUS_URL")
        if not url:
            return None
        check_backend_url(url)
        timeout = positive_seconds(self.timeout, "--timeout")
        run_deadline = positive_seconds(self.deadline if deadline is None else deadline, "--deadline")
        from collector.sources.http import HttpConfig

        creds = load_credentials(os.environ, self.bearer_token_file, self.password_file, self.username)
        verify = self.verify()
        return HttpConfig(
            url=url,
            bearer_token=creds.bearer_token,
            basic_auth=creds.basic_auth,
            headers=parse_headers(self.header),
            verify=verify,
            timeout=timeout,
            deadline=run_deadline,
            concurrency=self.concurrency,
        )


MAX_SECONDS = 7 * 86400.0
"""A week: longer than any sane request or run, short enough that asyncio's timers stay exact."""


def positive_seconds(value: float, option: str) -> float:
    """``value`` when it is a usable number of seconds; a usage error otherwise.

    A negative timeout made every request time out at once ("no backend reachable" against a healthy
    server), and ``nan`` compared false with everything, so both are refused here, before any request.
    """
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"invalid {option} {value!r}: give a positive number of seconds")
    if value > MAX_SECONDS:
        raise UsageError(f"invalid {option} {value!r}: at most {MAX_SECONDS:.0f} seconds (a week)")
    return value


def check_backend_url(url: str, flag: str = "--prometheus") -> None:
    """A usage error naming ``flag`` unless ``url`` is an http(s) URL with a host httpx can connect to."""
    from collector.sources.redact import redact_url  # with logging and base64: not on every start-up

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{flag} must be an http:// or https:// URL, got {redact_url(url)!r}")
    import httpx

    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
        host = parts.hostname
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UsageError(f"invalid {flag} URL {redact_url(url)!r}: {str(exc).splitlines()[0][:120]}") from None
    if not host:
        raise UsageError(f"invalid {flag} URL {redact_url(url)!r}: no host")
    del port


@dataclasses.dataclass(frozen=True)
class TraceTargets:
    """The one trace source a run reads (Tempo, Jaeger or OTLP files) and the price table for cost checks."""

    tempo: HttpConfig | None = None
    jaeger: HttpConfig | None = None
    otlp: tuple[Path, ...] = ()
    pricing: Path | None = None
    max_range: int = 24 * 3600
    limit: int = 1000


def _trace_backend(url: str, flag: str, prefix: str, headers: list[str]) -> HttpConfig:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{flag} must be an http:// or https:// URL, got {url.split('://')[0]!r}")
    from collector.sources.http import HttpConfig

    creds = load_credentials(os.environ, prefix=prefix)
    return HttpConfig(
        url=url, bearer_token=creds.bearer_token, basic_auth=creds.basic_auth, headers=parse_headers(headers)
    )


@dataclasses.dataclass
class TraceOptions:
    """Where trace and ai_cost checks read spans from; credentials from GATEPACK_TEMPO_* / GATEPACK_JAEGER_*."""

    tempo: Annotated[
        str | None, typer.Option("--tempo", metavar="URL", help="Grafana Tempo base URL (or GATEPACK_TEMPO_URL)")
    ] = None
    jaeger: Annotated[
        str | None, typer.Option("--jaeger", metavar="URL", help="Jaeger query base URL (or GATEPACK_JAEGER_URL)")
    ] = None
    otlp: Annotated[
        list[Path], typer.Option("--otlp", metavar="FILE", help="OTLP JSON (lines) file, gzip accepted; repeatable")
    ] = dataclasses.field(default_factory=list)
    traces: Annotated[
        str | None,
        typer.Option("--traces", metavar="KIND:WHERE", help="One trace source as otlp:FILE, tempo:URL or jaeger:URL"),
    ] = None
    pricing: Annotated[
        Path | None,
        typer.Option("--pricing", metavar="FILE", help="GenAI price table: gatepack YAML, LiteLLM or Langfuse JSON"),
    ] = None
    trace_header: Annotated[
        list[str],
        typer.Option(
            "--trace-header", metavar="'NAME: VALUE'", help="Extra header for Tempo/Jaeger, e.g. 'X-Scope-OrgID: a'"
        ),
    ] = dataclasses.field(default_factory=list)
    tempo_max_range: Annotated[
        str,
        typer.Option(
            metavar="DURATION", help="Longest range Tempo answers in one metrics query; longer windows are split"
        ),
    ] = "24h"
    trace_limit: Annotated[
        int, typer.Option(min=1, metavar="N", help="Traces per search (Tempo limit, Jaeger search depth)")
    ] = 1000

    def targets(self) -> TraceTargets:
        """The configured trace source; more than one is a usage error (a check kind has one source)."""
        from slo.durations import DurationError, parse_duration

        tempo = self.tempo or os.environ.get("GATEPACK_TEMPO_URL")
        jaeger = self.jaeger or os.environ.get("GATEPACK_JAEGER_URL")
        otlp = list(self.otlp)
        if self.traces:
            scheme, sep, target = self.traces.partition(":")
            if not sep or scheme not in {"otlp", "tempo", "jaeger"} or not target:
                raise UsageError(f"--traces {self.traces!r}: use otlp:FILE, tempo:URL or jaeger:URL")
            if scheme == "otlp":
                otlp.append(Path(target))
            elif scheme == "tempo":
                tempo = target
            else:
                jaeger = target
        if sum(bool(x) for x in (tempo, jaeger, otlp)) > 1:
            raise UsageError("give one trace source: --tempo, --jaeger or --otlp (the files can repeat)")
        try:
            max_range = parse_duration(self.tempo_max_range)
        except DurationError as exc:
            raise UsageError(f"--tempo-max-range: {exc}") from None
        return TraceTargets(
            tempo=_trace_backend(tempo, "--tempo", "GATEPACK_TEMPO_", self.trace_header) if tempo else None,
            jaeger=_trace_backend(jaeger, "--jaeger", "GATEPACK_JAEGER_", self.trace_header) if jaeger else None,
            otlp=tuple(otlp),
            pricing=self.pricing,
            max_range=max_range,
            limit=self.trace_limit,
        )


@dataclasses.dataclass
class RunOptions:
    """When the gate is evaluated and with which variable overrides."""

    at: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Evaluation time: RFC 3339, Unix seconds, now or now-1h (default now)"),
    ] = None
    var: Annotated[
        list[str], typer.Option("--var", metavar="NAME=VALUE", help="Override a spec variable (repeatable)")
    ] = dataclasses.field(default_factory=list)
    sets: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="CHECK.FIELD=VALUE",
            help="Override a check's target, warn or objective for this run; recorded in the packet (repeatable)",
        ),
    ] = dataclasses.field(default_factory=list)

    def time(self) -> float:
        return parse_time(self.at)

    def variables(self) -> dict[str, str]:
        return parse_vars(self.var)

    def overrides(self) -> list[Override]:
        from collector.cli.overrides import parse_overrides

        return parse_overrides(self.sets)


@dataclasses.dataclass
class ContextOptions:
    """Whether packets carry a small history per check for charts (``query_range``, at most 200 points)."""

    context: Annotated[
        bool,
        typer.Option(
            "--context/--no-context",
            help="Record a context series per Prometheus check for the board's and reports' charts",
        ),
    ] = True
    context_lookback: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION", help="History to record per check (default: an SLO's period; a day for thresholds)"
        ),
    ] = None

    def settings(self) -> ContextSettings | None:
        """The context settings, or None with ``--no-context``; a bad duration is a usage error."""
        if not self.context:
            return None
        from collector.sources.prometheus.context import ContextSettings
        from slo.durations import DurationError, parse_duration

        if self.context_lookback is None:
            return ContextSettings()
        try:
            return ContextSettings(lookback=parse_duration(self.context_lookback))
        except DurationError as exc:
            raise UsageError(f"--context-lookback {self.context_lookback!r}: {exc}") from None


@dataclasses.dataclass
class SubjectOptions:
    """What the evidence is about; defaults come from CI variables (GITHUB_SHA, CI_COMMIT_SHA, …)."""

    environment: Annotated[str | None, typer.Option(metavar="NAME", help="Subject: environment")] = None
    service: Annotated[str | None, typer.Option(metavar="NAME", help="Subject: service")] = None
    release: Annotated[str | None, typer.Option(metavar="NAME", help="Subject: release (default from CI)")] = None
    commit: Annotated[
        str | None, typer.Option(metavar="SHA", help="Subject: commit (default from CI, e.g. GITHUB_SHA)")
    ] = None


@dataclasses.dataclass
class ReportOptions:
    """Where the packets and the CI reports go, and which verdicts fail the command."""

    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Directory for evidence packets")] = Path(
        "evidence"
    )
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report here")] = None
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            metavar="FILE",
            help='Append a Markdown summary to this file (e.g. "$GITHUB_STEP_SUMMARY")',
        ),
    ] = None
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 on fail only, or on warn too")] = FailOn.fail


@dataclasses.dataclass
class OutputOptions:
    """What is printed on stdout and how much is said on stderr."""

    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output",
            help="stdout: table (plain rows when piped), json (one packet per line: NDJSON for several gates) "
            "or markdown",
        ),
    ] = OutputFormat.table
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no table on stdout")] = False
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print every query sent on stderr")] = False


def parse_vars(values: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --var {value!r}: use name=value")
        result[name.strip()] = content
    return result


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()

"""The ``gatepack`` command line: collect, validate, verify, schema."""

from __future__ import annotations

import asyncio
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from collector.cli import packet_options
from collector.runner import EXIT_UNREACHABLE, EXIT_USAGE, CollectOptions, collect
from collector.sources.credentials import CredentialError, load_credentials, parse_headers
from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.specs import LoadedGate, load_spec_files
from collector.timeutil import TimeError, parse_time
from slo import __version__
from slo.loader import SpecError
from slo.promql.plan import PlanError, plan_check
from slo.schema_export import SCHEMA_FILES, render_schema

app = typer.Typer(
    name="gatepack",
    help="Turn live telemetry into verifiable release-gate evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class FailOn(StrEnum):
    fail = "fail"
    warn = "warn"


class UsageError(Exception):
    """A problem with how gatepack was called; exit code 2, no traceback."""


def parse_vars(values: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"invalid --var {value!r}: use name=value")
        result[name.strip()] = content
    return result


def select_gates(loaded: list[LoadedGate], gate_ids: list[str]) -> list[LoadedGate]:
    if not gate_ids:
        return loaded
    by_id = {g.gate.id: g for g in loaded}
    missing = [g for g in gate_ids if g not in by_id]
    if missing:
        raise UsageError(f"no gate {', '.join(missing)} in the given specs (have: {', '.join(by_id) or 'none'})")
    return [by_id[g] for g in gate_ids]


def prometheus_config(
    url: str | None,
    *,
    bearer_token_file: Path | None = None,
    username: str | None = None,
    password_file: Path | None = None,
    headers: list[str] | None = None,
    ca_file: Path | None = None,
    insecure: bool = False,
    timeout: float = 30.0,
    deadline: float = 300.0,
    concurrency: int = 8,
) -> PrometheusConfig | None:
    """Backend settings from flags and the environment (``GATEPACK_PROMETHEUS_*``); None without a URL."""
    url = url or os.environ.get("GATEPACK_PROMETHEUS_URL")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--prometheus must be an http:// or https:// URL, got {url.split('://')[0]!r}")
    creds = load_credentials(os.environ, bearer_token_file, password_file, username)
    verify: bool | str = False if insecure else (str(ca_file) if ca_file else True)
    return PrometheusConfig(
        url=url,
        bearer_token=creds.bearer_token,
        basic_auth=creds.basic_auth,
        headers=parse_headers(headers or []),
        verify=verify,
        timeout=timeout,
        deadline=deadline,
        concurrency=concurrency,
    )


OptionalSpecs = Annotated[
    list[Path] | None,
    typer.Argument(help="Gate spec YAML files (default: the built-in catalog)", show_default=False),
]
GateIds = Annotated[list[str], typer.Option("--gate", "-g", help="Only these gate ids")]
PrometheusOpt = Annotated[
    str | None, typer.Option("--prometheus", "-p", help="Prometheus-compatible base URL (or GATEPACK_PROMETHEUS_URL)")
]


@app.command("collect")
def collect_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    prometheus: PrometheusOpt = None,
    at: Annotated[str | None, typer.Option(help="Evaluation time: RFC 3339 or Unix seconds (default now)")] = None,
    var: Annotated[list[str], typer.Option("--var", help="Override a spec variable: name=value")] = [],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for evidence packets")] = Path("evidence"),
    output_format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 on fail only, or on warn too")] = FailOn.fail,
    environment: Annotated[str | None, typer.Option(help="Subject: environment")] = None,
    service: Annotated[str | None, typer.Option(help="Subject: service")] = None,
    release: Annotated[str | None, typer.Option(help="Subject: release (default from CI)")] = None,
    commit: Annotated[str | None, typer.Option(help="Subject: commit (default from CI, e.g. GITHUB_SHA)")] = None,
    bearer_token_file: Annotated[Path | None, typer.Option(help="File holding a bearer token")] = None,
    username: Annotated[
        str | None, typer.Option(help="Basic-auth user (password from --password-file or GATEPACK_PROMETHEUS_PASSWORD)")
    ] = None,
    password_file: Annotated[Path | None, typer.Option(help="File holding the basic-auth password")] = None,
    header: Annotated[list[str], typer.Option(help="Extra header, e.g. 'X-Scope-OrgID: team-a'")] = [],
    ca_file: Annotated[Path | None, typer.Option(help="CA bundle to verify the backend's TLS certificate")] = None,
    insecure: Annotated[bool, typer.Option(help="Skip TLS verification (not recommended)")] = False,
    timeout: Annotated[float, typer.Option(help="Per-request timeout in seconds")] = 30.0,
    deadline: Annotated[float, typer.Option(help="Overall deadline in seconds")] = 300.0,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight at once")] = 8,
    loadtest: Annotated[list[Path], typer.Option("--loadtest", help="Load-test result file for loadtest checks")] = [],
    attestations: Annotated[Path | None, typer.Option("--attestations", help="Attestations file")] = None,
    sign: packet_options.SignOpt = None,
    envelope: packet_options.EnvelopeOpt = True,
    keep_responses: packet_options.KeepResponsesOpt = False,
) -> None:
    """Query the backend for every check of the gates and write sealed evidence packets."""
    from collector.catalog import catalog_gates
    from collector.cli.catalog import attestation_options

    loaded = select_gates(load_spec_files(specs), gate) if specs else catalog_gates(gate)
    config = prometheus_config(
        prometheus,
        bearer_token_file=bearer_token_file,
        username=username,
        password_file=password_file,
        headers=header,
        ca_file=ca_file,
        insecure=insecure,
        timeout=timeout,
        deadline=deadline,
        concurrency=concurrency,
    )
    options = CollectOptions(
        at=parse_time(at),
        variables=parse_vars(var),
        prometheus=config,
        out_dir=out,
        output_format=output_format.value,
        fail_on=fail_on.value,
        environment=environment,
        service=service,
        release=release,
        commit=commit,
        show_progress=sys.stderr.isatty(),
    )
    if loadtest:
        from collector.cli.ingest import load_inputs, loadtest_evaluators

        evaluators, inputs = loadtest_evaluators(load_inputs(loadtest, gates=loaded))
        options.evaluators = {**options.evaluators, **evaluators}
        options.inputs = [*options.inputs, *inputs]
    evaluators, inputs = attestation_options(attestations, loaded)
    options.evaluators = {**evaluators, **options.evaluators}
    options.inputs = [*options.inputs, *inputs]
    packet_options.apply(options, sign=sign, envelope=envelope, keep_responses=keep_responses, gates=loaded)
    outcome = collect(loaded, options, console=err)
    if outcome.exit_code == EXIT_UNREACHABLE:
        err.print("no backend was reachable: every query failed to connect", style="bold red")
    raise typer.Exit(outcome.exit_code)


@app.command("validate")
def validate_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    prometheus: PrometheusOpt = None,
    var: Annotated[list[str], typer.Option("--var")] = [],
) -> None:
    """Check specs offline; with --prometheus, the server also parses every query."""
    from collector.catalog import catalog_gates

    loaded = select_gates(load_spec_files(specs), gate) if specs else catalog_gates(gate)
    variables = parse_vars(var)
    problems: list[str] = []
    queries: list[tuple[str, str, str]] = []
    for item in loaded:
        values = {**item.gate.vars, **variables}
        for check in item.gate.checks:
            try:
                queries.extend((item.path, f"{item.gate.id}/{check.id}", p.query) for p in plan_check(check, values))
            except PlanError as exc:
                problems.append(f"{item.path}: {item.gate.id}/{check.id}: {exc}")
    if prometheus and not problems:
        config = prometheus_config(prometheus, deadline=120.0)
        assert config is not None
        problems.extend(asyncio.run(_server_parse(config, queries)))
    for problem in problems:
        err.print(problem)
    if problems:
        raise typer.Exit(EXIT_USAGE)
    checks = sum(len(g.gate.checks) for g in loaded)
    suffix = f", {len({q for *_, q in queries})} queries parsed by {config.public_url}" if prometheus else ""
    err.print(f"ok: {len(loaded)} gate(s), {checks} check(s){suffix}")


async def _server_parse(config: PrometheusConfig, queries: list[tuple[str, str, str]]) -> list[str]:
    async with PrometheusClient(config) as client:
        unique = list(dict.fromkeys(q for *_, q in queries))
        responses = dict(zip(unique, await asyncio.gather(*(client.check_syntax(q) for q in unique)), strict=True))
    problems = []
    for path, name, query in queries:
        response = responses[query]
        if response.status != "ok":
            if response.fault in {"connect", "timeout"}:
                raise typer.Exit(_unreachable(response.reason))
            problems.append(f"{path}: {name}: {response.reason} in: {query}")
    return problems


def _unreachable(reason: str | None) -> int:
    err.print(f"cannot validate against the server: {reason}", style="bold red")
    return EXIT_UNREACHABLE


@app.command("schema")
def schema_command(name: Annotated[str, typer.Argument(help="gate or evidence")] = "gate") -> None:
    """Print the JSON Schema of gate specs or evidence packets."""
    if name not in SCHEMA_FILES:
        raise UsageError(f"unknown schema {name!r}: choose {' or '.join(SCHEMA_FILES)}")
    sys.stdout.write(render_schema(name))


@app.command("version")
def version_command() -> None:
    """Print gatepack's version."""
    print(f"gatepack {__version__}")


import collector.cli.catalog  # noqa: E402  (registers `gates` and `attest` on `app`)
import collector.cli.ingest  # noqa: E402, F401  (registers `ingest` on `app`)
from collector.cli import keygen as _keygen  # noqa: E402
from collector.cli import verify as _verify  # noqa: E402

app.command("verify")(_verify.verify_command)
app.command("keygen")(_keygen.keygen_command)


def main() -> None:
    """Console entry point: foreseeable faults become one clear line and an exit code, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem))
        err.print(f"{len(exc.problems)} problem(s) in the spec", style="bold red")
        sys.exit(EXIT_USAGE)
    except (UsageError, CredentialError, TimeError) as exc:
        err.print(f"error: {exc}", style="bold red")
        sys.exit(EXIT_USAGE)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted: no partial evidence was written")
        sys.exit(130)
    except OSError as exc:
        err.print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", style="bold red")
        sys.exit(EXIT_USAGE)
    except typer.TyperException as exc:  # usage errors from the argument parser
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc.format_message()}")
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

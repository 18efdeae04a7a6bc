"""``gatepack validate``: check specs offline; with a backend, the server parses every query too."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from collector.cli.common import gates_from, plain_line, stderr_console
from collector.cli.options import BackendOptions, GateIds, OptionalSpecs, RunOptions, uses
from collector.errors import EXIT_USAGE, BackendUnreachable

if TYPE_CHECKING:
    from collector.sources.http import HttpConfig

SERVER_PARSE_DEADLINE = 120.0


@uses(backend=BackendOptions, run=RunOptions)
def validate_command(
    specs: OptionalSpecs = None, gate: GateIds = [], *, backend: BackendOptions, run: RunOptions
) -> None:
    """Check specs offline; with --prometheus, the server also parses every query."""
    from slo.planned import planned_queries
    from slo.promql.plan import PlanError  # the PromQL parser loads only in this command

    variables = run.variables()
    loaded = gates_from(specs, gate, variables)
    problems: list[str] = []
    queries: list[tuple[str, str, str]] = []
    for item in loaded:
        values = {**item.gate.vars, **variables}
        for check in item.gate.checks:
            try:
                queries.extend((item.path, f"{item.gate.id}/{check.id}", q) for q in planned_queries(check, values))
            except PlanError as exc:
                problems.append(f"{item.path}: {item.gate.id}/{check.id}: {exc}")
    config = backend.config(deadline=min(backend.deadline, SERVER_PARSE_DEADLINE))
    if config is not None and not problems:
        import asyncio  # only when a server is asked: not part of every start-up

        problems.extend(asyncio.run(_server_parse(config, queries)))
    for problem in problems:
        stderr_console().print(problem)
    if problems:
        raise typer.Exit(EXIT_USAGE)
    checks = sum(len(g.gate.checks) for g in loaded)
    suffix = f", {len({q for *_, q in queries})} queries parsed by {config.public_url}" if config else ""
    plain_line(f"ok: {len(loaded)} gate(s), {checks} check(s){suffix}")


async def _server_parse(config: HttpConfig, queries: list[tuple[str, str, str]]) -> list[str]:
    from collector.sources.prometheus.client import PrometheusClient
    from slo.results import Fault

    async with PrometheusClient(config) as client:
        unique = list(dict.fromkeys(q for *_, q in queries))
        import asyncio

        responses = dict(zip(unique, await asyncio.gather(*(client.check_syntax(q) for q in unique)), strict=True))
    problems = []
    for path, name, query in queries:
        response = responses[query]
        if response.status != "ok":
            if response.fault in {Fault.CONNECT, Fault.TIMEOUT}:
                raise BackendUnreachable(f"cannot validate against the server: {response.reason}")
            problems.append(f"{path}: {name}: {response.reason} in: {query}")
    return problems

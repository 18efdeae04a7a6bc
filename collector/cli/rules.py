"""``gatepack rules``: write Prometheus rules (or a PrometheusRule) generated from gate specs.

The generator is pure (:mod:`slo.generate.rules`); this module only picks the gates (user specs or the
catalog, like ``collect``), applies ``--var`` and writes the file.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from collector.cli.common import err, gates_from
from collector.cli.options import BackendOptions, GateIds, OptionalSpecs, RunOptions, uses
from collector.errors import EXIT_FAIL, EXIT_USAGE, BackendUnreachable

if TYPE_CHECKING:
    from collector.sources.http import HttpConfig


def fail(message: str) -> NoReturn:
    """One unwrapped line (no rich markup: PromQL and regexes are full of brackets), exit 2."""
    err.print(f"error: {message}", style="bold red", markup=False, soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USAGE)


class RulesFormat(StrEnum):
    prometheus = "prometheus"
    prometheus_operator = "prometheus-operator"


@uses(backend=BackendOptions, run=RunOptions)
def rules_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Rules file to write (default stdout)")] = None,
    output_format: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.prometheus,
    runbook: Annotated[
        str, typer.Option(help="Runbook link template for alerts; {gate} and {check} are filled in")
    ] = "docs/gates.md#{gate}",
    name: Annotated[str, typer.Option(help="metadata.name of the PrometheusRule")] = "gatepack-slos",
    namespace: Annotated[str | None, typer.Option(help="metadata.namespace of the PrometheusRule")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Compare with the rules the server runs (-p); exit 1 on drift")
    ] = False,
    *,
    backend: BackendOptions,
    run: RunOptions,
) -> None:
    """Generate Sloth-compatible SLO recording rules and burn-rate alerts from the gate specs."""
    from slo.generate.rules import RuleOptions, RulesError, dump_yaml, prometheus_rule, rules_document

    loaded = gates_from(specs, gate)
    options = RuleOptions(variables=run.variables(), runbook=runbook)
    try:
        document = rules_document([item.gate for item in loaded], options)
    except RulesError as exc:
        fail(str(exc))
    if check:
        config = backend.config()
        if config is None:
            fail("--check needs --prometheus URL (or GATEPACK_PROMETHEUS_URL)")
        _check_drift(document, config)
        return
    if output_format is RulesFormat.prometheus_operator:
        document = prometheus_rule(document, name, namespace)
    text = dump_yaml(document)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    groups = document["groups"] if "groups" in document else document["spec"]["groups"]
    count = sum(len(g["rules"]) for g in groups)
    err.print(f"wrote {count} rules in {len(groups)} groups for {len(loaded)} gate(s) to {out}")


def _check_drift(document: dict[str, Any], config: HttpConfig) -> None:
    """Print every missing, extra or changed rule; exit 1 on drift, 3 when the server cannot be read."""
    from slo.generate.drift import compare

    data = fetch_rules(config)
    drifts = compare(document, data)
    for drift in drifts:
        print(drift)
    expected = sum(len(g["rules"]) for g in document["groups"])
    if drifts:
        err.print(f"drift: {len(drifts)} difference(s) against {config.public_url}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAIL)
    err.print(f"ok: the server runs all {expected} generated rules unchanged", markup=False, highlight=False)


def fetch_rules(config: HttpConfig) -> dict[str, Any]:
    """``/api/v1/rules`` data from the server through the shared transport; errors name the public URL only."""

    async def get() -> Any:
        from collector.sources.http import HttpTransport

        async with HttpTransport(config) as transport:
            return await transport.request("GET", "/api/v1/rules")

    import asyncio  # loaded only when a backend is asked

    reply = asyncio.run(get())
    if not reply.ok or reply.body is None:
        if reply.fault in {"connect", "timeout", "deadline"}:
            raise BackendUnreachable(f"cannot read rules from {config.public_url}: {reply.reason}")
        fail(f"{config.public_url}/api/v1/rules: {reply.reason}")
    try:
        data = json.loads(reply.body)["data"]
        assert isinstance(data, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        fail(f"{config.public_url}/api/v1/rules did not answer Prometheus rules JSON")
    return data

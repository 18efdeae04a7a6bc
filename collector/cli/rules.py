"""``gatepack rules``: write Prometheus rules (or a PrometheusRule) generated from gate specs.

The generator is pure (:mod:`slo.generate.rules`); this module only picks the gates (user specs or the
catalog, like ``collect``), applies ``--var`` and writes the file.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from collector.cli.app import GateIds, OptionalSpecs, err, parse_vars, select_gates
from collector.runner import EXIT_USAGE


def fail(message: str) -> NoReturn:
    """One unwrapped line (no rich markup: PromQL and regexes are full of brackets), exit 2."""
    err.print(f"error: {message}", style="bold red", markup=False, soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USAGE)


class RulesFormat(StrEnum):
    prometheus = "prometheus"
    prometheus_operator = "prometheus-operator"


def rules_command(
    specs: OptionalSpecs = None,
    gate: GateIds = [],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Rules file to write (default stdout)")] = None,
    output_format: Annotated[RulesFormat, typer.Option("--format", "-f")] = RulesFormat.prometheus,
    var: Annotated[list[str], typer.Option("--var", help="Override a spec variable: name=value")] = [],
    runbook: Annotated[
        str, typer.Option(help="Runbook link template for alerts; {gate} and {check} are filled in")
    ] = "docs/gates.md#{gate}",
    name: Annotated[str, typer.Option(help="metadata.name of the PrometheusRule")] = "gatepack-slos",
    namespace: Annotated[str | None, typer.Option(help="metadata.namespace of the PrometheusRule")] = None,
) -> None:
    """Generate Sloth-compatible SLO recording rules and burn-rate alerts from the gate specs."""
    from collector.catalog import catalog_gates
    from collector.specs import load_spec_files
    from slo.generate.rules import RuleOptions, RulesError, dump_yaml, prometheus_rule, rules_document

    loaded = select_gates(load_spec_files(specs), gate) if specs else catalog_gates(gate)
    options = RuleOptions(variables=parse_vars(var), runbook=runbook)
    try:
        document = rules_document([item.gate for item in loaded], options)
    except RulesError as exc:
        fail(str(exc))
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

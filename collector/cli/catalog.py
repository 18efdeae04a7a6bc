"""``gatepack gates`` (the shipped catalog) and ``gatepack attest`` (record a human statement)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from collector.cli import common
from collector.errors import UsageError
from collector.timeutil import parse_time, rfc3339

if TYPE_CHECKING:
    # the spec model (pydantic) loads when a command reads gates, not when ``gatepack --help`` lists commands
    from collector.specs import LoadedGate
    from slo.spec import Check

ATTESTATIONS_HELP = "Attestations file (default ./gatepack-attestations.json)"


SOURCE_OF_KIND = {
    "threshold": "prometheus (--prometheus)",
    "slo": "prometheus (--prometheus)",
    "loadtest": "load-test results (--loadtest / ingest)",
    "tests": "JUnit XML (--tests / ingest)",
    "attestation": "attestations file (gatepack attest)",
    "trace": "traces (--tempo, --jaeger or --otlp)",
    "ai_cost": "traces (--tempo, --jaeger or --otlp) with --pricing",
    "ai_cost:prometheus": "prometheus token usage (--prometheus) with --pricing",
    "rules_drift": "prometheus rules (--prometheus)",
}


def _route(check: Check) -> str:
    """The source key of a check (``ai_cost`` over Prometheus is answered by Prometheus, not traces)."""
    from collector.sources.base import route_kind

    return route_kind(check)


def _target(check: Check) -> str:
    """What a check is held against, in one line: ``< 0.3 (warn 0.25)``, ``99.9 % over 30d``, ``p(95)<100``…"""
    kind = check.kind
    if kind == "slo":
        return f"{check.objective:g} % over {check.period}"  # type: ignore[union-attr]
    if kind == "attestation":
        return f"{check.item} younger than {check.max_age}"  # type: ignore[union-attr]
    if kind == "rules_drift":
        return "running rules match " + ", ".join(check.gates or ["this gate"])  # type: ignore[union-attr]
    threshold = getattr(check, "threshold", None)
    if threshold:
        return str(threshold)
    op, target, warn = getattr(check, "op", None), getattr(check, "target", None), getattr(check, "warn", None)
    metric = getattr(check, "metric", None)
    text = f"{metric + ' ' if kind in ('tests', 'loadtest') and metric else ''}{op.value if op else ''} {target:g}"
    return text + (f" (warn {warn:g})" if warn is not None else "")


def _gate_list(gates: list[LoadedGate]) -> None:
    from collector.cli.output import stdout_is_terminal
    from collector.report.layout import Column, fitted_table, plain_rows

    rows = [
        [g.gate.id, str(len(g.gate.checks)), ",".join(sorted({c.kind for c in g.gate.checks})), g.gate.title]
        for g in gates
    ]
    if not stdout_is_terminal():
        sys.stdout.write(plain_rows(None, rows))
        return
    console = Console()
    columns = [Column("id"), Column("checks", priority=1, justify="right"), Column("kinds", priority=2)]
    columns.append(Column("gate", whole=False))
    table = fitted_table(columns, rows, console.width, title="gatepack gate catalog (details: gatepack gates ID)")
    console.print(table)


def _gate_detail(item: LoadedGate) -> None:
    """One gate: vars with defaults, checks with kind, target and the source that answers them."""
    from collector.cli.output import stdout_is_terminal
    from collector.report.layout import Column, fitted_table, plain_rows

    gate = item.gate
    vars_rows = [[name, value] for name, value in gate.vars.items()]
    check_rows = [
        [c.id, c.kind, _target(c), "required" if c.required else "advisory", SOURCE_OF_KIND.get(_route(c), c.kind)]
        for c in gate.checks
    ]
    if not stdout_is_terminal():
        out = [f"gate {gate.id}: {gate.title} ({item.path})\n"]
        out.append("vars\n" + (plain_rows(["name", "default"], vars_rows) if vars_rows else "(none)\n"))
        out.append("checks\n" + plain_rows(["id", "kind", "target", "required", "source"], check_rows))
        sys.stdout.write("".join(out))
        return
    console = Console()
    console.print(f"{gate.id} · {gate.title} ({item.path})", highlight=False, soft_wrap=True)
    if gate.description:
        console.print(gate.description, highlight=False)
    if vars_rows:
        var_table = fitted_table([Column("var"), Column("default", whole=False)], vars_rows, console.width)
        console.print(var_table)
    columns = [
        Column("check"),
        Column("kind", priority=2),
        Column("target", whole=False),
        Column("required", priority=3),
        Column("source", priority=1, whole=False),
    ]
    console.print(fitted_table(columns, check_rows, console.width))


def gates_command(
    gate_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="Show one gate in full", show_default=False)
    ] = None,
    export: Annotated[bool, typer.Option("--export", help="Print the gate's YAML, to edit as your own spec")] = False,
    spec: Annotated[
        list[Path], typer.Option("--spec", "-s", metavar="FILE", help="Gate spec files instead of the catalog")
    ] = [],
) -> None:
    """List the release gates shipped with gatepack, or show one (use it with `collect --gate ID`)."""
    from collector.catalog import load_catalog
    from collector.specs import load_spec_files

    gates = load_spec_files(spec) if spec else load_catalog()
    if gate_id is None:
        if export:
            raise UsageError("--export needs a gate id: gatepack gates ID --export > my-gate.yaml")
        _gate_list(gates)
        return
    by_id = {g.gate.id: g for g in gates}
    if gate_id not in by_id:
        raise UsageError(f"no gate {gate_id!r} (known: {', '.join(by_id)})")
    item = by_id[gate_id]
    if export:
        sys.stdout.write(_export(item))
        return
    _gate_detail(item)


def _export(item: LoadedGate) -> str:
    """The catalog file as shipped (comments kept) or, from a multi-gate file, the gate as YAML."""
    from collector.cli.common import spec_text

    text = spec_text(item.path)
    from slo.loader import load_gates

    if len(load_gates(text, item.path)) == 1:
        return text
    import yaml

    document = item.gate.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def _check_attestation(gate: str, item: str, spec: list[Path], force: bool) -> None:
    """Unknown gate or item: exit 2 listing the known ones; ``--force`` records an item no check reads yet."""
    from collector.catalog import load_catalog
    from collector.specs import load_spec_files

    gates = {g.gate.id: g.gate for g in (load_spec_files(spec) if spec else load_catalog())}
    if gate not in gates:
        if force:
            return
        raise UsageError(f"no gate {gate!r} (known: {', '.join(gates)}; --force records it anyway)")
    checks = [c for c in gates[gate].checks if c.kind == "attestation"]
    items = [c.item for c in checks]  # type: ignore[attr-defined]
    if item in items or force:
        return
    hint = next((f"; check {c.id!r} reads item {c.item!r}" for c in checks if c.id == item), "")  # type: ignore[attr-defined]
    known = ", ".join(items) or "none"
    raise UsageError(
        f"gate {gate} has no attestation item {item!r}{hint} (items: {known}; --force records an item no check "
        "reads yet)"
    )


def attest_command(
    gate: Annotated[str, typer.Argument(metavar="GATE", help="Gate id, e.g. 00-architecture")],
    item: Annotated[
        str, typer.Argument(metavar="ITEM", help="Attested item, as named in the gate's attestation check")
    ],
    by: Annotated[str, typer.Option("--by", metavar="WHO", help="Who attests (name or e-mail)")],
    link: Annotated[
        str | None, typer.Option("--link", metavar="URL", help="Where the attested document or decision lives")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", metavar="FILE", help="Attach a file: its name and sha256 are recorded")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Free text kept with the statement")
    ] = None,
    at: Annotated[
        str | None, typer.Option(metavar="TIME", help="When (RFC 3339, Unix seconds, now or now-1h; default now)")
    ] = None,
    attestations: Annotated[Path | None, typer.Option("--attestations", metavar="FILE", help=ATTESTATIONS_HELP)] = None,
    spec: Annotated[
        list[Path],
        typer.Option("--spec", "-s", metavar="FILE", help="Gate spec files that define GATE (default: catalog)"),
    ] = [],
    force: Annotated[bool, typer.Option("--force", help="Record an item that no known check reads (yet)")] = False,
) -> None:
    """Record a human attestation that `collect` turns into evidence for the gate's attestation check."""
    from pydantic import ValidationError

    from collector.sinks.files import sha256_file
    from collector.sources.attestations import DEFAULT_PATH, AttestationFileError, append_attestation
    from slo.attestation import AttestationRecord

    _check_attestation(gate, item, spec, force)
    path = attestations or DEFAULT_PATH
    file_sha = None
    if file is not None:
        try:
            file_sha, _ = sha256_file(file)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    moment = parse_time(at) if at else float(int(time.time()))
    try:
        record = AttestationRecord(
            gate=gate,
            item=item,
            by=by,
            at=rfc3339(moment),
            link=link,
            file_name=file.name if file else None,
            file_sha256=file_sha,
            note=note,
        )
        append_attestation(path, record)
    except (ValidationError, AttestationFileError) as exc:
        raise UsageError(str(exc)) from None
    attached = f", file {file.name} sha256:{file_sha}" if file is not None and file_sha else ""
    common.note(f"attested {gate}/{item} by {by} at {record.at}{attached} → {path}")

"""``gatepack import sloth|openslo FILE``: read another tool's SLO specs and write gate specs.

File reading and YAML parsing live here; the conversion is pure (:mod:`slo.imports`). Bad input is one
line naming the file and field, exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from collector.cli.common import err
from collector.errors import EXIT_USAGE


def fail(message: str) -> NoReturn:
    """One unwrapped line (no rich markup: PromQL and regexes are full of brackets), exit 2."""
    err.print(f"error: {message}", style="bold red", markup=False, soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USAGE)


import_app = typer.Typer(help="Import Sloth or OpenSLO specs as gate specs.", no_args_is_help=True)

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Gate spec file to write (default stdout)")]


def read_documents(path: Path) -> list[Any]:
    """Every YAML document of ``path``; a YAML error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text: {exc.reason}")
    import yaml  # only the import commands read YAML: not loaded by ``gatepack --help``

    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"{path}{line}: invalid YAML: {problem}")


def write_gates(gates: list[dict[str, Any]], out: Path | None, source: str) -> None:
    import yaml

    header = f"# Imported by gatepack from {source}; review, then use with `gatepack collect` / `gatepack rules`.\n"
    text = header + "---\n".join(yaml.safe_dump(g, sort_keys=False, allow_unicode=True, width=1000) for g in gates)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    err.print(f"wrote {len(gates)} gate(s) to {out}")


@import_app.command("sloth")
def import_sloth_command(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Sloth spec (prometheus/v1, multi-document, or PrometheusServiceLevel)"),
    ],
    out: OutOpt = None,
    period: Annotated[str, typer.Option(help="SLO period, as Sloth's --default-slo-period")] = "30d",
    windows: Annotated[
        Path | None, typer.Option(help="Sloth AlertWindows file, as Sloth's --slo-period-windows-path")
    ] = None,
) -> None:
    """Import Sloth SLOs; each carries Sloth's own alert windows as explicit `alerting:`."""
    from slo.imports.sloth import ImportError_, import_sloth

    windows_doc = None
    if windows is not None:
        docs = [d for d in read_documents(windows) if d is not None]
        if len(docs) != 1 or not isinstance(docs[0], dict):
            fail(f"{windows}: expected one AlertWindows document")
        windows_doc = docs[0]
    try:
        gates = import_sloth(read_documents(file), str(file), period=period, windows_doc=windows_doc)
    except ImportError_ as exc:
        fail(str(exc))
    write_gates(gates, out, str(file))


def openslo_schemas(root: Path | None) -> dict[str, Any]:
    """The OpenSLO v1 JSON Schema files under ``root`` (or ``$GATEPACK_OPENSLO_SCHEMA_DIR``), by ``$id``."""
    root = root or (
        Path(os.environ["GATEPACK_OPENSLO_SCHEMA_DIR"]) if os.environ.get("GATEPACK_OPENSLO_SCHEMA_DIR") else None
    )
    if root is None:
        fail("give --schema-dir (or GATEPACK_OPENSLO_SCHEMA_DIR): the OpenSLO v1 JSON Schema directory")
    files = sorted(root.rglob("*.json"))
    if not files:
        fail(f"--schema-dir {root}: no *.json schema files")
    schemas: dict[str, Any] = {}
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"cannot read the OpenSLO schema {path}: {exc}")
        schemas[str(data.get("$id", path.name))] = data
    return schemas


@import_app.command("openslo")
def import_openslo_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="OpenSLO v1 YAML (SLO, SLI, DataSource, AlertPolicy, AlertCondition)")
    ],
    out: OutOpt = None,
    schema_dir: Annotated[
        Path | None, typer.Option(help="Directory with the OpenSLO v1 JSON Schema (or GATEPACK_OPENSLO_SCHEMA_DIR)")
    ] = None,
) -> None:
    """Import OpenSLO v1 SLOs (validated against the OpenSLO v1 JSON Schema first)."""
    from slo.imports.openslo import OpenSloError, import_openslo

    schemas = openslo_schemas(schema_dir)
    try:
        gates = import_openslo(read_documents(file), str(file), schemas)
    except OpenSloError as exc:
        fail(str(exc))
    write_gates(gates, out, str(file))

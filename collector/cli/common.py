"""Small pieces every command shares: the stderr console, gate selection, reports beside the packet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from collector.errors import UsageError
from collector.report.safe import SafeConsole
from collector.sinks.files import write_atomic

if TYPE_CHECKING:
    # specs (pydantic, yaml), reports and packets load inside the commands that use them, so that
    # ``gatepack --help`` does not pay for them
    from collector.cli.options import ReportOptions
    from collector.specs import LoadedGate
    from slo.evidence import EvidencePacket

err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
"""stderr: one line per message, never hard-wrapped in the middle of a path or digest; messages quote
backend errors and file contents, so control characters are escaped and markup is never interpreted."""


def select_gates(loaded: list[LoadedGate], gate_ids: list[str]) -> list[LoadedGate]:
    if not gate_ids:
        return loaded
    by_id = {g.gate.id: g for g in loaded}
    missing = [g for g in gate_ids if g not in by_id]
    if missing:
        raise UsageError(f"no gate {', '.join(missing)} in the given specs (have: {', '.join(by_id) or 'none'})")
    return [by_id[g] for g in gate_ids]


def gates_from(specs: list[Path] | None, gate_ids: list[str]) -> list[LoadedGate]:
    """Gates from the spec files, or from the built-in catalog when no file is given."""
    if specs:
        from collector.specs import load_spec_files

        return select_gates(load_spec_files(specs), gate_ids)
    from collector.catalog import catalog_gates

    return catalog_gates(gate_ids)


def write_reports(packets: list[EvidencePacket], report: ReportOptions, extra_markdown: str = "") -> None:
    """JUnit and Markdown next to the packets, when asked for."""
    from collector.report.junit import junit_xml
    from collector.report.table import markdown

    if report.junit is not None:
        _check_target(report.junit, "--junit")
        write_atomic(report.junit, junit_xml(packets))
        err.print(f"junit written: {report.junit}")
    if report.markdown is not None:
        _check_target(report.markdown, "--markdown")
        text = markdown(packets) + ("\n" + extra_markdown if extra_markdown else "")
        append_markdown(report.markdown, text)
        err.print(f"markdown written: {report.markdown}")


def _check_target(path: Path, option: str) -> None:
    if str(path) in ("", "."):
        raise UsageError(
            f"{option} was given an empty path (is the variable you passed, e.g. $GITHUB_STEP_SUMMARY, set?)"
        )
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory: give a file path")


def append_markdown(path: Path, text: str) -> None:
    """$GITHUB_STEP_SUMMARY is appended to by every step (GitHub's contract); other targets are written whole."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and Path(summary).resolve() == path.resolve():
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        return
    write_atomic(path, text.encode("utf-8"))

"""Small pieces every command shares: the stderr console, gate selection, reports beside the packet."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from collector.errors import UsageError
from collector.sinks.files import write_atomic

if TYPE_CHECKING:
    # specs (pydantic, yaml), reports and packets load inside the functions that use them, so that
    # ``gatepack --help`` does not pay for them
    from collector.cli.options import ReportOptions
    from collector.report.safe import SafeConsole
    from collector.specs import LoadedGate
    from slo.evidence import EvidencePacket
    from slo.loader import SpecProblem

    err: SafeConsole
    """stderr: one line per message, never hard-wrapped in the middle of a path or digest; messages quote
    backend errors and file contents, so control characters are escaped and markup is never interpreted.

    Built (and rich imported) the first time a module reads it, through ``__getattr__`` below: ``gatepack
    validate`` reads it only to report problems, and writes its one ``ok`` line with :func:`plain_line`."""


def stderr_console() -> SafeConsole:
    """The console behind ``err``, built on first use (importing rich)."""
    console = globals().get("err")
    if console is None:
        from collector.report.safe import SafeConsole

        console = SafeConsole(stderr=True, highlight=False, soft_wrap=True)
        globals()["err"] = console
    return console  # type: ignore[no-any-return]


def __getattr__(name: str) -> object:
    """``from collector.cli.common import err`` builds the console then (PEP 562), not at this module's import."""
    if name == "err":
        return stderr_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_PLAIN = re.compile(r"[ -~]*")
_EMOJI_LIKE = re.compile(r":\S*?:")


def plain_line(message: str) -> None:
    """``err.print(message)``, without building the console when rich would write the text unchanged.

    That is printable ASCII with no tab and nothing between two colons that could name an emoji; anything
    else (or once the console exists) goes through the console itself. ``tests/test_cli_lazy.py`` compares both.
    """
    if "err" in globals() or not _PLAIN.fullmatch(message) or _EMOJI_LIKE.search(message):
        stderr_console().print(message)
        return
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


_quiet = False


def set_quiet(quiet: bool) -> None:
    """``--quiet``: notes (files written, progress) are dropped; errors are always printed."""
    global _quiet
    _quiet = quiet


def note(message: str) -> None:
    """An informational line on stderr, unless ``--quiet``."""
    if not _quiet:
        stderr_console().print(message)


def select_gates(loaded: list[LoadedGate], gate_ids: list[str]) -> list[LoadedGate]:
    if not gate_ids:
        return loaded
    by_id = {g.gate.id: g for g in loaded}
    missing = [g for g in gate_ids if g not in by_id]
    if missing:
        raise UsageError(f"no gate {', '.join(missing)} in the given specs (have: {', '.join(by_id) or 'none'})")
    return [by_id[g] for g in gate_ids]


def gates_from(
    specs: list[Path] | None, gate_ids: list[str], variables: Mapping[str, str] | None = None
) -> list[LoadedGate]:
    """Gates from the spec files, or from the built-in catalog when no file is given.

    Schema problems and undefined placeholders are raised together, each with file:line; a ``--var``
    that no selected gate uses is a usage error naming the gate's vars (a typo never passes silently).
    """
    from collector.cli.placeholders import undefined_placeholders
    from collector.specs import load_spec_files, read_spec_bytes
    from slo.loader import SpecError, forget_nodes

    variables = variables or {}
    if specs:
        problems: list[SpecProblem] = []
        loaded: list[LoadedGate] = []
        try:
            loaded = load_spec_files(specs, keep_nodes=True)  # the placeholder check walks the same trees
        except SpecError as exc:
            problems.extend(exc.problems)
        try:
            for path in specs:
                try:
                    text = read_spec_bytes(path).decode("utf-8")
                except (SpecError, UnicodeDecodeError):
                    continue  # devices, FIFOs, oversized or unreadable files: already reported by the loader
                problems.extend(undefined_placeholders(text, str(path), variables))
        finally:
            forget_nodes()
        if problems:
            raise SpecError(sorted(set(problems), key=lambda p: (p.source, p.line, p.field)))
        selected = select_gates(loaded, gate_ids)
    else:
        from collector.catalog import catalog_gates

        selected = catalog_gates(gate_ids)
        problems = [
            p
            for text, source in {spec_text(g.path): g.path for g in selected}.items()
            for p in undefined_placeholders(text, source, variables)
        ]
        if problems:
            raise SpecError(problems)
    check_variables(selected, variables)
    return selected


BACKEND_KINDS = frozenset({"threshold", "slo"})
"""Check kinds only a Prometheus-compatible backend can answer."""


def require_backend(gates: list[LoadedGate], have_backend: bool) -> None:
    """A gate with Prometheus checks and no backend is a usage error (exit 2), not a packet full of errors."""
    if have_backend:
        return
    needing = {g.gate.id: sum(c.kind in BACKEND_KINDS for c in g.gate.checks) for g in gates}
    needing = {k: n for k, n in needing.items() if n}
    if needing:
        listing = ", ".join(f"{gate_id} ({n})" for gate_id, n in needing.items())
        raise UsageError(
            f"no --prometheus URL (or GATEPACK_PROMETHEUS_URL) given, but these gates have threshold/slo checks: "
            f"{listing}"
        )


def spec_text(path: str) -> str:
    if path.startswith("catalog:"):
        from importlib import resources

        return resources.files("slo.catalog").joinpath(path.removeprefix("catalog:")).read_text(encoding="utf-8")
    from collector.specs import read_spec_bytes

    return read_spec_bytes(Path(path)).decode("utf-8")


def check_variables(gates: list[LoadedGate], variables: Mapping[str, str]) -> None:
    """Exit 2 on a ``--var`` that none of the gates has or uses, naming the vars they do have."""
    from collector.cli.placeholders import used_names

    if not variables:
        return
    known: dict[str, set[str]] = {}
    for text, _ in {spec_text(g.path): g.path for g in gates}.items():
        for gate_id, names in used_names(text).items():
            known.setdefault(gate_id, set()).update(names)
    for item in gates:
        known.setdefault(item.gate.id, set()).update(item.gate.vars)
    selected = {g.gate.id for g in gates}
    usable = set().union(*(known.get(g, set()) for g in selected))
    unknown = sorted(set(variables) - usable)
    if unknown:
        listing = "; ".join(f"{g}: {', '.join(sorted(known.get(g, set()))) or 'no vars'}" for g in sorted(selected))
        plural = "s" if len(unknown) > 1 else ""
        raise UsageError(f"unknown --var{plural} {', '.join(unknown)} (the gate's vars: {listing})")


def write_reports(packets: list[EvidencePacket], report: ReportOptions, extra_markdown: str = "") -> None:
    """JUnit and Markdown next to the packets, when asked for."""
    from collector.report.junit import junit_xml
    from collector.report.table import markdown

    if report.junit is not None:
        _check_target(report.junit, "--junit")
        write_atomic(report.junit, junit_xml(packets))
        note(f"junit written: {report.junit}")
    if report.markdown is not None:
        _check_target(report.markdown, "--markdown")
        text = markdown(packets) + ("\n" + extra_markdown if extra_markdown else "")
        append_markdown(report.markdown, text)
        note(f"markdown appended: {report.markdown}")


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

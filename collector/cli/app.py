"""The ``gatepack`` application: commands registered explicitly, errors mapped to exit codes in one place.

Commands are registered by name in :data:`COMMANDS` and imported only when used (:mod:`collector.cli.lazy`):
``gatepack --help`` lists them from their one-line summaries, and ``gatepack validate`` imports validate's
module, not collect's, ingest's or the store's.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core
from typer import _click as click  # the click that typer itself builds on (vendored)

from collector.cli import plugins
from collector.cli.lazy import LazyCommand, LazyGroup
from collector.errors import EXIT_USAGE, GatepackError, UsageError
from slo import __version__

if TYPE_CHECKING:
    from collector.report.safe import SafeConsole

_argument_type = typer.core.TyperArgument.display_type_rich


def _argument_type_unless_named(self: typer.core.TyperArgument, ctx: object) -> str | None:
    """An argument with a metavar (``SPEC...``) shows only that, not also ``<list[Path]>`` after it."""
    return None if self.metavar else _argument_type(self, ctx)  # type: ignore[arg-type]


typer.core.TyperArgument.display_type_rich = _argument_type_unless_named  # type: ignore[assignment,method-assign]
_usage_name = typer.core.TyperArgument._usage_display_name


def _usage_name_once(self: typer.core.TyperArgument) -> str:
    """A metavar that already says ``PACKET...`` is not marked repeated twice (``{PACKET...}...``)."""
    name = _usage_name(self)
    return name.removesuffix("...") if self.metavar and self.metavar.endswith("...") else name


typer.core.TyperArgument._usage_display_name = _usage_name_once  # type: ignore[method-assign]


class _ImportGroup(typer.core.TyperGroup):
    """``gatepack import sloth|openslo FILE`` converts specs; ``gatepack import PATH...`` records packets.

    Anything that is not a converter's name is taken as a packet path for the ``packets`` subcommand, so
    the top-level ``import`` the issue names works next to the converters that already own the word.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "packets", self.commands["packets"], args
        return super().resolve_command(ctx, args)


def import_app() -> typer.Typer:
    """``import``'s sub-app: the converters plus ``packets`` (the store's import), registered on first use."""
    from collector.cli import evidence, importer

    if not any(info.name == "packets" for info in importer.import_app.registered_commands):
        importer.import_app.command("packets")(evidence.import_command)  # type: ignore[type-var]
    return importer.import_app


COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "collect",
        "collector.cli.collect:collect_command",
        "Query the backend for every check of the gates and write sealed evidence packets.",
    ),
    LazyCommand(
        "validate",
        "collector.cli.validate:validate_command",
        "Check specs offline; with --prometheus, the server also parses every query.",
    ),
    LazyCommand(
        "ingest",
        "collector.cli.ingest:ingest_command",
        "Decide a gate's load-test (and tests) checks from result files and write a sealed evidence packet.",
    ),
    LazyCommand(
        "verify",
        "collector.cli.verify:verify_command",
        "Recompute the packet's digest and check its signature; exit 1 if it changed or the signature fails.",
    ),
    LazyCommand(
        "keygen",
        "collector.cli.keygen:keygen_command",
        "Generate a signing key: KEY (private, 0600) and KEY.pub; print the key id (sha256 of the public key).",
    ),
    LazyCommand(
        "diff",
        "collector.cli.diff:diff_command",
        "Check by check: verdict flips, values that moved and by how much, new and removed checks, changed queries.",
    ),
    LazyCommand(
        "recheck",
        "collector.cli.recheck:recheck_command",
        "Re-run every recorded query at its recorded time; exit 1 when a value no longer matches.",
    ),
    LazyCommand(
        "report",
        "collector.cli.report:report_command",
        "Write a reviewer report (verdicts, provenance, signature status, charts) of one or more packets.",
    ),
    LazyCommand(
        "schema", "collector.cli.app:schema_command", "Print the JSON Schema of gate specs or evidence packets."
    ),
    LazyCommand(
        "gates",
        "collector.cli.catalog:gates_command",
        "List the release gates shipped with gatepack, or show one (use it with `collect --gate ID`).",
    ),
    LazyCommand(
        "attest",
        "collector.cli.catalog:attest_command",
        "Record a human attestation that `collect` turns into evidence for the gate's attestation check.",
    ),
    LazyCommand("version", "collector.cli.app:version_command", "Print gatepack's version."),
    LazyCommand(
        "demo",
        "collector.cli.demo:demo_command",
        "Run the demo (every catalog gate on a demo Prometheus), or --serve its Prometheus to try commands on.",
    ),
    LazyCommand(
        "rules",
        "collector.cli.rules:rules_command",
        "Generate Sloth-compatible SLO recording rules and burn-rate alerts from the gate specs.",
    ),
    LazyCommand(
        "serve",
        "collector.cli.serve:serve_command",
        "Serve the JSON API (/api/v1/), /metrics and the board. Tokens: GATEPACK_READ_TOKEN[_FILE], "
        "GATEPACK_WRITE_TOKEN[_FILE], GATEPACK_EVALUATE_TOKEN[_FILE].",
    ),
    LazyCommand(
        "push",
        "collector.cli.push:push_command",
        "Publish packets (and the kept responses they name) to a gatepack serve. Token: GATEPACK_TOKEN[_FILE].",
    ),
    # The store's commands at the top level too (issue 14 names them so); `gatepack evidence …` keeps working.
    LazyCommand("list", "collector.cli.evidence:list_command", "Packets in the store, newest evaluation first."),
    LazyCommand("show", "collector.cli.evidence:show_command", "Print one packet (JSON) from the store."),
    LazyCommand(
        "pull",
        "collector.cli.evidence:pull_command",
        "The latest packet of a gate (its envelope when it was signed) into a file, e.g. for `verify`.",
    ),
    LazyCommand(
        "export",
        "collector.cli.evidence:export_command",
        "Every packet (envelope when signed) as GATE-DIGEST.json, kept responses under responses/.",
    ),
    LazyCommand(
        "dashboards",
        "collector.cli.dashboards:dashboards_command",
        "Write one Grafana dashboard per gate plus the gate board; provision the directory or import the files.",
    ),
    LazyCommand(
        "evidence", "collector.cli.evidence:app", "List, show, pull, export and import packets kept in a store."
    ),
    LazyCommand(
        "import",
        "collector.cli.app:import_app",
        "Import Sloth or OpenSLO specs as gate specs.",
        cls=_ImportGroup,
        factory=True,
    ),
)
"""Every top-level command in the order ``--help`` lists them: name, ``module:function`` (or sub-app) and the
first paragraph of its help. ``tests/test_cli_lazy.py`` builds each one and fails when a summary drifts from
the command's own help."""


class GatepackGroup(LazyGroup):
    """The top-level group: :data:`COMMANDS`, each imported when it runs (or its own ``--help`` is shown)."""

    lazy_commands = COMMANDS


app = typer.Typer(
    name="gatepack",
    cls=GatepackGroup,
    help="Turn live telemetry into verifiable release-gate evidence.\n\n"
    "Exit codes: 0 pass (and warn unless --fail-on warn), 1 fail, 2 spec or usage error, 3 no backend reachable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def schema_command(name: Annotated[str, typer.Argument(metavar="NAME", help="gate or evidence")] = "gate") -> None:
    """Print the JSON Schema of gate specs or evidence packets."""
    from slo.schema_export import SCHEMA_FILES, render_schema

    if name not in SCHEMA_FILES:
        raise UsageError(f"unknown schema {name!r}: choose {' or '.join(SCHEMA_FILES)}")
    sys.stdout.write(render_schema(name))


def version_command() -> None:
    """Print gatepack's version."""
    print(f"gatepack {__version__}")


def _print_version(value: bool) -> None:
    if value:
        print(f"gatepack {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """Turn live telemetry into verifiable release-gate evidence.

    Exit codes: 0 pass (and warn unless --fail-on warn), 1 fail, 2 spec or usage error, 3 no backend reachable.
    """


def _err() -> SafeConsole:
    """The stderr console, imported with its first message: ``--help`` and successful runs never load rich here."""
    from collector.cli.common import stderr_console

    return stderr_console()


def main() -> None:
    """Console entry point: foreseeable faults become one clear line and an exit code, never a traceback."""
    plugins.install()
    try:
        code = app(standalone_mode=False)
    except GatepackError as exc:
        from slo.loader import SpecError  # already loaded when a spec was read; not paid by ``--help``

        if isinstance(exc, SpecError):
            for problem in exc.problems:
                _err().print(str(problem))
            _err().print(f"{len(exc.problems)} problem(s) in the spec", style="bold red")
            sys.exit(EXIT_USAGE)
        _err().print(f"error: {exc}", style="bold red")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _err().print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        _err().print("interrupted: no partial evidence was written")
        sys.exit(130)
    except OSError as exc:
        _err().print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", style="bold red")
        sys.exit(EXIT_USAGE)
    except typer.TyperException as exc:  # usage errors from the argument parser
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _err().print(f"error: {exc.format_message()}")
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

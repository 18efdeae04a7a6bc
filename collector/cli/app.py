"""The ``gatepack`` application: commands registered explicitly, errors mapped to exit codes in one place."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import typer.core
from typer import _click as click  # the click that typer itself builds on (vendored)

from collector.cli import (
    catalog,
    collect,
    demo,
    diff,
    evidence,
    importer,
    ingest,
    keygen,
    push,
    recheck,
    report,
    rules,
    serve,
    validate,
    verify,
)
from collector.cli.common import err
from collector.errors import EXIT_USAGE, GatepackError, UsageError
from slo import __version__

_argument_type = typer.core.TyperArgument.display_type_rich


def _argument_type_unless_named(self: typer.core.TyperArgument, ctx: object) -> str | None:
    """An argument with a metavar (``SPEC...``) shows only that, not also ``<list[Path]>`` after it."""
    return None if self.metavar else _argument_type(self, ctx)  # type: ignore[arg-type]


typer.core.TyperArgument.display_type_rich = _argument_type_unless_named  # type: ignore[assignment,method-assign]

app = typer.Typer(
    name="gatepack",
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


COMMANDS = {
    "collect": collect.collect_command,
    "validate": validate.validate_command,
    "ingest": ingest.ingest_command,
    "verify": verify.verify_command,
    "keygen": keygen.keygen_command,
    "diff": diff.diff_command,
    "recheck": recheck.recheck_command,
    "report": report.report_command,
    "schema": schema_command,
    "gates": catalog.gates_command,
    "attest": catalog.attest_command,
    "version": version_command,
    "demo": demo.demo_command,
    "rules": rules.rules_command,
    "serve": serve.serve_command,
    "push": push.push_command,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)  # type: ignore[type-var]
app.add_typer(evidence.app, name="evidence")

# The store's commands at the top level too (issue 14 names them so); `gatepack evidence …` keeps working.
STORE_ALIASES = {
    "list": evidence.list_command,
    "show": evidence.show_command,
    "pull": evidence.pull_command,
    "export": evidence.export_command,
}
for _name, _command in STORE_ALIASES.items():
    app.command(_name)(_command)  # type: ignore[type-var]


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


importer.import_app.command("packets")(evidence.import_command)  # type: ignore[type-var]
app.add_typer(importer.import_app, name="import", cls=_ImportGroup)

from collector.cli import dashboards as _dashboards  # noqa: E402

app.command("dashboards")(_dashboards.dashboards_command)


def main() -> None:
    """Console entry point: foreseeable faults become one clear line and an exit code, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except GatepackError as exc:
        from slo.loader import SpecError  # already loaded when a spec was read; not paid by ``--help``

        if isinstance(exc, SpecError):
            for problem in exc.problems:
                err.print(str(problem))
            err.print(f"{len(exc.problems)} problem(s) in the spec", style="bold red")
            sys.exit(EXIT_USAGE)
        err.print(f"error: {exc}", style="bold red")
        sys.exit(exc.exit_code)
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

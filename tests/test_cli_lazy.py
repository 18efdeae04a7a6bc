"""The lazily registered command table cannot drift from the commands it stands for.

``collector.cli.app.COMMANDS`` lists each command by name, ``module:function`` and a one-line summary so
that ``gatepack --help`` imports none of them. These tests build the same application the ordinary typer
way (``app.command(name)(function)``, ``app.add_typer(...)``) as an independent reference and require every
help text to be identical, and the summaries to be the first paragraph of each command's own help.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import string
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import typer
import typer.core
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st
from typer import _click as click

import collector.cli
from collector.cli import app as app_module
from collector.cli.lazy import LazyCommand, LazyGroup

WIDTHS = (40, 60, 80, 100, 120, 200)


def reference_app() -> typer.Typer:
    """The application registered eagerly, the way app.py did before the table: the yardstick."""
    ref = typer.Typer(
        name=app_module.app.info.name,
        help=app_module.app.info.help,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    ref.callback()(app_module._root)
    for entry in app_module.COMMANDS:
        target = entry.resolve()
        if isinstance(target, typer.Typer):
            if entry.cls is None:
                ref.add_typer(target, name=entry.name)
            else:
                ref.add_typer(target, name=entry.name, cls=entry.cls)
        else:
            ref.command(entry.name)(target)
    return ref


def help_of(group: click.Command, path: list[str], width: int) -> str:
    """The help text of the command at ``path`` below ``group``, rendered at ``width`` columns."""
    ctx = click.Context(group, info_name="gatepack", terminal_width=width, max_content_width=width)
    command: click.Command = group
    for name in path:
        assert isinstance(command, typer.core.TyperGroup)
        found = command.get_command(ctx, name)
        assert found is not None, path
        ctx = click.Context(found, info_name=name, parent=ctx, terminal_width=width, max_content_width=width)
        command = found
    return command.get_help(ctx)


def walk(group: click.Command, prefix: list[str]) -> Iterator[list[str]]:
    """Every command path below ``group`` (groups included), building each command."""
    if isinstance(group, typer.core.TyperGroup):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            yield [*prefix, name]
            yield from walk(command, [*prefix, name])


def fresh_group() -> LazyGroup:
    group = typer.main.get_command(app_module.app)
    assert isinstance(group, LazyGroup)
    return group


def test_command_list_is_the_reference_list_at_every_width() -> None:
    reference = typer.main.get_command(reference_app())
    for width in WIDTHS:
        lazy = fresh_group()  # nothing built yet: the list is written from the summaries
        assert lazy.commands.loaded("collect") is None  # type: ignore[attr-defined]
        assert help_of(lazy, [], width) == help_of(reference, [], width), width


def test_every_command_help_is_the_reference_help() -> None:
    reference = typer.main.get_command(reference_app())
    lazy = fresh_group()
    paths = list(walk(reference, []))
    assert paths == list(walk(lazy, [])), "the lazy tree has other commands, or in another order"
    assert len(paths) > len(app_module.COMMANDS)  # the sub-apps' commands were walked too
    for path in paths:
        for width in (60, 100):
            assert help_of(lazy, path, width) == help_of(reference, path, width), path


def test_summaries_are_the_first_paragraph_of_each_commands_help() -> None:
    group = fresh_group()
    ctx = click.Context(group)
    for entry in app_module.COMMANDS:
        real = group.get_command(ctx, entry.name)
        assert real is not None and real.help
        assert entry.summary == " ".join(real.help.split("\n\n")[0].split()), entry.name
        stub = entry.stub()
        assert (real.hidden, real.deprecated, real.short_help) == (False, False, None), entry.name
        for limit in range(10, 140):
            assert stub.get_short_help_str(limit) == real.get_short_help_str(limit), (entry.name, limit)


def test_table_names_are_unique_and_targets_exist() -> None:
    names = [entry.name for entry in app_module.COMMANDS]
    assert len(names) == len(set(names))
    for entry in app_module.COMMANDS:
        module, _, attribute = entry.target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), entry.target


def command_functions() -> set[str]:
    """Every public ``*_command`` function defined in a ``collector.cli`` module."""
    found: set[str] = set()
    for info in pkgutil.iter_modules(collector.cli.__path__):
        if info.name == "__main__":
            continue  # running it is running gatepack
        module = importlib.import_module(f"collector.cli.{info.name}")
        for name, value in vars(module).items():
            if name.endswith("_command") and inspect.isfunction(value) and value.__module__ == module.__name__:
                found.add(f"{module.__name__}:{name}")
    return found


def test_every_command_function_is_reachable() -> None:
    """A new ``*_command`` that nobody added to the table (or a sub-app) would never run: fail instead."""
    group = fresh_group()
    reachable: set[str] = set()
    for path in walk(group, []):
        command = help_target(group, path)
        callback = getattr(command.callback, "__wrapped__", command.callback)
        while hasattr(callback, "__wrapped__"):
            callback = callback.__wrapped__
        if callback is not None and not isinstance(command, typer.core.TyperGroup):
            reachable.add(f"{callback.__module__}:{callback.__name__}")
    assert command_functions() <= reachable, sorted(command_functions() - reachable)


def help_target(group: click.Command, path: list[str]) -> click.Command:
    command = group
    for name in path:
        assert isinstance(command, typer.core.TyperGroup)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_unknown_command_is_a_usage_error_with_a_suggestion(gatepack) -> None:
    ran = gatepack("vali")
    assert ran.code == 2
    assert "No such command 'vali'. Did you mean 'validate'?" in ran.err


def run_as_gatepack(*args: str) -> subprocess.CompletedProcess[str]:
    """``gatepack ARGS`` in a child process, named ``gatepack`` in its usage line, at 100 columns."""
    code = "import sys; sys.argv[0] = 'gatepack'\nfrom collector.cli.app import main\nmain()"
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_root_help_golden(golden) -> None:
    """What users read first: the command list, byte for byte (it was the same before the table)."""
    ran = run_as_gatepack("--help")
    assert ran.returncode == 0, ran.stderr
    golden("help-root.txt", ran.stdout)
    bare = run_as_gatepack()
    assert bare.returncode == 2 and bare.stdout + bare.stderr == ran.stdout  # no command: the same help, exit 2


def test_lazy_group_settings_follow_the_app() -> None:
    assert app_module.GatepackGroup.pretty_exceptions_short == app_module.app.pretty_exceptions_short
    assert isinstance(app_module.COMMANDS[0], LazyCommand)


@pytest.mark.parametrize("args", [["--help"], ["version"], ["schema", "--help"]])
def test_listing_and_light_commands_import_no_command_module(args: list[str]) -> None:
    code = (
        "import sys; sys.argv = ['gatepack', *sys.argv[1:]]\n"
        "from collector.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('collector.cli.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded <= {"collector.cli.app", "collector.cli.lazy", "collector.cli.plugins"}, sorted(loaded)


def _written(write: Callable[[str], None], message: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        write(message)
    return buffer.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*string.printable, ":", "é", "\x1b", "\u202e", "🙂", ":smile:", ":+1:", "ok: 1 gate(s)"])
    ).map("".join)
)
def test_plain_line_writes_what_the_console_writes(message: str) -> None:
    """validate's ``ok`` line skips rich only where rich would have written the text unchanged."""
    from collector.cli import common

    saved = vars(common).pop("err", None)
    try:
        plain = _written(common.plain_line, message)
        built = "err" in vars(common)
    finally:
        if saved is not None:
            vars(common)["err"] = saved
    console = common.stderr_console()
    assert plain == _written(console.print, message), (message, built)


def test_validate_reports_ok_without_rich() -> None:
    code = (
        "import sys; sys.argv = ['gatepack', 'validate', '--gate', '02-auth-shell']\n"
        "from collector.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('rich' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stderr == "ok: 1 gate(s), 6 check(s)\n"
    assert done.stdout.strip() == "False"


def test_usage_lines_name_arguments_in_capitals_and_mark_repeats_once() -> None:
    """Every usage line reads ``{PACKET}`` / ``{PACKET...}``: never a lower-case Python name or ``...}...``."""
    group = fresh_group()
    seen = 0
    for path in walk(group, []):
        usage = help_of(group, path, 200).splitlines()[0]
        assert "...}..." not in usage and "...]..." not in usage, (path, usage)
        arguments = [word.strip("{}[].") for word in usage.split()[len(path) + 2 :] if word[0] in "{["]
        for word in arguments:
            if word not in ("OPTIONS", "ARGS"):
                seen += 1
                assert word == word.upper(), (path, usage)
    assert seen >= 10  # the walk reached the commands that take arguments

"""Commands registered by name and one-line help, their modules imported only when a command is used.

Importing every command module and building every command's parameters costs more than the rest of
``gatepack --help`` together (typer reads each signature, ``@uses`` expands the option groups). The
group below knows each command by a :class:`LazyCommand` entry instead: its name, where the function
(or sub-app) lives, and the first paragraph of its help, which is all the command list shows. The real
click command is built the first time it is asked for, exactly as ``app.command(name)(function)`` and
``app.add_typer(sub, name=...)`` would have built it, so a command's own ``--help``, parsing and
behaviour do not change. ``tests/test_cli_lazy.py`` builds every entry and holds the table to it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.core
import typer.main
from typer import _click as click  # the click that typer itself builds on (vendored)


@dataclass(frozen=True)
class LazyCommand:
    """One top-level command: ``target`` is ``module:attribute``, a command function or a ``typer.Typer``.

    ``summary`` is the first paragraph of the command's help (its docstring, or the sub-app's ``help``):
    the command list shortens it exactly as it would shorten the full text. ``cls`` is the group class a
    sub-app is added with (``app.add_typer(..., cls=...)``).
    """

    name: str
    target: str
    summary: str
    cls: type[typer.core.TyperGroup] | None = None
    factory: bool = False
    """The target is a zero-argument function that returns the Typer sub-app (registration done there)."""

    def resolve(self) -> Any:
        """The function or Typer app the target names (its module is imported now)."""
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        return found() if self.factory else found

    def build(self, group: typer.core.TyperGroup, pretty_exceptions_short: bool) -> click.Command:
        """The click command, built as registering it on a ``typer.Typer`` would have built it."""
        target = self.resolve()
        holder = typer.Typer()
        if isinstance(target, typer.Typer):
            if self.cls is not None:
                holder.add_typer(target, name=self.name, cls=self.cls)
            else:
                holder.add_typer(target, name=self.name)
            return typer.main.get_group_from_info(
                holder.registered_groups[0],
                pretty_exceptions_short=pretty_exceptions_short,
                rich_markup_mode=group.rich_markup_mode,
                suggest_commands=group.suggest_commands,
            )
        holder.command(self.name)(target)
        return typer.main.get_command_from_info(
            holder.registered_commands[0],
            pretty_exceptions_short=pretty_exceptions_short,
            rich_markup_mode=group.rich_markup_mode,
        )

    def stub(self) -> click.Command:
        """A parameterless stand-in carrying only the summary: what the command list reads."""
        return typer.core.TyperCommand(name=self.name, help=self.summary)


class _Commands(MutableMapping[str, click.Command]):
    """``TyperGroup.commands`` whose values are built on first access; keys (in table order) are known upfront.

    Everything typer and click do with ``commands`` (look-up, the "did you mean" suggestions, completion,
    ``add_command``) keeps working; only reading a value pays for that one command.
    """

    def __init__(self, group: LazyGroup, eager: MutableMapping[str, click.Command]) -> None:
        self._group = group
        self._entries = {entry.name: entry for entry in group.lazy_commands}
        self._built: dict[str, click.Command] = {}
        self._eager = dict(eager)

    def loaded(self, name: str) -> click.Command | None:
        """The command if it was already built (or registered eagerly), else None: building nothing."""
        return self._eager.get(name) or self._built.get(name)

    def listed(self, name: str) -> click.Command | None:
        """The built command, else the entry's stand-in, else None: building nothing."""
        found = self.loaded(name)
        if found is None and name in self._entries:
            return self._entries[name].stub()
        return found

    def __getitem__(self, name: str) -> click.Command:
        found = self.loaded(name)
        if found is not None:
            return found
        entry = self._entries[name]  # KeyError for an unknown name, as a dict would raise
        built = entry.build(self._group, self._group.pretty_exceptions_short)
        self._built[name] = built
        return built

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._eager[name] = command

    def __delitem__(self, name: str) -> None:
        if name in self._eager:
            del self._eager[name]
        elif name in self._entries:
            del self._entries[name]
            self._built.pop(name, None)
        else:
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (name for name in self._eager if name not in self._entries)

    def __len__(self) -> int:
        return len(self._entries) + sum(name not in self._entries for name in self._eager)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._eager


class LazyGroup(typer.core.TyperGroup):
    """A TyperGroup whose ``lazy_commands`` are imported on use; set the table on a subclass.

    The command list (``--help``) is written from the entries' summaries, so listing the commands imports
    none of them; a command already built (or added eagerly) is listed from the real thing.
    """

    lazy_commands: ClassVar[tuple[LazyCommand, ...]] = ()
    pretty_exceptions_short: ClassVar[bool] = True

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(commands=commands, **attrs)
        self.commands = _Commands(self, self.commands)
        self._listing = False

    def listed(self, name: str) -> click.Command | None:
        """What the command list shows for ``name``: the built command, else its stand-in (nothing imported)."""
        commands = self.commands
        return commands.listed(name) if isinstance(commands, _Commands) else commands.get(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The names in registration order, as typer lists them, without building the commands."""
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self._listing:
            return self.listed(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """typer's own command list, its rows read from :meth:`listed`: listing builds no command."""
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

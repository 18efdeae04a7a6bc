"""Pydantic's plugin look-up, answered without ``importlib.metadata`` when no installed package declares one.

Every pydantic model or adapter asks ``pydantic.plugin._loader.get_plugins()`` which plugins to call.
Its first answer imports ``importlib.metadata`` (with ``email``, ``zipfile``, ``csv``) and reads the
entry points of every installed distribution: about 20 ms of each ``gatepack validate``, to learn that
there are none. :func:`install` puts a stand-in for that module in ``sys.modules``; its ``get_plugins``
first reads the ``entry_points.txt`` files on ``sys.path`` directly (about 2 ms) and answers "none" only
when none of them so much as mentions ``pydantic``. In every other case (a mention, a zip or egg on the
path, a non-standard distribution finder, pydantic without that module) the real module is imported
and answers, so an installed plugin (logfire, …) is found and run exactly as before. Nothing happens
until a model is built: ``gatepack --help`` never pays for the look-up.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

LOADER = "pydantic.plugin._loader"
GROUP = b"pydantic"
_DIST_SUFFIXES = (".dist-info", ".egg-info")


def _entry_point_files(paths: Iterable[str]) -> list[str] | None:
    """Every ``entry_points.txt`` of the distributions on ``paths``, or None when some entry is not a plain
    directory that the standard path finder reads the same way (a zip, an egg)."""
    found: list[str] = []
    for entry in paths:
        directory = entry or "."
        if not os.path.isdir(directory):
            if os.path.exists(directory):
                return None  # a zip file or other importable non-directory: let importlib.metadata read it
            continue
        if directory.endswith(".egg"):
            return None
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.lower().endswith(_DIST_SUFFIXES):
                candidate = os.path.join(directory, name, "entry_points.txt")
                if os.path.isfile(candidate):
                    found.append(candidate)
    return found


def no_plugin_declared(paths: Iterable[str] | None = None) -> bool:
    """True only when certainly no distribution on the path declares a ``pydantic`` entry point."""
    if any(
        hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder
        for finder in sys.meta_path
    ):
        return False  # someone else also provides distributions: only importlib.metadata knows them all
    files = _entry_point_files(sys.path if paths is None else paths)
    if files is None:
        return False
    for path in files:
        try:
            with open(path, "rb") as handle:
                if GROUP in handle.read().lower():
                    return False
        except OSError:
            return False
    return True


class _StandIn(types.ModuleType):
    """``pydantic.plugin._loader`` until it is certain whether plugins exist; then "none", or the real module."""

    def __init__(self) -> None:
        super().__init__(LOADER, __doc__)
        self._none: bool | None = None

    def get_plugins(self) -> Iterable[Any]:
        if self._none is None:
            self._none = no_plugin_declared()
        if self._none:
            return ()
        return _real_loader().get_plugins()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # the import system probing (``__path__``…), not pydantic asking
        return getattr(_real_loader(), name)


def _real_loader() -> types.ModuleType:
    """Import the real module in the stand-in's place (from then on every ``from ._loader import`` gets it)."""
    current = sys.modules.get(LOADER)
    if isinstance(current, _StandIn):
        del sys.modules[LOADER]
    return importlib.import_module(LOADER)


def install() -> None:
    """Put the stand-in in place unless the real module is loaded already.

    Nothing is imported here (checking that pydantic has the module would import pydantic): a pydantic
    without ``plugin/_loader.py`` never imports the name, so the stand-in then simply stays unused.
    """
    if LOADER not in sys.modules:
        sys.modules[LOADER] = _StandIn()

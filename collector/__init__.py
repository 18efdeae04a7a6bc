"""Everything in gatepack that talks to the outside: backends, files, publishing and the CLI."""

import sys

from slo import __version__

# httpx imports its own command-line client (real click, rich.syntax and pygments: ~5 MiB of a collect's
# peak memory) whenever those happen to be installed, and typer brings them; gatepack never runs it. A
# module set to None in sys.modules cannot be imported, so httpx falls back to its stub ``main``.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["__version__"]

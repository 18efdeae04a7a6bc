"""Everything in gatepack that talks to the outside: backends, files, publishing and the CLI."""

from slo import __version__

__all__ = ["__version__"]

"""The ``gatepack`` command line."""

from collector.cli.app import main

__all__ = ["main"]

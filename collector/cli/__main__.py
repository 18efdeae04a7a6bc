"""``python -m collector.cli``: the same as the ``gatepack`` console script."""

from collector.cli.app import main

main()

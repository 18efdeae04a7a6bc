"""The ``gatepack`` command line: one module per command, registered explicitly in ``app``."""


def main() -> None:
    from collector.cli.app import main as run

    run()

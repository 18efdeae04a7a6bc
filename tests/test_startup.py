"""Start-up stays light: ``gatepack --help`` and ``validate`` must not load what only other commands need.

Not a timing test (timings on a shared machine cannot fail reliably): the interpreter's own import log
(``-X importtime``) names every module a command loaded, and the heavy ones are a fact, not a figure.
``bench/startup.py`` measures the time itself.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "pyarrow", "httpx", "sqlalchemy", "cryptography", "grafana_foundation_sdk")
"""Top-level packages that only collect, verify, keygen, the store and the dashboard generator use."""

ENTRY = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|(\s*)(\S+)\s*$")


def imported_modules(*args: str) -> set[str]:
    """Every module the command imported, read from the interpreter's import log on stderr."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {m.group(2) for line in done.stderr.splitlines() if (m := ENTRY.match(line))}
    assert "collector.cli.app" in names, "the import log was not read: the parser no longer matches its format"
    return names


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_help_loads_no_heavy_package() -> None:
    loaded = top_level(imported_modules("--help"))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    # the spec model, the PromQL parser and YAML are for commands that read specs, not for the command list
    assert not loaded & {"pydantic", "yaml", "promql_parser"}, sorted(loaded & {"pydantic", "yaml", "promql_parser"})
    # standard-library modules only some commands need (a few ms each on every start-up otherwise)
    lazy = {"asyncio", "hashlib", "tempfile", "logging", "base64"}
    assert not loaded & lazy, sorted(loaded & lazy)


@pytest.mark.parametrize("command", [["validate", "--gate", "02-auth-shell"], ["verify", "--help"]])
def test_offline_commands_load_no_network_or_crypto(command: list[str]) -> None:
    loaded = top_level(imported_modules(*command))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_imports_no_command_module() -> None:
    """Commands are registered lazily (collector/cli/lazy.py): the list is written from their summaries."""
    loaded = imported_modules("--help")
    commands = {name for name in loaded if name.startswith("collector.cli.")}
    assert commands == {"collector.cli.app", "collector.cli.lazy", "collector.cli.plugins"}, sorted(commands)
    assert "rich" not in top_level(loaded)


def test_validate_loads_only_what_checking_specs_needs() -> None:
    """No other command's module, no result/pricing models, no rich (its ok line is plain) and no entry-point
    scan (collector/cli/plugins.py)."""
    loaded = imported_modules("validate", "--gate", "02-auth-shell")
    unwanted = {
        "collector.cli.collect",
        "collector.cli.ingest",
        "collector.cli.evidence",
        "collector.cli.serve",
        "slo.results",
        "slo.evaluate",
        "slo.pricing",
        "slo.evidence",
        "importlib.metadata",
    }
    assert not loaded & unwanted, sorted(loaded & unwanted)
    assert "rich" not in top_level(loaded)


def test_verify_default_limit_is_the_packet_limit() -> None:
    from collector.cli.verify import MAX_PACKET_BYTES as written_out
    from slo.evidence import MAX_PACKET_BYTES

    assert written_out == MAX_PACKET_BYTES

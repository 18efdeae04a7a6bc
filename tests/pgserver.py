"""A real PostgreSQL (Debian's package) on a loopback port with a temp data directory, for the store tests.

``initdb`` refuses to run as root, so as root the data directory is handed to the ``postgres`` user and
the server runs as that user (see shared/real-parts.md). Stopped with ``pg_ctl stop -m fast``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from collector.testing.promserver import free_port

BIN = Path(os.environ.get("GATEPACK_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    pass


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root needs runuser to start PostgreSQL as the postgres user")
    return ["runuser", "-u", "postgres", "--", *args]


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Yields a base URL ``postgresql+psycopg://gatepack@127.0.0.1:PORT``; the server is stopped after."""
    if not (BIN / "initdb").exists():
        raise PostgresUnavailable(f"PostgreSQL not found in {BIN} (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="gatepack-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        data = root / "data"
        subprocess.run(
            _as_postgres([str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "gatepack"]),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-k {root} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
        subprocess.run(
            _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]),
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql+psycopg://gatepack@127.0.0.1:{port}"
        finally:
            subprocess.run(
                _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(base_url: str, name: str) -> str:
    """A fresh database on the server; returns its URL."""
    import psycopg

    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base_url}/{name}"

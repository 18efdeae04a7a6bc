"""Record, find and read evidence packets in a database: SQLite by default, PostgreSQL when a team shares one.

``open_store("evidence.db")`` or ``open_store("postgresql+psycopg://user@host/db")``. Every packet is
checked (its digest must match) before it is recorded, in one transaction with its responses and
envelope, so after a crash a packet is either fully there or not at all. Inserts that meet an existing
row do nothing (``ON CONFLICT DO NOTHING``): the same packet recorded twice, or by two processes at once,
is one row, and nothing recorded is ever changed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from collector.errors import UsageError
from collector.store.schema import envelopes, packets, responses
from slo.dsse import is_envelope, parse_envelope, verify_file_bytes
from slo.evidence import canonical_bytes
from slo.wire import response_digests


class StoreError(UsageError):
    """The store cannot be opened or a packet cannot be recorded; one line, no credentials."""


@dataclass(frozen=True)
class StoredPacket:
    digest: str
    gate: str
    environment: str | None
    service: str | None
    release: str | None
    commit: str | None
    verdict: str
    evaluated_at: str
    recorded_at: float
    packet: bytes
    envelope: bytes | None = None
    key_id: str | None = None

    def document(self) -> dict[str, Any]:
        return json.loads(self.packet)


@dataclass(frozen=True)
class Recorded:
    digest: str
    new: bool  # False when the packet was already there (a no-op)
    responses_added: int = 0


def store_url(target: str) -> str:
    """A SQLAlchemy URL from ``--store``: a URL as given, a path as an SQLite file."""
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one process writes; the busy timeout makes racing writers wait, not fail.
    # The driver's own transaction handling is turned off so that _sqlite_begin decides (DDL included).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # take the write lock up front: two writers never both read then fail to upgrade to writing
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class EvidenceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ignore(self, connection: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        added = 0
        key = next(iter(table.primary_key.columns))
        for row in rows:  # RETURNING says whether this row was inserted (psycopg reports no rowcount here)
            statement = self._insert(table).values(**row).on_conflict_do_nothing().returning(key)
            added += connection.execute(statement).first() is not None
        return added

    def record(self, data: bytes, kept: Mapping[str, bytes] | None = None) -> Recorded:
        """Record a plain packet or a signed envelope (and kept responses: sha256 -> gzip bytes)."""
        checked = verify_file_bytes(data)
        if not checked.digest.ok or checked.packet is None:
            raise StoreError(f"not recorded: {checked.digest.reason}")
        document = checked.packet
        digest = document["digest"]["value"]
        subject = document.get("subject") or {}
        row = {
            "digest": digest,
            "gate": document["gate"]["id"],
            "environment": subject.get("environment"),
            "service": subject.get("service"),
            "release": subject.get("release"),
            "commit": subject.get("commit"),
            "verdict": document["verdict"],
            "evaluated_at": document["evaluation"]["time"],
            "recorded_at": time.time(),
            "packet": canonical_bytes(document),
        }
        envelope_row = None
        parsed = json.loads(data)
        if is_envelope(parsed):
            hints = [hint for hint, _ in parse_envelope(parsed).signatures if hint]
            envelope_row = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "digest": digest,
                "key_id": hints[0] if hints else None,
                "envelope": data,
            }
        wanted = set(response_digests(document))
        bodies = [{"sha256": sha, "body_gz": body} for sha, body in (kept or {}).items() if sha in wanted]
        with self.engine.begin() as connection:  # one transaction: all of it or none of it
            added = self._ignore(connection, responses, bodies)
            new = self._ignore(connection, packets, [row]) == 1
            if envelope_row is not None:
                self._ignore(connection, envelopes, [envelope_row])
        return Recorded(digest, new, added)

    def find(
        self,
        *,
        gate: str | None = None,
        environment: str | None = None,
        service: str | None = None,
        release: str | None = None,
        commit: str | None = None,
        verdict: str | None = None,
        since: str | None = None,
        limit: int | None = 100,
    ) -> list[StoredPacket]:
        """Packets matching every given field, newest evaluation first."""
        query = select(packets)
        for column, value in (
            (packets.c.gate, gate),
            (packets.c.environment, environment),
            (packets.c.service, service),
            (packets.c.release, release),
            (packets.c.commit, commit),
            (packets.c.verdict, verdict),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(packets.c.evaluated_at >= since)
        query = query.order_by(packets.c.evaluated_at.desc(), packets.c.recorded_at.desc(), packets.c.digest)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            return [self._with_envelope(connection, dict(r)) for r in rows]

    def _with_envelope(self, connection: Connection, row: dict[str, Any]) -> StoredPacket:
        found = connection.execute(
            select(envelopes.c.envelope, envelopes.c.key_id).where(envelopes.c.digest == row["digest"]).limit(1)
        ).first()
        if found is not None:
            row["envelope"], row["key_id"] = bytes(found[0]), found[1]
        row["packet"] = bytes(row["packet"])
        return StoredPacket(**row)

    def get(self, ref: str, **filters: str | None) -> StoredPacket:
        """By digest (or a unique prefix of at least 8 hex digits), or ``latest`` among ``filters``."""
        if ref == "latest":
            found = self.find(**filters, limit=1)
            if not found:
                named = ", ".join(f"{k}={v}" for k, v in filters.items() if v) or "any"
                raise StoreError(f"no packet in the store matches {named}")
            return found[0]
        ref = ref.lower().removeprefix("sha256:")
        if len(ref) < 8 or any(c not in "0123456789abcdef" for c in ref):
            raise StoreError(f"{ref!r} is neither a digest (at least 8 hex digits) nor 'latest'")
        with self.engine.connect() as connection:
            rows = connection.execute(select(packets).where(packets.c.digest.startswith(ref)).limit(2)).mappings().all()
            if not rows:
                raise StoreError(f"no packet with digest {ref} in the store")
            if len(rows) > 1:
                raise StoreError(f"digest prefix {ref} is ambiguous: give more digits")
            return self._with_envelope(connection, dict(rows[0]))

    def response(self, sha256: str) -> bytes | None:
        """A kept body, decompressed and checked against its address; None when absent."""
        with self.engine.connect() as connection:
            found = connection.execute(select(responses.c.body_gz).where(responses.c.sha256 == sha256)).first()
        if found is None:
            return None
        body = gzip.decompress(bytes(found[0]))
        return body if hashlib.sha256(body).hexdigest() == sha256 else None

    def response_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """The stored gzip bytes of the given responses (for export)."""
        wanted = list(set(shas))
        if not wanted:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(select(responses).where(responses.c.sha256.in_(wanted))).all()
        return {sha: bytes(body) for sha, body in rows}

    def count(self) -> int:
        with self.engine.connect() as connection:
            return len(connection.execute(select(packets.c.digest)).all())


def _migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, one process at a time.

    Racing first opens are serialised: PostgreSQL by a transaction-scoped advisory lock, SQLite by the
    ``BEGIN IMMEDIATE`` every transaction starts with. DDL is transactional on both, so a process killed
    half way leaves the previous revision, not half of the next.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7318350021)")  # gatepack's store
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_store(target: str) -> EvidenceStore:
    """Open (and create on first use) the store at a path or SQLAlchemy URL."""
    url = store_url(target)
    try:
        if url.startswith("sqlite"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        elif url.startswith(("postgresql", "postgres")):
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
        else:
            raise StoreError(f"--store {_redacted(url)}: use a file path, sqlite:///PATH or postgresql://…")
        _migrate(engine)
    except StoreError:
        raise
    except ArgumentError:
        raise StoreError(f"--store {_redacted(url)}: not a valid database URL") from None
    except ModuleNotFoundError as exc:
        raise StoreError(f"--store {_redacted(url)}: the database driver is not installed ({exc.name})") from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "cannot connect"
        raise StoreError(f"cannot open the store {_redacted(url)}: {reason}") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store {_redacted(url)}: {type(exc).__name__}") from None
    return EvidenceStore(engine)

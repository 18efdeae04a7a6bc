"""The store's tables (SQLAlchemy Core, one definition for SQLite and PostgreSQL).

Rows are only ever inserted, never updated: a packet is addressed by its digest, an envelope and a
response by the sha256 of their own bytes, so recording the same thing twice is a no-op and two writers
cannot overwrite each other. ``packets`` carries the fields teams filter by, indexed. Alembic migrations
create and upgrade the tables; a test checks that the migrated schema equals these definitions.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, LargeBinary, MetaData, String, Table

HEAD_REVISION = "0001"
"""The Alembic revision (collector/store/migrations/versions) these tables correspond to."""

metadata = MetaData()

packets = Table(
    "gatepack_packets",
    metadata,
    Column("digest", String(64), primary_key=True, comment="packet digest (sha256 of the canonical packet)"),
    Column("gate", String(200), nullable=False),
    Column("environment", String(200)),
    Column("service", String(200)),
    Column("release", String(200)),
    Column("commit", String(64)),
    Column("verdict", String(16), nullable=False),
    Column("evaluated_at", String(40), nullable=False, comment="RFC 3339 UTC: sorts as time"),
    Column("recorded_at", Float, nullable=False),
    Column("packet", LargeBinary, nullable=False, comment="the canonical packet bytes"),
    Index("ix_gatepack_packets_gate_time", "gate", "evaluated_at"),
    Index("ix_gatepack_packets_environment", "environment"),
    Index("ix_gatepack_packets_service", "service"),
    Index("ix_gatepack_packets_release", "release"),
    Index("ix_gatepack_packets_commit", "commit"),
    Index("ix_gatepack_packets_verdict", "verdict"),
    Index("ix_gatepack_packets_time", "evaluated_at"),
)

envelopes = Table(
    "gatepack_envelopes",
    metadata,
    Column("sha256", String(64), primary_key=True, comment="sha256 of the envelope bytes"),
    Column("digest", String(64), ForeignKey("gatepack_packets.digest"), nullable=False, index=True),
    Column("key_id", String(64), comment="the key id the envelope claims (checked by verify, not here)"),
    Column("envelope", LargeBinary, nullable=False),
)

responses = Table(
    "gatepack_responses",
    metadata,
    Column("sha256", String(64), primary_key=True, comment="sha256 of the uncompressed body"),
    Column("body_gz", LargeBinary, nullable=False),
)

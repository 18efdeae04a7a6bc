"""The first store schema: packets, envelopes, responses.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gatepack_packets",
        sa.Column("digest", sa.String(64), primary_key=True, comment="packet digest (sha256 of the canonical packet)"),
        sa.Column("gate", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(200)),
        sa.Column("service", sa.String(200)),
        sa.Column("release", sa.String(200)),
        sa.Column("commit", sa.String(64)),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("evaluated_at", sa.String(40), nullable=False, comment="RFC 3339 UTC: sorts as time"),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.Column("packet", sa.LargeBinary, nullable=False, comment="the canonical packet bytes"),
    )
    op.create_index("ix_gatepack_packets_gate_time", "gatepack_packets", ["gate", "evaluated_at"])
    for column in ("environment", "service", "release", "commit", "verdict"):
        op.create_index(f"ix_gatepack_packets_{column}", "gatepack_packets", [column])
    op.create_index("ix_gatepack_packets_time", "gatepack_packets", ["evaluated_at"])
    op.create_table(
        "gatepack_envelopes",
        sa.Column("sha256", sa.String(64), primary_key=True, comment="sha256 of the envelope bytes"),
        sa.Column("digest", sa.String(64), sa.ForeignKey("gatepack_packets.digest"), nullable=False),
        sa.Column("key_id", sa.String(64), comment="the key id the envelope claims (checked by verify, not here)"),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_gatepack_envelopes_digest", "gatepack_envelopes", ["digest"])
    op.create_table(
        "gatepack_responses",
        sa.Column("sha256", sa.String(64), primary_key=True, comment="sha256 of the uncompressed body"),
        sa.Column("body_gz", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gatepack_responses")
    op.drop_table("gatepack_envelopes")
    op.drop_table("gatepack_packets")

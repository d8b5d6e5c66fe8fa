"""The logs this node follows and does not host: their verified tree and checkpoints,
the state of following each, and the evidence of a fork.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_log",
        sa.Column("authority_code", sa.String(8), primary_key=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("peer_size", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('current', 'behind', 'unreachable', 'forked')",
            name=op.f("ck_peer_log_state_known"),
        ),
    )
    op.create_table(
        "peer_checkpoint",
        sa.Column(
            "authority_code",
            sa.String(8),
            sa.ForeignKey("peer_log.authority_code"),
            primary_key=True,
        ),
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(root) = 32", name=op.f("ck_peer_checkpoint_root_sha256")),
    )
    op.create_table(
        "fork_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "authority_code",
            sa.String(8),
            sa.ForeignKey("peer_log.authority_code"),
            nullable=False,
        ),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("found_at", UTCDateTime(), nullable=False),
    )
    op.create_index(op.f("ix_fork_evidence_authority_code"), "fork_evidence", ["authority_code"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction, so a
    # downgrade that a lower revision refused may already have dropped these.
    for table in ("fork_evidence", "peer_checkpoint", "peer_log"):
        op.execute(f"DROP TABLE IF EXISTS {table}")

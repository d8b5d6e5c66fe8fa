"""Signing holds: a log this node hosts that signs nothing until its peers confirm
its newest checkpoint (after a restore) or it recovers what a peer holds of it.

Revision ID: 0028
Revises: 0024
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0028"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_signing_hold",
        sa.Column("authority_code", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("peer", sa.String(8), nullable=True),
        sa.Column("peer_size", sa.BigInteger(), nullable=True),
        sa.Column("peer_note", sa.Text(), nullable=True),
        sa.Column("held_since", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('restored', 'behind', 'diverged')",
            name=op.f("ck_log_signing_hold_reason_known"),
        ),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_log_signing_hold_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("authority_code", name=op.f("pk_log_signing_hold")),
    )


def downgrade() -> None:
    bind = op.get_bind()
    exists = sa.inspect(bind).has_table("log_signing_hold")
    held = (
        bind.execute(sa.text("SELECT count(*) FROM log_signing_hold")).scalar_one() if exists else 0
    )
    if held:
        raise RuntimeError(
            f"{held} log(s) of this node are held from signing: going below revision 0028 "
            "would let them sign a fork of what their peers hold, so it is refused"
        )
    op.execute("DROP TABLE IF EXISTS log_signing_hold")

"""Status changes dated ahead: the one a record has pending, and cancelled changes.

A suspension, lift or revocation (any status change) may take effect on a later day.
``record.scheduled_change_id`` names the change a record has pending (one at most);
``record.state`` stays the state in effect until that day. ``status_change.
cancelled_by`` names the ``StatusChange`` that cancelled a pending one. Existing rows
have neither: every change so far took effect when it was made.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("record", sa.Column("scheduled_change_id", sa.String(length=128), nullable=True))
    # Partial: the sweep finds the few records with a change pending by it.
    op.create_index(
        op.f("ix_record_scheduled_change_id"),
        "record",
        ["scheduled_change_id"],
        unique=False,
        postgresql_where=sa.text("scheduled_change_id IS NOT NULL"),
        sqlite_where=sa.text("scheduled_change_id IS NOT NULL"),
    )
    op.add_column("status_change", sa.Column("cancelled_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    connection = op.get_bind()
    pending = connection.execute(
        sa.text("SELECT count(*) FROM record WHERE scheduled_change_id IS NOT NULL")
    ).scalar_one()
    cancelled = connection.execute(
        sa.text("SELECT count(*) FROM status_change WHERE cancelled_by IS NOT NULL")
    ).scalar_one()
    if pending or cancelled:
        raise RuntimeError(
            f"{pending} scheduled and {cancelled} cancelled status changes are kept: the "
            "earlier schema has no place for them"
        )
    with op.batch_alter_table("status_change") as batch:
        batch.drop_column("cancelled_by")
    op.drop_index(op.f("ix_record_scheduled_change_id"), table_name="record")
    with op.batch_alter_table("record") as batch:
        batch.drop_column("scheduled_change_id")

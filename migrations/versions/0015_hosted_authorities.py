"""An authority is hosted by this node (its keys held here, its log written here) or a
peer's, whose log this node keeps as a read-only mirror of the peer's own.

Every authority known before this revision is hosted.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate_cleanly() -> None:
    # SQLite changes a table by copying it through _alembic_tmp_authority, a CREATE
    # TABLE its driver runs outside the migration's transaction: a run that failed
    # later leaves the copy behind, and the next run would stop on it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS _alembic_tmp_authority")


def upgrade() -> None:
    _recreate_cleanly()
    with op.batch_alter_table("authority") as batch:
        batch.add_column(
            sa.Column("hosted", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    _recreate_cleanly()
    with op.batch_alter_table("authority") as batch:
        batch.drop_column("hosted")

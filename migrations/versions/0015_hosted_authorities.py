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


def upgrade() -> None:
    with op.batch_alter_table("authority") as batch:
        batch.add_column(
            sa.Column("hosted", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("authority") as batch:
        batch.drop_column("hosted")

"""A record superseded by its correction (or by a change registration) is ``superseded``,
no longer ``revoked``: a correction is not a decision, and must not look like one.

Records corrected before this revision stay ``revoked`` as they were signed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "'active', 'suspended', 'revoked', 'cancelled', 'listed', 'lifted', 'withdrawn'"


def _recreate_cleanly() -> None:
    # SQLite changes a CHECK constraint by copying the table through
    # _alembic_tmp_record. Its driver runs that CREATE TABLE outside the migration's
    # transaction, so a run that failed later (an earlier revision refusing to go
    # down) leaves the copy behind, and the next run would stop on it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS _alembic_tmp_record")


def upgrade() -> None:
    _recreate_cleanly()
    with op.batch_alter_table("record") as batch:
        batch.drop_constraint(op.f("ck_record_state_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_record_state_known"), f"state IN ({_BEFORE}, 'superseded')"
        )


def downgrade() -> None:
    superseded = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM record WHERE state = 'superseded'"))
        .scalar_one()
    )
    if superseded:
        raise RuntimeError(
            f"{superseded} superseded records are kept: the earlier schema has no such state"
        )
    _recreate_cleanly()
    with op.batch_alter_table("record") as batch:
        batch.drop_constraint(op.f("ck_record_state_known"), type_="check")
        batch.create_check_constraint(op.f("ck_record_state_known"), f"state IN ({_BEFORE})")

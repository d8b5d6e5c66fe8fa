"""The console's imports are checked in the background: an import is ``checking`` (its
rows not yet counted) until found good (``checked``) or ``rejected`` with its count of
problems.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "'checked', 'running', 'done', 'failed'"


def _recreate_cleanly() -> None:
    # SQLite changes a CHECK constraint by copying the table through
    # _alembic_tmp_staged_import; its driver runs that CREATE TABLE outside the
    # migration's transaction, so a failed run would leave the copy behind.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS _alembic_tmp_staged_import")


def upgrade() -> None:
    _recreate_cleanly()
    with op.batch_alter_table("staged_import") as batch:
        batch.add_column(sa.Column("problems", sa.Integer(), nullable=True))
        batch.drop_constraint(op.f("ck_staged_import_state_known"), type_="check")
        batch.drop_constraint(op.f("ck_staged_import_rows_positive"), type_="check")
        batch.create_check_constraint(
            op.f("ck_staged_import_state_known"),
            f"state IN ('checking', 'rejected', {_BEFORE})",
        )
        batch.create_check_constraint(op.f("ck_staged_import_rows_counted"), "rows >= 0")
        batch.create_check_constraint(
            op.f("ck_staged_import_problems_positive"), "problems IS NULL OR problems > 0"
        )


def downgrade() -> None:
    # The imports the earlier schema cannot hold (being checked, rejected) go: none of
    # them issued anything, and their files are deleted by the next upload.
    op.execute("DELETE FROM staged_import WHERE state IN ('checking', 'rejected')")
    _recreate_cleanly()
    with op.batch_alter_table("staged_import") as batch:
        batch.drop_constraint(op.f("ck_staged_import_problems_positive"), type_="check")
        batch.drop_constraint(op.f("ck_staged_import_rows_counted"), type_="check")
        batch.drop_constraint(op.f("ck_staged_import_state_known"), type_="check")
        batch.create_check_constraint(op.f("ck_staged_import_state_known"), f"state IN ({_BEFORE})")
        batch.create_check_constraint(op.f("ck_staged_import_rows_positive"), "rows > 0")
        batch.drop_column("problems")

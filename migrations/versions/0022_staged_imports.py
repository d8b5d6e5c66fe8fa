"""The authority's console: spreadsheets uploaded, checked and waiting to be confirmed,
being issued, issued or failed.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staged_import",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("authority_code", sa.String(8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_digest", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("receipt_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('checked', 'running', 'done', 'failed')",
            name=op.f("ck_staged_import_state_known"),
        ),
        sa.CheckConstraint("rows > 0", name=op.f("ck_staged_import_rows_positive")),
        sa.CheckConstraint(
            "length(file_digest) = 64", name=op.f("ck_staged_import_file_digest_length")
        ),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_staged_import_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_staged_import_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipt.id"], name=op.f("fk_staged_import_receipt_id_receipt")
        ),
    )
    op.create_index(
        "ix_staged_import_authority_created", "staged_import", ["authority_code", "created_at"]
    )
    op.create_index(op.f("ix_staged_import_user_id"), "staged_import", ["user_id"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction.
    op.execute("DROP TABLE IF EXISTS staged_import")

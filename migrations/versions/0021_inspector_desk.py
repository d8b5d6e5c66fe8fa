"""The inspector's desk: the companies each inspector follows, how far they have read
the changes about them, and the lists of companies they checked.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "followed_company",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "length(credit_code) = 18", name=op.f("ck_followed_company_credit_code_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_followed_company_user_id_user_account")
        ),
    )
    op.create_index(op.f("ix_followed_company_user_id"), "followed_company", ["user_id"])
    op.create_index(op.f("ix_followed_company_credit_code"), "followed_company", ["credit_code"])
    op.create_index(
        "uq_followed_company_active",
        "followed_company",
        ["user_id", "credit_code"],
        unique=True,
        sqlite_where=sa.text("cancelled_at IS NULL"),
        postgresql_where=sa.text("cancelled_at IS NULL"),
    )
    op.create_table(
        "follow_reading",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("seen", sa.Text(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_follow_reading_user_id_user_account")
        ),
    )
    op.create_table(
        "inspection_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("checked_for", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "rows >= 0 AND listed >= 0 AND listed <= rows",
            name=op.f("ck_inspection_check_counts_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_inspection_check_user_id_user_account")
        ),
    )
    op.create_index(op.f("ix_inspection_check_user_id"), "inspection_check", ["user_id"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction.
    op.execute("DROP TABLE IF EXISTS inspection_check")
    op.execute("DROP TABLE IF EXISTS follow_reading")
    op.execute("DROP TABLE IF EXISTS followed_company")

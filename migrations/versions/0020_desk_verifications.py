"""The employer's desk: each verification made there, kept for the company's history.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_verification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_code", sa.String(18), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('engineer', 'batch')", name=op.f("ck_desk_verification_kind_known")
        ),
        sa.CheckConstraint(
            "state IN ('running', 'done', 'failed')", name=op.f("ck_desk_verification_state_known")
        ),
        sa.CheckConstraint(
            "length(company_code) = 18", name=op.f("ck_desk_verification_company_code_length")
        ),
        sa.CheckConstraint(
            "done >= 0 AND done <= rows", name=op.f("ck_desk_verification_done_within_rows")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_desk_verification_user_id_user_account")
        ),
    )
    op.create_index("ix_desk_verification_company", "desk_verification", ["company_code", "id"])
    op.create_index(op.f("ix_desk_verification_user_id"), "desk_verification", ["user_id"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction.
    op.execute("DROP TABLE IF EXISTS desk_verification")

"""People's accounts for the web pages: accounts, their sessions and sign-in events.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("company_code", sa.String(18), nullable=True),
        sa.Column("company_name", sa.String(200), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_set_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('verifier', 'enforcement', 'admin') OR role LIKE 'issuer:CN-__'",
            name=op.f("ck_user_account_role_known"),
        ),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_user_account_failures_not_negative")),
        sa.CheckConstraint(
            "company_code IS NULL OR length(company_code) = 18",
            name=op.f("ck_user_account_company_code_length"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_token.id"], name=op.f("fk_user_account_token_id_api_token")
        ),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
        sa.UniqueConstraint("token_id", name=op.f("uq_user_account_token_id")),
    )
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("length(id_hash) = 64", name=op.f("ck_web_session_id_hash_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_web_session_user_id_user_account")
        ),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"])
    op.create_table(
        "sign_in_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('signed-in', 'signed-out', 'wrong-password', 'unknown-user', "
            "'locked', 'disabled')",
            name=op.f("ck_sign_in_event_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_sign_in_event_user_id_user_account")
        ),
    )
    op.create_index(op.f("ix_sign_in_event_at"), "sign_in_event", ["at"])
    op.create_index(op.f("ix_sign_in_event_user_id"), "sign_in_event", ["user_id"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction.
    op.execute("DROP TABLE IF EXISTS sign_in_event")
    op.execute("DROP TABLE IF EXISTS web_session")
    op.execute("DROP TABLE IF EXISTS user_account")

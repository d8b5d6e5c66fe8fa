"""A key's private half may be kept in a PKCS#11 token (a hardware security module):
``token_label`` names the token, and ``key_name`` the key's label in it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate_cleanly() -> None:
    # SQLite adds a CHECK constraint by copying the table through
    # _alembic_tmp_signing_key; its driver runs that CREATE TABLE outside the
    # migration's transaction, so a failed run would leave the copy behind.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS _alembic_tmp_signing_key")


def upgrade() -> None:
    _recreate_cleanly()
    with op.batch_alter_table("signing_key") as batch:
        batch.add_column(sa.Column("token_label", sa.String(length=32), nullable=True))
        batch.create_check_constraint(
            op.f("ck_signing_key_token_key_labelled"),
            "token_label IS NULL OR key_name IS NOT NULL",
        )


def downgrade() -> None:
    # Keys in a token cannot be told from file keys once the column is gone: the
    # earlier schema would look for their files. Refuse rather than lose where they are.
    held = op.get_bind().execute(
        sa.text("SELECT count(*) FROM signing_key WHERE token_label IS NOT NULL")
    )
    if held.scalar_one():
        raise RuntimeError(
            "signing keys are held in PKCS#11 tokens; the earlier schema cannot record them"
        )
    _recreate_cleanly()
    with op.batch_alter_table("signing_key") as batch:
        batch.drop_constraint(op.f("ck_signing_key_token_key_labelled"), type_="check")
        batch.drop_column("token_label")

"""The access audit: one token's entries newest first, from an index.

The administration's pages read a token's newest entry (its last audited use) and
the trail of one person or token a page at a time, newest first; with the index on
``(token_id, id)`` both read a few entries, not every entry of the token.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_access_audit_token_newest", "access_audit", ["token_id", "id"])


def downgrade() -> None:
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction.
    op.execute("DROP INDEX IF EXISTS ix_access_audit_token_newest")

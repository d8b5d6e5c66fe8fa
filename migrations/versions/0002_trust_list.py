"""Trust list: published versions, kept as signed, and proposals gathering proofs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_signing_key_revocation_has_reason"),
            "(compromised_since IS NULL) = (revocation_reason IS NULL)",
        )
    op.create_table(
        "trust_list_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'published', 'withdrawn')",
            name=op.f("ck_trust_list_proposal_state_known"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_trust_list_proposal_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_list_proposal")),
    )
    op.create_index(
        "uq_trust_list_proposal_open",
        "trust_list_proposal",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )

    op.create_table(
        "trust_list_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(version = 1 AND previous IS NULL) OR (version > 1 AND length(previous) = 64)",
            name=op.f("ck_trust_list_version_previous_iff_not_genesis"),
        ),
        sa.CheckConstraint(
            "length(digest) = 64", name=op.f("ck_trust_list_version_digest_sha256_hex")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_trust_list_version_version_positive")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_trust_list_version")),
        sa.UniqueConstraint("digest", name=op.f("uq_trust_list_version_digest")),
        sa.UniqueConstraint("previous", name=op.f("uq_trust_list_version_previous")),
    )


def downgrade() -> None:
    op.drop_table("trust_list_version")
    op.drop_index("uq_trust_list_proposal_open", table_name="trust_list_proposal")

    op.drop_table("trust_list_proposal")
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_signing_key_revocation_has_reason"), type_="check")

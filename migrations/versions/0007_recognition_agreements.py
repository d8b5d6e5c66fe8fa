"""Recognition agreements: drafts gathering the parties' proofs, and published ones.

A published agreement is a stored, logged ``RecognitionAgreement`` credential; its
row keeps the days it is in force and, once a party terminates it, the day that
takes effect and the ``StatusChange`` that says so.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agreement_proposal",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("proposer", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'published', 'withdrawn')",
            name=op.f("ck_agreement_proposal_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["proposer"], ["authority.code"], name=op.f("fk_agreement_proposal_proposer_authority")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_proposal")),
    )
    op.create_table(
        "recognition_agreement",
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("issuer_code", sa.String(length=8), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.Column("termination_id", sa.String(length=128), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(terminated_on IS NULL) = (termination_id IS NULL)",
            name=op.f("ck_recognition_agreement_termination_complete"),
        ),
        sa.CheckConstraint(
            "effective_until IS NULL OR effective_until >= effective_from",
            name=op.f("ck_recognition_agreement_days_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_code", "credential_id"],
            ["credential.issuer_code", "credential.id"],
            name="fk_recognition_agreement_credential",
        ),
        sa.ForeignKeyConstraint(
            ["termination_id"],
            ["credential.id"],
            name=op.f("fk_recognition_agreement_termination_id_credential"),
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_recognition_agreement")),
        sa.UniqueConstraint("termination_id", name=op.f("uq_recognition_agreement_termination_id")),
    )


def downgrade() -> None:
    op.drop_table("recognition_agreement")
    op.drop_table("agreement_proposal")

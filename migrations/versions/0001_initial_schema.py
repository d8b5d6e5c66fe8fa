"""Initial schema: authorities, their signing keys, and stored credentials.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authority",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("gb_code", sa.String(length=6), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("code LIKE 'CN-__'", name=op.f("ck_authority_code_format")),
        sa.CheckConstraint("length(gb_code) = 6", name=op.f("ck_authority_gb_code_length")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_authority")),
        sa.UniqueConstraint("gb_code", name=op.f("uq_authority_gb_code")),
    )
    op.create_table(
        "signing_key",
        sa.Column("verification_method", sa.String(length=255), nullable=False),
        sa.Column("authority_code", sa.String(length=8), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("public_key_multibase", sa.String(length=64), nullable=False),
        sa.Column("allowed_types", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("compromised_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("key_name", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "public_key_multibase LIKE 'z6Mk%'", name=op.f("ck_signing_key_multikey_ed25519")
        ),
        sa.CheckConstraint(
            "purpose IN ('issuing', 'log', 'node')", name=op.f("ck_signing_key_purpose_known")
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from",
            name=op.f("ck_signing_key_validity_window"),
        ),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_signing_key_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("verification_method", name=op.f("pk_signing_key")),
        sa.UniqueConstraint("key_name", name=op.f("uq_signing_key_key_name")),
        sa.UniqueConstraint(
            "public_key_multibase", name=op.f("uq_signing_key_public_key_multibase")
        ),
    )
    op.create_index(
        op.f("ix_signing_key_authority_code"), "signing_key", ["authority_code"], unique=False
    )

    op.create_table(
        "credential",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("issuer_code", sa.String(length=8), nullable=False),
        sa.Column("verification_method", sa.String(length=255), nullable=False),
        sa.Column("subject_lookup", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(digest) = 64", name=op.f("ck_credential_digest_sha256_hex")),
        sa.CheckConstraint(
            "subject_lookup IS NULL OR length(subject_lookup) = 64",
            name=op.f("ck_credential_subject_lookup_hmac_hex"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_code"], ["authority.code"], name=op.f("fk_credential_issuer_code_authority")
        ),
        sa.ForeignKeyConstraint(
            ["verification_method"],
            ["signing_key.verification_method"],
            name=op.f("fk_credential_verification_method_signing_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
        sa.UniqueConstraint("digest", name=op.f("uq_credential_digest")),
    )
    op.create_index(op.f("ix_credential_issuer_code"), "credential", ["issuer_code"], unique=False)
    op.create_index(
        op.f("ix_credential_subject_lookup"), "credential", ["subject_lookup"], unique=False
    )
    op.create_index(op.f("ix_credential_type"), "credential", ["type"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_credential_type"), table_name="credential")
    op.drop_index(op.f("ix_credential_subject_lookup"), table_name="credential")
    op.drop_index(op.f("ix_credential_issuer_code"), table_name="credential")

    op.drop_table("credential")
    op.drop_index(op.f("ix_signing_key_authority_code"), table_name="signing_key")

    op.drop_table("signing_key")
    op.drop_table("authority")

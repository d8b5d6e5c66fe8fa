"""Records and their states, the parties they name, status changes, status lists,
and idempotency keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("credential_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(request_digest) = 64", name=op.f("ck_idempotency_key_digest_hex")
        ),
        sa.PrimaryKeyConstraint("role", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_table(
        "record",
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revocation_index", sa.BigInteger(), nullable=True),
        sa.Column("suspension_index", sa.BigInteger(), nullable=True),
        sa.Column("earliest_removal_on", sa.Date(), nullable=True),
        sa.Column("replaces", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('active', 'suspended', 'revoked', 'cancelled', 'listed', 'lifted', 'withdrawn')",
            name=op.f("ck_record_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["authority_code"], ["authority.code"], name=op.f("fk_record_authority_code_authority")
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credential.id"], name=op.f("fk_record_credential_id_credential")
        ),
        sa.ForeignKeyConstraint(
            ["replaces"], ["credential.id"], name=op.f("fk_record_replaces_credential")
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_record")),
        sa.UniqueConstraint(
            "authority_code", "revocation_index", name="uq_record_revocation_index"
        ),
        sa.UniqueConstraint(
            "authority_code", "suspension_index", name="uq_record_suspension_index"
        ),
        sa.UniqueConstraint("replaces", name=op.f("uq_record_replaces")),
    )
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_authority_code"), ["authority_code"], unique=False
        )
        batch_op.create_index("ix_record_number", ["type", "number"], unique=False)

    op.create_table(
        "status_list",
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("allocated_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('revocation', 'suspension')", name=op.f("ck_status_list_purpose_known")
        ),
        sa.CheckConstraint(
            "size >= 131072 AND size % 8 = 0", name=op.f("ck_status_list_size_allowed")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_status_list_version_positive")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_status_list_authority_code_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_status_list_credential_id_credential"),
        ),
        sa.PrimaryKeyConstraint("authority_code", "purpose", name=op.f("pk_status_list")),
    )
    op.create_table(
        "record_party",
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lookup_key", sa.String(length=64), nullable=True),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.CheckConstraint(
            "(lookup_key IS NULL) <> (credit_code IS NULL)",
            name=op.f("ck_record_party_person_or_organisation"),
        ),
        sa.CheckConstraint(
            "credit_code IS NULL OR length(credit_code) = 18",
            name=op.f("ck_record_party_credit_code_18"),
        ),
        sa.CheckConstraint(
            "lookup_key IS NULL OR length(lookup_key) = 64",
            name=op.f("ck_record_party_lookup_hmac_hex"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["record.credential_id"],
            name=op.f("fk_record_party_credential_id_record"),
        ),
        sa.PrimaryKeyConstraint("credential_id", "position", name=op.f("pk_record_party")),
    )
    with op.batch_alter_table("record_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_party_credit_code"), ["credit_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_record_party_lookup_key"), ["lookup_key"], unique=False
        )

    op.create_table(
        "status_change",
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("state_before", sa.String(length=16), nullable=False),
        sa.Column("state_after", sa.String(length=16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_status_change_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["record.credential_id"], name=op.f("fk_status_change_target_id_record")
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_status_change")),
    )
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_change_target_id"), ["target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_change_target_id"))

    op.drop_table("status_change")
    with op.batch_alter_table("record_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_party_lookup_key"))
        batch_op.drop_index(batch_op.f("ix_record_party_credit_code"))

    op.drop_table("record_party")
    op.drop_table("status_list")
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_index("ix_record_number")
        batch_op.drop_index(batch_op.f("ix_record_authority_code"))

    op.drop_table("record")
    op.drop_table("idempotency_key")

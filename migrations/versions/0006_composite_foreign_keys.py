"""One composite foreign key where two single ones were, on the tables issuing fills.

A credential refers to its signing key together with its issuer (the key must be
the issuer's own); a log entry and a record refer to a credential together with
their authority (a log holds only its authority's credentials, a record projects
only its authority's credential). Each is one check per inserted row instead of
two, and says more. Subtree hashes, derived data written with the log head
locked, lose their foreign key to the head. The single-column authority indexes
give way to the unique (authority, id) indexes that lead with the same column, and
the credential table loses two indexes nothing queries (by type and by subject:
records and the parties they name are what is searched).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_signing_key_authority", ["authority_code", "verification_method"]
        )

    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_issuer_code"))
        batch_op.drop_index(batch_op.f("ix_credential_type"))
        batch_op.drop_index(batch_op.f("ix_credential_subject_lookup"))
        batch_op.create_unique_constraint("uq_credential_issuer", ["issuer_code", "id"])
        batch_op.drop_constraint(
            batch_op.f("fk_credential_verification_method_signing_key"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_credential_issuer_code_authority"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            "fk_credential_signing_key",
            "signing_key",
            ["issuer_code", "verification_method"],
            ["authority_code", "verification_method"],
        )

    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_log_entry_authority_code_log_head"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_log_entry_credential_id_credential"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            "fk_log_entry_credential",
            "credential",
            ["authority_code", "credential_id"],
            ["issuer_code", "id"],
        )

    with op.batch_alter_table("log_node", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_log_node_authority_code_log_head"), type_="foreignkey"
        )

    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_authority_code"))
        batch_op.drop_constraint(
            batch_op.f("fk_record_authority_code_authority"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_record_credential_id_credential"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            "fk_record_credential",
            "credential",
            ["authority_code", "credential_id"],
            ["issuer_code", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_constraint("fk_record_credential", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_record_credential_id_credential"),
            "credential",
            ["credential_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_record_authority_code_authority"),
            "authority",
            ["authority_code"],
            ["code"],
        )
        batch_op.create_index(
            batch_op.f("ix_record_authority_code"), ["authority_code"], unique=False
        )

    with op.batch_alter_table("log_node", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_log_node_authority_code_log_head"),
            "log_head",
            ["authority_code"],
            ["authority_code"],
        )

    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_constraint("fk_log_entry_credential", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_log_entry_credential_id_credential"),
            "credential",
            ["credential_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_log_entry_authority_code_log_head"),
            "log_head",
            ["authority_code"],
            ["authority_code"],
        )

    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_constraint("fk_credential_signing_key", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_credential_issuer_code_authority"),
            "authority",
            ["issuer_code"],
            ["code"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credential_verification_method_signing_key"),
            "signing_key",
            ["verification_method"],
            ["verification_method"],
        )
        batch_op.drop_constraint("uq_credential_issuer", type_="unique")
        batch_op.create_index(
            batch_op.f("ix_credential_issuer_code"), ["issuer_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credential_type"), ["type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_credential_subject_lookup"), ["subject_lookup"], unique=False
        )

    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_constraint("uq_signing_key_authority", type_="unique")

"""Receipts of imports and batches, and the key that finds the same CE credit.

``receipt`` and ``receipt_row`` keep, for every import and API batch, who issued it,
when, for which authority, from which file, and which credential each input row
became. ``record.course_key`` hashes a CE credit's holder look-up key, provider,
course title and completion day (``registry.issuing.duplicates.course_key``), so
that issuing the same credit again is found with an index; it is filled in here for
the CE credits already held.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.issuing.duplicates import course_key

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _course_keys(connection: sa.Connection) -> list[dict[str, object]]:
    rows = connection.execute(
        sa.text(
            "SELECT r.credential_id, p.lookup_key, c.canonical FROM record r "
            "JOIN credential c ON c.id = r.credential_id "
            "JOIN record_party p ON p.credential_id = r.credential_id AND p.role = 'holder' "
            "WHERE r.type = 'ContinuingEducationCredit' AND p.lookup_key IS NOT NULL"
        )
    ).all()
    keys: list[dict[str, object]] = []
    for credential_id, lookup_key, canonical in rows:
        subject = json.loads(canonical)["credentialSubject"]
        keys.append(
            {
                "b_id": credential_id,
                "b_key": course_key(
                    lookup_key,
                    subject["provider"]["creditCode"],
                    subject["course"]["title"],
                    subject["completedOn"],
                ),
            }
        )
    return keys


def upgrade() -> None:
    with op.batch_alter_table("record") as batch:
        batch.add_column(sa.Column("course_key", sa.String(length=64), nullable=True))
        batch.create_check_constraint(
            "course_key_sha256_hex", "course_key IS NULL OR length(course_key) = 64"
        )
    op.create_index("ix_record_course_key", "record", ["course_key"], unique=False)
    connection = op.get_bind()
    keys = _course_keys(connection)
    record = sa.table(
        "record", sa.column("credential_id", sa.String), sa.column("course_key", sa.String)
    )
    update = (
        record.update()
        .where(record.c.credential_id == sa.bindparam("b_id"))
        .values(course_key=sa.bindparam("b_key"))
    )
    for start in range(0, len(keys), _BATCH):
        connection.execute(update, keys[start : start + _BATCH])
    op.create_table(
        "receipt",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('import', 'batch')", name=op.f("ck_receipt_kind_known")),
        sa.CheckConstraint("rows > 0", name=op.f("ck_receipt_rows_positive")),
        sa.ForeignKeyConstraint(
            ["authority_code"], ["authority.code"], name=op.f("fk_receipt_authority_code_authority")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_token.id"], name=op.f("fk_receipt_token_id_api_token")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt")),
    )
    op.create_index(
        "ix_receipt_authority_created", "receipt", ["authority_code", "created_at"], unique=False
    )
    op.create_table(
        "receipt_row",
        sa.Column("receipt_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_receipt_row_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["receipt.id"], name=op.f("fk_receipt_row_receipt_id_receipt")
        ),
        sa.PrimaryKeyConstraint("receipt_id", "position", name=op.f("pk_receipt_row")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_receipt_row_credential_id")),
    )


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM receipt")).scalar_one()
    if held:
        raise RuntimeError(
            f"this database keeps {held} receipt(s) of imports and batches, which exist "
            "nowhere else and which the earlier schema has no place for: going below "
            "revision 0012 would destroy them, so it is refused"
        )
    op.drop_table("receipt_row")
    op.drop_index("ix_receipt_authority_created", table_name="receipt")
    op.drop_table("receipt")
    op.drop_index("ix_record_course_key", table_name="record")
    with op.batch_alter_table("record") as batch:
        batch.drop_constraint("course_key_sha256_hex", type_="check")
        batch.drop_column("course_key")

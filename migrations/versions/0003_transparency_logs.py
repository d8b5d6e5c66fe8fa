"""Transparency logs: heads, entries, stored subtree hashes and signed checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_head",
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(root) = 32", name=op.f("ck_log_head_root_sha256")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_log_head_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["authority.code"],
            name=op.f("fk_log_head_authority_code_authority"),
        ),
        sa.PrimaryKeyConstraint("authority_code", name=op.f("pk_log_head")),
        sa.UniqueConstraint("origin", name=op.f("uq_log_head_origin")),
    )
    op.create_table(
        "log_checkpoint",
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("verification_method", sa.String(length=255), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(root) = 32", name=op.f("ck_log_checkpoint_root_sha256")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["log_head.authority_code"],
            name=op.f("fk_log_checkpoint_authority_code_log_head"),
        ),
        sa.ForeignKeyConstraint(
            ["verification_method"],
            ["signing_key.verification_method"],
            name=op.f("fk_log_checkpoint_verification_method_signing_key"),
        ),
        sa.PrimaryKeyConstraint("authority_code", "tree_size", name=op.f("pk_log_checkpoint")),
    )
    op.create_table(
        "log_node",
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("length(hash) = 32", name=op.f("ck_log_node_hash_sha256")),
        sa.CheckConstraint("level >= 0 AND level < 64", name=op.f("ck_log_node_level_range")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["log_head.authority_code"],
            name=op.f("fk_log_node_authority_code_log_head"),
        ),
        sa.PrimaryKeyConstraint("authority_code", "level", "node_index", name=op.f("pk_log_node")),
    )
    op.create_table(
        "log_entry",
        sa.Column("authority_code", sa.String(length=8), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_log_entry_index_not_negative")),
        sa.CheckConstraint("length(leaf_hash) = 32", name=op.f("ck_log_entry_leaf_hash_sha256")),
        sa.ForeignKeyConstraint(
            ["authority_code"],
            ["log_head.authority_code"],
            name=op.f("fk_log_entry_authority_code_log_head"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"], ["credential.id"], name=op.f("fk_log_entry_credential_id_credential")
        ),
        sa.PrimaryKeyConstraint("authority_code", "leaf_index", name=op.f("pk_log_entry")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_log_entry_credential_id")),
    )
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_log_entry_leaf_hash", ["authority_code", "leaf_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_log_entry_leaf_hash")

    op.drop_table("log_entry")
    op.drop_table("log_node")
    op.drop_table("log_checkpoint")
    op.drop_table("log_head")

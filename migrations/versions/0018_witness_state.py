"""Witnessing: witness keys, what each other member's log was last cosigned at, and
the cosignatures the witnesses gave this node's checkpoints.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.storage.base import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PURPOSES = "purpose IN ('issuing', 'log', 'node'{})"


def _purposes(names: str) -> None:  # drops and remakes the check (SQLite: the table)
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_signing_key_purpose_known"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_signing_key_purpose_known"), _PURPOSES.format(names)
        )


def upgrade() -> None:
    _purposes(", 'witness'")
    op.create_table(
        "witness_state",
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("authority_code", sa.String(8), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cosigned_at", UTCDateTime(), nullable=False),
        sa.Column("conflict", sa.Text(), nullable=True),
        sa.CheckConstraint("length(root) = 32", name=op.f("ck_witness_state_root_sha256")),
    )
    op.create_table(
        "log_cosignature",
        sa.Column("authority_code", sa.String(8), primary_key=True),
        sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("cosigned_at", UTCDateTime(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    bind = op.get_bind()
    # Gone already when an earlier try went down past this on SQLite (whose driver runs
    # DDL outside the migration's transaction) and a later migration refused.
    exists = sa.inspect(bind).has_table("witness_state")
    held = bind.execute(sa.text("SELECT count(*) FROM witness_state")).scalar_one() if exists else 0
    if held:
        raise RuntimeError(
            f"this node has cosigned {held} member log(s) as their witness: going below "
            "revision 0018 would forget what it cosigned, and a witness that forgets can "
            "be made to cosign a fork, so it is refused"
        )
    # IF EXISTS: SQLite's driver runs DDL outside the migration's transaction. The
    # cosignatures are the witnesses' to give again; what this node cosigned is not.
    op.execute("DROP TABLE IF EXISTS log_cosignature")
    op.execute("DROP TABLE IF EXISTS witness_state")
    # The witness keys stay, and with them the purpose that allows them: the code
    # before knows no use for them and leaves them be, and going up again loses none.

"""Names of the parties records name, as exact and near matching compare them.

``record_party.name_key`` is the name with width folded, spaces removed and case
folded (``registry.ids.name_key``); ``name_core`` also sets aside bracketed parts,
punctuation and a legal form at the end (``registry.ids.name_core``). Both are
indexed: an inspector's search by name reads them, not every name. Existing rows
are filled in from their names.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.ids import name_core, name_key

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("record_party") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("name_core", sa.String(length=200), nullable=True))
    connection = op.get_bind()
    party = sa.table(
        "record_party",
        sa.column("credential_id", sa.String),
        sa.column("position", sa.SmallInteger),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("name_core", sa.String),
    )
    rows = connection.execute(
        sa.select(party.c.credential_id, party.c.position, party.c.name)
    ).all()
    update = (
        party.update()
        .where(
            party.c.credential_id == sa.bindparam("b_id"),
            party.c.position == sa.bindparam("b_position"),
        )
        .values(name_key=sa.bindparam("b_key"), name_core=sa.bindparam("b_core"))
    )
    for start in range(0, len(rows), _BATCH):
        connection.execute(
            update,
            [
                {"b_id": i, "b_position": p, "b_key": name_key(n), "b_core": name_core(n)}
                for i, p, n in rows[start : start + _BATCH]
            ],
        )
    with op.batch_alter_table("record_party") as batch:
        batch.alter_column("name_key", existing_type=sa.String(length=200), nullable=False)
        batch.alter_column("name_core", existing_type=sa.String(length=200), nullable=False)
        batch.create_index(batch.f("ix_record_party_name_key"), ["name_key"], unique=False)
        batch.create_index(batch.f("ix_record_party_name_core"), ["name_core"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_party") as batch:
        batch.drop_index(batch.f("ix_record_party_name_core"))
        batch.drop_index(batch.f("ix_record_party_name_key"))
        batch.drop_column("name_core")
        batch.drop_column("name_key")

"""Person identifiers that give nothing away: look-up key versions and disclosures.

A credential now names a person by a masked number, a binding whose salt it does not
carry, and the look-up key under a version of the federation's secret
(``registry.ids.PersonIdentifier``). ``record_party.lookup_version`` names that
version; ``disclosure`` keeps each binding's salt, sealed, for the issuing authority
to hand to the person.

Each person's version is read from the credential that names them. Records in the
earlier form cannot be converted (they are signed, and carried a salt beside their
digest, which gives the number away): a database that holds any is refused with what
to do. Only demonstration data was ever in that form. Going back down is refused
while any disclosure is kept: the earlier schema has no place for them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.credentials.records import named_parties
from registry.errors import InvalidResidentId

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_BATCH = 5000


def _versions(connection: sa.Connection) -> list[dict[str, object]]:
    """Each person's look-up secret version, as their credential signs it; refuses a
    database with records of the earlier form."""
    rows = connection.execute(
        sa.text(
            "SELECT p.credential_id, p.position, c.type, c.canonical FROM record_party p "
            "JOIN credential c ON c.id = p.credential_id WHERE p.lookup_key IS NOT NULL"
        )
    ).all()
    versions: list[dict[str, object]] = []
    earlier = 0
    for credential_id, position, kind, canonical in rows:
        try:
            subject = json.loads(canonical)["credentialSubject"]
            identifier = named_parties(kind, subject)[position].identifier
        except InvalidResidentId:
            earlier += 1
            continue
        if identifier is None:
            raise RuntimeError(f"record_party {credential_id} #{position} names no person")
        versions.append(
            {"b_id": credential_id, "b_position": position, "b_version": identifier.lookup_secret}
        )
    if earlier:
        raise RuntimeError(
            f"this database holds {earlier} person(s) in records of the earlier credential "
            "form, whose salted digest gives the ID number away, and which cannot be "
            "re-signed in place. Only demonstration data was ever issued in that form: "
            "move the data directory aside and run `make run` (`registry serve --demo`) "
            "again to start from a fresh demonstration federation."
        )
    return versions


def upgrade() -> None:
    connection = op.get_bind()
    versions = _versions(connection)
    with op.batch_alter_table("record_party") as batch:
        batch.add_column(sa.Column("lookup_version", sa.String(length=8), nullable=True))
    party = sa.table(
        "record_party",
        sa.column("credential_id", sa.String),
        sa.column("position", sa.SmallInteger),
        sa.column("lookup_version", sa.String),
    )
    update = (
        party.update()
        .where(
            party.c.credential_id == sa.bindparam("b_id"),
            party.c.position == sa.bindparam("b_position"),
        )
        .values(lookup_version=sa.bindparam("b_version"))
    )
    for start in range(0, len(versions), _BATCH):
        connection.execute(update, versions[start : start + _BATCH])
    with op.batch_alter_table("record_party") as batch:
        batch.create_check_constraint(
            "lookup_key_has_version", "(lookup_key IS NULL) = (lookup_version IS NULL)"
        )
    op.create_table(
        "disclosure",
        sa.Column("credential_id", sa.String(length=128), nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("sealed", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id", "position"],
            ["record_party.credential_id", "record_party.position"],
            name="fk_disclosure_party",
        ),
        sa.PrimaryKeyConstraint("credential_id", "position", name=op.f("pk_disclosure")),
    )


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM disclosure")).scalar_one()
    if held:
        raise RuntimeError(
            f"this database keeps {held} disclosure(s), which exist nowhere else and which "
            "the earlier schema has no place for: going below revision 0011 would destroy "
            "them, so it is refused"
        )
    op.drop_table("disclosure")
    with op.batch_alter_table("record_party") as batch:
        batch.drop_constraint("lookup_key_has_version", type_="check")
        batch.drop_column("lookup_version")

"""Metadata shared by every table: the constraint naming convention and column types.

Import this module before defining any table so that every constraint gets a
predictable name and migrations never have to guess one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from sqlalchemy import DateTime, Table, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "bulk_insert",
    "insert_or_skip",
    "locked_row",
    "metadata",
    "table_of",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back in UTC.

    PostgreSQL stores ``timestamptz``; SQLite stores the UTC wall time. Naive
    datetimes are refused on the way in, so no local time ever slips into a record.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored timestamp must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model: bulk inserts through it skip the ORM's per-row work."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def bulk_insert(session: Session, model: type[SQLModel], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows of a table in the session's transaction, as fast as the database can.

    PostgreSQL gets one ``COPY`` (a statement per row costs more than the row);
    SQLite, one ``executemany``. Values go in as given: timestamps must be aware.
    A violated constraint raises SQLAlchemy's ``IntegrityError`` on both.
    """
    if not rows:
        return
    table = table_of(model)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    session.flush()  # rows this one refers to may still be pending in the session
    columns = [column.name for column in table.columns if column.name in rows[0]]
    names = ", ".join(f'"{name}"' for name in columns)
    driver = session.connection().connection.driver_connection
    if driver is None:
        raise TypeError("no database connection to copy into")
    types = _binary_types(table, tuple(columns), session.get_bind().dialect)
    # Binary where every column's type has a binary form here: neither side then
    # writes or parses text for times, numbers and bytes.
    binary = " (FORMAT BINARY)" if types is not None else ""
    statement = f'COPY "{table.name}" ({names}) FROM STDIN{binary}'  # names from the model
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(list(types))
            for row in rows:
                copy.write_row([row[name] for name in columns])
    except psycopg.IntegrityError as exc:
        # As SQLite's path raises it: callers catch one kind of constraint violation.
        raise IntegrityError(statement, None, exc) from exc


_BINARY = {
    "VARCHAR": "text",
    "TEXT": "text",
    "BIGINT": "int8",
    "INTEGER": "int4",
    "SMALLINT": "int2",
    "BOOLEAN": "bool",
    "BYTEA": "bytea",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}
"""PostgreSQL column types by how they are declared, and the type whose binary form
``COPY`` writes for them (``varchar`` is received as ``text`` is)."""


@functools.lru_cache(maxsize=256)
def _binary_types(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, ...] | None:
    """The binary ``COPY`` types of ``columns`` of ``table``, or ``None`` if one has
    a type without a binary form here (that table is then copied as text)."""
    types = []
    for name in columns:
        declared = table.columns[name].type.compile(dialect=dialect).split("(")[0].strip()
        if declared not in _BINARY:
            return None
        types.append(_BINARY[declared])
    return tuple(types)


_Row = TypeVar("_Row", bound=SQLModel)


def locked_row(session: Session, model: type[_Row], key: Any, column: Any) -> _Row | None:
    """The row of ``model`` where ``key`` holds (a condition on its primary key), with
    its write lock taken for the transaction; ``None`` if there is none. A no-op
    UPDATE of ``column`` takes the lock (a row lock on PostgreSQL, the database's
    write lock on SQLite), and RETURNING reads the row in the same trip."""
    return session.execute(
        update(model)
        .where(key)
        .values({column: column})
        .returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar_one_or_none()


def insert_or_skip(session: Session, model: type[SQLModel], keys: Sequence[str]) -> Any:
    """An INSERT into ``model`` in the session's dialect (PostgreSQL or SQLite) that
    does nothing where a row with the same ``keys`` exists: add ``.values(...)`` and
    execute it. Its result's ``rowcount`` says whether a row was written."""
    insert_into = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    return insert_into(model).on_conflict_do_nothing(index_elements=list(keys))

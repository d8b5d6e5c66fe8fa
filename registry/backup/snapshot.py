"""A database's rows, read from one consistent snapshot while the server runs, and
written back into an empty database.

**Why not pg_dump.** The rows are read through the same table definitions the
registry runs with, inside one transaction:

- PostgreSQL: REPEATABLE READ, READ ONLY. Every table is read from the one snapshot
  the transaction took at its first query, however long the dump takes, and writers
  are never blocked (a server keeps issuing meanwhile). ``pg_dump`` gives the same
  guarantee, but it must be installed on the node in the server's major version,
  its output needs ``pg_restore`` or ``psql`` of that version to come back, and it
  cannot be restored into the embedded database.
- SQLite: the online backup API copies the live database page by page into a
  private file (the copy restarts if a writer changes a page meanwhile, so it is
  one consistent state); the rows are read from that copy.

Either way the rows become the same portable lines (JSON, bytes and times tagged),
so a backup of either kind restores into either kind: an embedded node can move to
PostgreSQL by backup and restore. The backup names the schema revision it was made
at; it is restored only into a database at that revision (the code's latest).
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.engine import make_url

from registry.errors import BackupError
from registry.storage.base import metadata
from registry.storage.db import make_engine

__all__ = [
    "decode_row",
    "encode_row",
    "is_empty",
    "read_snapshot",
    "reset_sequences",
    "table_rows",
    "tables",
    "write_rows",
]

_BATCH = 1000


def tables() -> list[Table]:
    """Every table of the schema, each after the tables it refers to."""
    return list(metadata.sorted_tables)


def encode_row(values: Iterable[Any]) -> list[Any]:
    """A row's values as JSON values: bytes, times and JSON documents tagged."""
    return [_encode(value) for value in values]


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise BackupError("a stored timestamp has no time zone")
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, dict | list):
        return {"$j": value}
    raise BackupError(f"a stored value of type {type(value).__name__} cannot be backed up")


def decode_row(values: list[Any]) -> list[Any]:
    """The inverse of ``encode_row``."""
    return [_decode(value) for value in values]


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise BackupError("the backup holds a value it does not describe")
    ((tag, inner),) = value.items()
    if tag == "$b":
        return base64.b64decode(inner, validate=True)
    if tag == "$t":
        return datetime.fromisoformat(inner)
    if tag == "$d":
        return date.fromisoformat(inner)
    if tag == "$j":
        return inner
    raise BackupError(f"the backup holds a value tagged {tag!r}")


@contextlib.contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection reading one consistent state of the database (see the module),
    for as long as the block runs."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as opened:
            connection = opened.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield connection
        return
    if engine.dialect.name != "sqlite":
        raise BackupError(f"a {engine.dialect.name} database cannot be backed up")
    url = make_url(str(engine.url))
    # The copy is as private as the database file: beside it, owner-only, removed after.
    parent = Path(url.database).parent if url.database else None
    with tempfile.TemporaryDirectory(dir=parent, prefix=".backup-") as work:
        copy = Path(work) / "snapshot.sqlite3"
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            if not isinstance(source, sqlite3.Connection):
                raise BackupError("the SQLite driver gave no connection to copy from")
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            raw.close()
        copied = make_engine(f"sqlite:///{copy}")
        try:
            with copied.connect() as connection, connection.begin():
                yield connection
        finally:
            copied.dispose()


def table_rows(connection: Connection, table: Table) -> Iterator[list[Any]]:
    """The rows of ``table`` in primary-key order, as JSON values, read in batches."""
    query = sa.select(*table.columns).order_by(*table.primary_key.columns)
    result = connection.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    for row in result:
        yield encode_row(row)


def is_empty(connection: Connection) -> tuple[bool, str]:
    """Whether the database holds no row of the registry's tables (a new database,
    or one only migrated), and if not, the first table that has rows."""
    present = set(sa.inspect(connection).get_table_names())
    for table in tables():
        if (
            table.name in present
            and connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
        ):
            return False, table.name
    return True, ""


def write_rows(
    connection: Connection, table: Table, columns: list[str], rows: list[list[Any]]
) -> None:
    """Insert backed-up rows into ``table`` (``columns`` as the backup names them,
    each a column the table has)."""
    unknown = [name for name in columns if name not in table.columns]
    if unknown:
        raise BackupError(
            f"the backup's table {table.name} has columns this schema lacks: {unknown}"
        )
    if rows:
        connection.execute(
            sa.insert(table), [dict(zip(columns, decode_row(row), strict=True)) for row in rows]
        )


def reset_sequences(connection: Connection) -> None:
    """On PostgreSQL, move each table's id sequence past the ids restored, so the next
    row gets a new one."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables():
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto"
                and len(table.primary_key.columns) == 1
                and isinstance(column.type, sa.Integer)
            ):
                sequence = connection.execute(
                    sa.select(sa.func.pg_get_serial_sequence(table.name, column.name))
                ).scalar()
                if sequence is None:
                    continue
                highest = connection.execute(sa.select(sa.func.max(column))).scalar()
                connection.execute(
                    sa.select(sa.func.setval(sequence, highest or 1, highest is not None))
                )

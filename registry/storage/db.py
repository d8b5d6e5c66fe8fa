"""Engines and migrations: the only place that knows how to reach the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from registry.errors import DatabaseNotReady
from registry.storage import models as _models  # noqa: F401  (fills the metadata)
from registry.storage.base import metadata

__all__ = [
    "PREPARED",
    "SchemaStatus",
    "alembic_config",
    "begin_exclusive",
    "begin_snapshot",
    "engine_scope",
    "make_engine",
    "migration_heads",
    "read_scope",
    "schema_drift",
    "schema_status",
    "session_scope",
    "upgrade",
]


def _configure_sqlite(busy_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
    # Write-ahead logging: a reader (a verification's snapshot) and a writer do not
    # wait for each other. Kept in the database file once set.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    pool_timeout: float = 30.0,
    busy_timeout: float = 60.0,
    connect_timeout: int = 10,
) -> Engine:
    """Create an engine keeping ``pool_size`` connections open (10 more for a burst), a
    checkout waiting ``pool_timeout`` seconds at most for one free; for SQLite, make
    its directory, enforce foreign keys, wait up to ``busy_timeout`` seconds for another
    connection's write, and log ahead (WAL); for PostgreSQL, give up connecting after
    ``connect_timeout`` seconds."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", partial(_configure_sqlite, round(busy_timeout * 1000)))
        return engine
    # No server-side prepared statements by default: psycopg would prepare any
    # statement it has seen five times, and PostgreSQL then keeps one generic plan
    # for it per connection. A plan made while a table was small scans the whole
    # table once it is large (a bulk import, say), until statistics are next
    # gathered. A statement opts in with the ``PREPARED`` execution options: a
    # lookup by key, whose plan is the same at any size, and which is planned at
    # greater cost than it runs (a join of five tables).
    # A server keeps ``pool_size`` connections: beyond them (and 10 for a burst) each
    # checkout would open a connection, and PostgreSQL forks a process for each.
    # A connection idle for a while is tested before use (``_ping_if_idle``).
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_timeout=pool_timeout,
        # A threshold never reached: psycopg prepares only what asks for it (``None``
        # would refuse those too). A server that does not answer fails the connect.
        connect_args={"prepare_threshold": _NEVER, "connect_timeout": connect_timeout},
    )
    event.listen(engine, "do_execute", _execute_prepared)
    event.listen(engine, "connect", _note_checkin)  # a new connection is not tested
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


_IDLE_SECONDS = 10.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # A connection back in the pool less than ``_IDLE_SECONDS`` ago was working
    # then; one idle for longer may have been closed by the server (a restart, an
    # idle timeout) and is tested first. Raising DisconnectionError makes the pool
    # discard it and check out another. One in steady use costs no extra round trip
    # (``pool_pre_ping`` would cost one each); a server restarted within those
    # seconds fails the request that finds the connection dead, and the pool then
    # replaces every connection it holds.
    if time.monotonic() - record.info.get("checked_in", 0.0) < _IDLE_SECONDS:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        # End the transaction the test began; a commit, as psycopg forgets the
        # connection's prepared statements on a rollback.
        dbapi_connection.commit()
    except Exception as exc:  # any failure: this connection is not to be used
        raise DisconnectionError(f"a pooled connection failed its test: {exc}") from exc


_NEVER = 2**62

PREPARED = {"prepared": True}
"""Execution options of a statement PostgreSQL prepares once per connection (see
``make_engine``); elsewhere they change nothing."""


def _execute_prepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    if context.execution_options.get("prepared"):
        cursor.execute(statement, parameters, prepare=True)
        return True
    return False


@contextmanager
def engine_scope(database_url: str, *, pool_size: int = 5) -> Iterator[Engine]:
    """An engine for one command or one test, disposed of when the block ends."""
    engine = make_engine(database_url, pool_size=pool_size)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def begin_snapshot(session: Session, *, writes: bool = False) -> None:
    """Begin the session's transaction reading from one snapshot, so that every
    query sees the database as the first did: REPEATABLE READ on PostgreSQL, an
    explicit BEGIN on SQLite (whose driver otherwise reads outside any
    transaction). For reads that must agree with each other, such as records and
    the log checkpoints that prove them; raises ``RuntimeError`` if the transaction
    has begun already.

    ``writes``: the transaction will also write (an access-audit entry beside the
    answer it records). SQLite cannot turn a reader into a writer once another
    connection has committed since its snapshot began: the write fails at once with
    "database is locked", whatever the busy timeout. So on SQLite such a snapshot
    begins as the writer (BEGIN IMMEDIATE), waiting its turn under the busy timeout;
    readers are never blocked by it. PostgreSQL needs nothing: an insert into a
    REPEATABLE READ snapshot does not conflict with other commits."""
    if session.in_transaction():
        raise RuntimeError("a snapshot must begin the transaction")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    elif dialect == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def begin_exclusive(session: Session, key: int) -> None:
    """Begin the session's transaction holding a lock that any other process asking
    for it with the same ``key`` waits for until this transaction ends, so that
    check-then-write work (seeding what is missing) runs one process at a time:
    PostgreSQL's transaction-scoped advisory lock ``key``; on SQLite the database's
    write lock (BEGIN IMMEDIATE), which every writer waits for under the busy
    timeout. Raises ``RuntimeError`` if the transaction has begun already."""
    if session.in_transaction():
        raise RuntimeError("an exclusive transaction must begin with its lock")
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session for reads only, ended with a commit whatever happens: it changed
    nothing to undo, and psycopg forgets a connection's prepared statements on a
    rollback (so every refused request would cost them)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            try:
                session.commit()
            except SQLAlchemyError:
                session.rollback()


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations and, if given, the engine."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("migrations")))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@cache
def migration_heads() -> tuple[str, ...]:
    """The latest revision(s) of the packaged migrations (read once per process)."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the latest).

    Raises ``DatabaseNotReady`` if the database cannot be reached.
    """
    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise DatabaseNotReady(f"database unreachable: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database's schema stands against the migrations."""

    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        """Whether the database is migrated to the latest revision."""
        return set(self.current) == set(self.head)


def schema_status(engine: Engine) -> SchemaStatus:
    """Read the current revision; raises ``DatabaseNotReady`` if the database is unreachable."""
    head = migration_heads()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = tuple(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise DatabaseNotReady(f"database unreachable: {type(exc).__name__}") from exc
    return SchemaStatus(current=current, head=head)


def schema_drift(engine: Engine) -> list[Any]:
    """Differences between the tables in code and the migrated database (empty: none).

    Raises ``DatabaseNotReady`` if the database cannot be reached.
    """
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    except OperationalError as exc:
        raise DatabaseNotReady(f"database unreachable: {type(exc).__name__}") from exc

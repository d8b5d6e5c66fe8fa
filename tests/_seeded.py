"""The demo seeded once per worker and handed to each test as a copy: a node's data
directory and database exactly as seeding left them, the database a clone (a
PostgreSQL database made from a seeded template) or a copy (an SQLite file) of one
seeded for the same settings.

A copy is given only where it stands for a seeding of the test's own: its data
directory is empty, its database is migrated and empty, and nothing else holds a
connection to it. Otherwise the demo is seeded there as before. ``pg_server`` names
the migrated template (``use_template``) and drops what was made from it when the
session ends (``drop_templates``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr
from sqlalchemy import literal, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from registry.settings import Settings
from registry.storage.base import metadata
from registry.storage.db import engine_scope

__all__ = ["drop_templates", "seeded", "use_template"]

Seed = Callable[[Settings], dict[str, str]]
"""Seeds the demo into a node's database and data directory; returns its tokens."""


@dataclass(frozen=True)
class _Seeded:
    backend: str
    data_dir: Path
    database: str
    """The seeded SQLite file, or the name of the seeded PostgreSQL template."""
    tokens: dict[str, str]


@dataclass
class _Server:
    admin: dict[str, Any]
    template: str
    made: list[str]


_ROOT = Path(tempfile.mkdtemp(prefix="registry-seeded-"))
atexit.register(shutil.rmtree, _ROOT, True)
_CACHE: dict[str, _Seeded] = {}
_SERVER: list[_Server] = []


def use_template(*, host: str, port: int, user: str, password: str | None, template: str) -> None:
    """The PostgreSQL server of the session and its migrated template database."""
    admin = {"host": host, "port": port, "user": user, "password": password, "dbname": "postgres"}
    _SERVER[:] = [_Server(admin, template, [])]


def drop_templates() -> None:
    """Drop the seeded template databases made on the session's server."""
    for server in _SERVER:
        with psycopg.connect(**server.admin, autocommit=True) as connection:
            for name in server.made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _SERVER.clear()
    for key in [k for k, v in _CACHE.items() if v.backend == "postgresql"]:
        del _CACHE[key]


def seeded(settings: Settings, *, variant: str, seed: Seed) -> dict[str, str]:
    """Give the node of ``settings`` the demo as ``seed`` seeds it (``variant`` tells
    seedings of the same settings apart); returns the tokens."""
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "postgresql" and not _SERVER:
        return seed(settings)
    if not _pristine(settings):
        return seed(settings)
    key = json.dumps(
        [backend, variant, settings.model_dump(exclude={"data_dir", "database_url"})],
        default=_plain,
        sort_keys=True,
    )
    found = _CACHE.get(key)
    if found is None:
        found = _seed_once(settings, url, seed)
        _CACHE[key] = found
    if backend == "sqlite":
        if not _copy_sqlite(found.database, url):
            return seed(settings)
    elif not _clone_postgresql(found.database, url):
        return seed(settings)
    shutil.copytree(found.data_dir, settings.data_dir, dirs_exist_ok=True)
    return dict(found.tokens)


def _plain(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def _pristine(settings: Settings) -> bool:
    """Whether the node's data directory is empty and its database migrated and empty."""
    if settings.data_dir.exists() and any(settings.data_dir.iterdir()):
        return False
    try:
        with engine_scope(settings.database_url) as engine, engine.connect() as connection:
            return not any(
                connection.execute(select(literal(1)).select_from(table).limit(1)).first()
                for table in metadata.sorted_tables
            )
    except SQLAlchemyError:
        return False


def _seed_once(settings: Settings, url: URL, seed: Seed) -> _Seeded:
    number = len(_CACHE)
    data_dir = _ROOT / f"data-{number}"
    if url.get_backend_name() == "sqlite":
        assert url.database
        database = str(_ROOT / f"seeded-{number}.sqlite3")
        shutil.copyfile(url.database, database)
        target = f"sqlite:///{database}"
    else:
        (server,) = _SERVER
        database = f"registry_seeded_{os.getpid()}_{number}"
        with psycopg.connect(**server.admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}" TEMPLATE "{server.template}"')
        server.made.append(database)
        target = url.set(database=database).render_as_string(hide_password=False)
    tokens = seed(settings.model_copy(update={"data_dir": data_dir, "database_url": target}))
    return _Seeded(url.get_backend_name(), data_dir, database, tokens)


def _copy_sqlite(seeded_file: str, url: URL) -> bool:
    assert url.database
    path = Path(url.database)
    if any(path.with_name(path.name + end).exists() for end in ("-wal", "-shm")):
        return False  # a connection is open on it
    copy = path.with_name(path.name + ".seeded")
    shutil.copyfile(seeded_file, copy)
    os.replace(copy, path)
    return True


def _clone_postgresql(template: str, url: URL) -> bool:
    (server,) = _SERVER
    name = url.database
    with psycopg.connect(**server.admin, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
        # The test's own fixture holds one connection (pytest-postgresql's); any
        # other would be cut off by the drop.
        if row is None or row[0] > 1:
            return False
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return True

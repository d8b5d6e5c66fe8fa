"""Fixtures: a real PostgreSQL (a throwaway cluster, or REGISTRY_TEST_DATABASE_URL), a
fresh database per test cloned from a template built by the Alembic migrations, and the
same for SQLite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser
from pytest_postgresql import factories
from pytest_postgresql.executors.noop import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from devtools.postgres import start_cluster
from registry.crypto.keys import KeyStore
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade
from tests._browser import Visit, launch, new_visit, playwright_session
from tests._seeded import drop_templates, use_template
from tests._servers import Servers
from tests._support import LOOPBACK, TEST_PASSPHRASE, migrated_sqlite

VECTORS = Path(__file__).resolve().parent.parent.parent / "shared" / "vectors" / "vc-di-eddsa"
TEST_DBNAME = "registry_test" + os.environ.get("PYTEST_XDIST_WORKER", "")
"""The database each test gets (its template adds ``_tmpl``): under pytest-xdist suffixed
with the worker's id (``registry_testgw0``), so workers sharing one server, as with
REGISTRY_TEST_DATABASE_URL, never drop or clone each other's databases (without it each
worker starts a throwaway cluster of its own)."""


def _sqlalchemy_url(
    *, host: str, port: int | str, user: str, password: str | None, dbname: str
) -> URL:
    return URL.create(
        "postgresql+psycopg",
        username=user,
        password=password or None,
        host=host,
        port=int(port),
        database=dbname,
    )


def _migrate_template(
    *, host: str, port: int, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    """pytest-postgresql loader: build the template database with the Alembic migrations."""
    url = _sqlalchemy_url(host=host, port=port, user=user, password=password, dbname=dbname)
    with engine_scope(url.render_as_string(hide_password=False)) as engine:
        upgrade(engine)


@contextmanager
def _server() -> Iterator[NoopExecutor]:
    given = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if given:
        url = make_url(given)
        yield NoopExecutor(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            options="",
            dbname=TEST_DBNAME,
            password=url.password,
            maintenance_dbname=url.database or "postgres",
        )
        return
    cluster = start_cluster()
    try:
        yield NoopExecutor(
            host=cluster.host,
            port=cluster.port,
            user=cluster.superuser,
            options="",
            dbname=TEST_DBNAME,
            password=None,
        )
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[NoopExecutor]:
    """The session's PostgreSQL server, with a template database built by the migrations.

    The server is REGISTRY_TEST_DATABASE_URL's when set, else a throwaway cluster
    started here and removed afterwards. Every test database is cloned from the
    template, so each test starts from exactly what ``alembic upgrade head`` builds.
    """
    with _server() as server:
        janitor = DatabaseJanitor(
            user=server.user,
            host=server.host,
            port=server.port,
            dbname=server.template_dbname,
            maintenance_dbname=server.maintenance_dbname,
            as_template=True,
            password=server.password,
        )
        janitor.drop()
        with janitor:
            janitor.load(_migrate_template)
            use_template(
                host=server.host,
                port=server.port,
                user=server.user,
                password=server.password,
                template=server.template_dbname,
            )
            try:
                yield server
            finally:
                drop_templates()


postgresql = factories.postgresql("pg_server", dbname=TEST_DBNAME)


@pytest.fixture
def pg_url(postgresql: psycopg.Connection[Any]) -> str:
    """URL of a fresh, migrated PostgreSQL database for this test."""
    info = postgresql.info
    return _sqlalchemy_url(
        host=info.host, port=info.port, user=info.user, password=info.password, dbname=info.dbname
    ).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once for the session (per worker): each test's
    file is a copy of it, as each PostgreSQL test database is a clone of its template."""
    path = tmp_path_factory.mktemp("sqlite-template") / "registry.sqlite3"
    with engine_scope(f"sqlite:///{path}") as engine:
        upgrade(engine)
    # Every connection closed: the write-ahead log is in the file and gone.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """URL of a fresh SQLite file migrated to head (a copy of the session's template)."""
    return migrated_sqlite(sqlite_template, tmp_path / "registry.sqlite3")


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on PostgreSQL and once on SQLite."""
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database of either kind."""
    with engine_scope(db_url) as engine:
        yield engine


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Node settings with a private data directory and the test's database, running
    the demo (its recognition agreements publish and count): most tests seed it.
    A test of a node not running it copies them with ``demo=False``."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )


@pytest.fixture
def key_store(tmp_path: Path) -> KeyStore:
    """An empty encrypted key store of the test's own."""
    return KeyStore(tmp_path / "keys", passphrase=TEST_PASSPHRASE)


@pytest.fixture(scope="session")
def vectors() -> dict[str, str]:
    """The W3C vc-di-eddsa eddsa-jcs-2022 test vectors, file name to text."""
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}")
    return {path.name: path.read_text(encoding="utf-8") for path in VECTORS.iterdir()}


@pytest.fixture(scope="session")
def signed_vector(vectors: dict[str, str]) -> dict[str, Any]:
    """The signed example credential of the vectors."""
    value = json.loads(vectors["signedJCS.json"])
    assert isinstance(value, dict)
    return value


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Starts real demo servers; stops them all when the test ends."""
    servers = Servers(tmp_path)
    yield servers
    servers.stop_all()


@pytest.fixture
def visit(browser: Browser, node: Any) -> Iterator[Visit]:
    """A fresh browser context at the module's ``node`` (a server, or a tuple whose
    first item is one), closed after the test."""
    server = node[0] if isinstance(node, tuple) else node
    found = new_visit(browser, server.base)
    yield found
    found.context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module's browser tests (``tests/_browser.py``)."""
    for playwright in playwright_session():
        chromium = launch(playwright)
        yield chromium
        chromium.close()

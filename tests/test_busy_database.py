"""The embedded database while a long write holds it: a request waits its turn, and if
the wait runs out it is told to come back (503 with Retry-After), never a 500.

SQLite only: it has one writer at a time for the whole file, so a long import holds
every other writer back. PostgreSQL locks rows, and nothing here waits on it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api import create_app
from api.examples import record_examples
from registry.calendar import china_today
from registry.settings import Settings
from registry.storage.db import engine_scope
from tests._support import seed_demo_node


class _Node:
    def __init__(self, client: TestClient, tokens: dict[str, str], path: Path) -> None:
        self.client = client
        self.tokens = tokens
        self.path = path

    def search(self) -> tuple[int, dict[str, str], str]:
        answer = self.client.post(
            "/v1/blacklist/search",
            json={"name": "上海某建材有限公司"},
            headers={"Authorization": f"Bearer {self.tokens['enforcement']}"},
        )
        return answer.status_code, dict(answer.headers), answer.text

    def hold_the_writer(self) -> sqlite3.Connection:
        """Another process's long write: the database's write lock, held until closed."""
        holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        return holder


@pytest.fixture
def node(sqlite_url: str, tmp_path: Path) -> Iterator[_Node]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=sqlite_url, sqlite_busy_timeout_seconds=0.5
    )
    tokens = seed_demo_node(settings, records=False)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with TestClient(create_app(settings)) as client:
        yield _Node(client, tokens, path)


def test_a_request_waits_for_a_short_write(node: _Node) -> None:
    holder = node.hold_the_writer()
    threading.Timer(0.2, holder.rollback).start()
    status, _headers, text = node.search()
    assert status == 200, text
    holder.close()


def test_a_request_held_past_the_wait_is_told_to_come_back(node: _Node) -> None:
    holder = node.hold_the_writer()
    try:
        status, headers, text = node.search()
    finally:
        holder.rollback()
        holder.close()
    assert status == 503, text
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "5"
    assert "urn:yrd-registry:problem:busy" in text
    # Nothing was half done: once the write is over, the same request is answered.
    status, _headers, text = node.search()
    assert status == 200, text


def test_an_issuance_held_past_the_wait_writes_nothing_and_its_retry_issues_once(
    node: _Node,
) -> None:
    """A write (not only a read that records its access) held past the wait: 503 with
    Retry-After, nothing written, not even its Idempotency-Key; retried once the other
    write is over, it issues once."""
    body = {**record_examples(china_today())["listing"]["value"], "authority": "CN-SH"}
    headers = {
        "Authorization": f"Bearer {node.tokens['issuer:CN-SH']}",
        "Idempotency-Key": "held-past-the-wait",
    }
    # The node has no record yet: its log is opened by the first issuance.
    assert node.client.get("/v1/logs/CN-SH/checkpoint").status_code == 404
    holder = node.hold_the_writer()
    try:
        answer = node.client.post("/v1/credentials", json=body, headers=headers)
    finally:
        holder.rollback()
        holder.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert "urn:yrd-registry:problem:busy" in answer.text
    assert node.client.get("/v1/logs/CN-SH/checkpoint").status_code == 404
    first = node.client.post("/v1/credentials", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = node.client.post("/v1/credentials", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["credential"]["id"] == first.json()["credential"]["id"]


def test_a_postgresql_that_refuses_connections_is_a_503_not_a_500(
    tmp_path: Path, pg_url: str
) -> None:
    # Under a burst every process's pool fills and PostgreSQL refuses connections past
    # max_connections; here the database refuses them all, as it does while starting.
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url)
    database = make_url(pg_url).database
    admin = make_url(pg_url).set(database="postgres").render_as_string(hide_password=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/logs/CN-SH/checkpoint").status_code == 404  # answered
        for engine in (client.app.state.engine, client.app.state.loop_engine):  # type: ignore[attr-defined]
            engine.dispose()
        with engine_scope(admin) as server, server.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
            try:
                refused = client.get("/v1/logs/CN-SH/checkpoint")
            finally:
                autocommit.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
        _told_to_come_back(refused)
        assert client.get("/v1/logs/CN-SH/checkpoint").status_code == 404  # and again


def test_a_request_finding_no_connection_free_in_time_is_a_503_not_a_500(
    tmp_path: Path, db_url: str
) -> None:
    # Every connection of the process's pools in use (its own and the burst's), as by
    # long requests: the next waits REGISTRY_DATABASE_POOL_TIMEOUT_SECONDS, then is
    # told to come back.
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        database_pool_size=1,
        database_pool_timeout_seconds=0.5,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/logs/CN-SH/checkpoint").status_code == 404  # answered
        engines = (client.app.state.engine, client.app.state.loop_engine)  # type: ignore[attr-defined]
        held = [engine.connect() for engine in engines for _ in range(1 + 10)]
        try:
            waited = client.get("/v1/logs/CN-SH/checkpoint")
        finally:
            for connection in held:
                connection.close()
        _told_to_come_back(waited)
        assert client.get("/v1/logs/CN-SH/checkpoint").status_code == 404  # and again


def _told_to_come_back(answer: Any) -> None:
    """A 503 database-unavailable with when to try again."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    assert answer.json()["type"].endswith("database-unavailable")

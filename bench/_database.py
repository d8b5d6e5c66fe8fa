"""The database a PostgreSQL benchmark runs on: a throwaway cluster, or one given."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from devtools.postgres import start_cluster
from registry.storage.db import engine_scope

__all__ = ["bench_database"]


@contextmanager
def bench_database() -> Iterator[str]:
    """``REGISTRY_BENCH_DATABASE_URL`` if set, else a database named ``bench`` in a
    throwaway cluster with PostgreSQL's durable defaults (fsync on), removed after."""
    given = os.environ.get("REGISTRY_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    cluster = start_cluster(durable=True)
    try:
        base = f"postgresql+psycopg://{cluster.superuser}@{cluster.host}:{cluster.port}"
        with engine_scope(f"{base}/postgres") as admin, admin.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("CREATE DATABASE bench")
            )
        yield f"{base}/bench"
    finally:
        cluster.stop()

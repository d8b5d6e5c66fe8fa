"""Killing a process at a chosen moment, and checking afterwards that nothing was half
written: the moments are read from the database (a transaction that has written, a
row that has appeared), not guessed from the clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.storage.db import engine_scope
from tests._support import run_command

__all__ = [
    "ce_credit",
    "connected",
    "log_size",
    "wait_until",
    "whole",
    "writing",
]

_PROVIDER = credit_code("12310000MB0P10008")
WAIT = 60.0


def ce_credit(n: int, *, authority: str = "CN-SH") -> dict[str, Any]:
    """A CE credit of a demo engineer, its course numbered ``n`` (so never a repeat)."""
    engineer = DEMO_ENGINEERS[n % len(DEMO_ENGINEERS)]
    return {
        "type": "ContinuingEducationCredit",
        "authority": authority,
        "holder": {"name": engineer.name, "id_number": engineer.id_number},
        "course_title": f"安全生产继续教育第{n}期",
        "provider": {"name": "上海市安全生产科学研究所", "credit_code": _PROVIDER},
        "hours": 8,
        "kind": "professional",
        "completed_on": (china_today() - timedelta(days=1 + n % 300)).isoformat(),
    }


def wait_until(condition: Callable[[], object], what: str, *, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds, failing the test past ``timeout`` seconds."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.01)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _activity(url: str, condition: str) -> bool:
    """Whether another connection to the database is in ``condition``."""
    with psycopg.connect(_conninfo(url), autocommit=True) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "  # noqa: S608 (conditions are ours)
            f"WHERE datname = current_database() AND pid <> pg_backend_pid() AND {condition}"
        ).fetchone()
    return bool(found and found[0])


def connected(url: str) -> bool:
    """Whether any other process has a connection to the PostgreSQL database."""
    return _activity(url, "true")


def writing(url: str) -> bool:
    """Whether another connection's transaction has written and not yet committed (it
    holds a transaction id)."""
    return _activity(url, "backend_xid IS NOT NULL")


def log_size(url: str, authority: str) -> int:
    """The log's size as its head says (0 for a log not opened)."""
    with engine_scope(url) as engine, engine.connect() as connection:
        size = connection.execute(
            sa.text("SELECT size FROM log_head WHERE authority_code = :a"), {"a": authority}
        ).scalar()
    return int(size or 0)


def whole(url: str, data_dir: Path) -> dict[str, int]:
    """Check that nothing is half written in the node's database, and return each log's
    size: every log's entries are 0..size-1 with no gap, its head and newest checkpoint
    agree, every credential has its log entry and every CE credit its record, every
    credential an idempotency key or a receipt names exists; and ``registry log
    audit`` holds for every log (its tree, checkpoints, signatures, and every table
    projected from it rebuilt and compared)."""
    with engine_scope(url) as engine, engine.connect() as connection:

        def one(query: str, **values: Any) -> Any:
            return connection.execute(sa.text(query), values).scalar()

        sizes: dict[str, int] = {}
        heads = connection.execute(sa.text("SELECT authority_code, size FROM log_head")).all()
        for code, size in heads:
            entries, last = connection.execute(
                sa.text(
                    "SELECT count(*), coalesce(max(leaf_index), -1) FROM log_entry "
                    "WHERE authority_code = :a"
                ),
                {"a": code},
            ).one()
            assert (entries, last + 1) == (size, size), f"log {code}: {entries} entries, {size}"
            signed = one(
                "SELECT coalesce(max(tree_size), 0) FROM log_checkpoint WHERE authority_code = :a",
                a=code,
            )
            assert signed == size, f"log {code}: head at {size}, newest checkpoint at {signed}"
            sizes[code] = int(size)
        unlogged = one(
            "SELECT count(*) FROM credential c WHERE NOT EXISTS "
            "(SELECT 1 FROM log_entry e WHERE e.credential_id = c.id)"
        )
        assert unlogged == 0, f"{unlogged} credential(s) stored without their log entry"
        unrecorded = one(
            "SELECT count(*) FROM credential c WHERE c.type = 'ContinuingEducationCredit' "
            "AND NOT EXISTS (SELECT 1 FROM record r WHERE r.credential_id = c.id)"
        )
        assert unrecorded == 0, f"{unrecorded} CE credit(s) stored without their record"
        receipted = one(
            "SELECT count(*) FROM receipt_row w WHERE NOT EXISTS "
            "(SELECT 1 FROM credential c WHERE c.id = w.credential_id)"
        )
        assert receipted == 0, f"{receipted} receipt row(s) name no credential"
        named = connection.execute(sa.text("SELECT credential_ids FROM idempotency_key")).all()
    # A JSON column: a list from PostgreSQL, its text from SQLite.
    remembered = {i for (ids,) in named for i in (json.loads(ids) if isinstance(ids, str) else ids)}
    if remembered:
        with engine_scope(url) as engine, engine.connect() as connection:
            stored = set(
                connection.execute(
                    sa.text("SELECT id FROM credential WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": sorted(remembered)},
                ).scalars()
            )
        assert remembered <= stored, "an idempotency key names credentials not stored"
    env = {"REGISTRY_DATABASE_URL": url, "REGISTRY_DATA_DIR": str(data_dir)}
    for code in sorted(sizes):
        audit = run_command(["log", "audit", code], env)
        assert audit.returncode == 0, f"log audit of {code}:\n{audit.stdout}{audit.stderr}"
    return sizes

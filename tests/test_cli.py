"""The `registry` command line, run as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.storage.db import engine_scope, migration_heads
from tests._support import run_command


def _run(*args: str, database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"REGISTRY_DATABASE_URL": database_url, "REGISTRY_DATA_DIR": str(data_dir)}
    return run_command(args, env)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_db_upgrade_current_check(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        # A fresh database from the template is already at head; drop the schema first.
        url = str(request.getfixturevalue("pg_url"))
        with engine_scope(url) as engine, engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))

    before = _run("db", "current", database_url=url, data_dir=tmp_path)
    assert before.returncode == 1
    assert "current: none" in before.stdout

    upgraded = _run("db", "upgrade", database_url=url, data_dir=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at revision {migration_heads()[0]}" in upgraded.stdout

    after = _run("db", "current", database_url=url, data_dir=tmp_path)
    assert after.returncode == 0
    checked = _run("db", "check", database_url=url, data_dir=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "no drift" in checked.stdout


def test_db_check_reports_drift(tmp_path: Path, sqlite_url: str) -> None:
    with engine_scope(sqlite_url) as engine, engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_record_number"))
    result = _run("db", "check", database_url=sqlite_url, data_dir=tmp_path)
    assert result.returncode == 1
    assert "ix_record_number" in result.stderr


@pytest.mark.parametrize(
    "args", [("db", "current"), ("db", "upgrade"), ("db", "check"), ("serve", "--port", "1")]
)
def test_unreachable_database_is_one_clear_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    result = _run(*args, database_url=url, data_dir=tmp_path)
    assert result.returncode == 1
    assert "error: database unreachable" in result.stderr
    assert "Traceback" not in result.stderr

"""`registry backup`, `registry backup verify` and `registry restore`, run as an operator
runs them: a seeded node backed up, checked and restored into a new data directory and
database, where every table holds what it held and the restored logs sign nothing until
their peers confirm them (an issuance answers 503); and a tampered, cut-off or
wrongly-unlocked backup, or a target that is not empty, refused with nothing written."""

from __future__ import annotations

import io
import os
import re
import stat
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlmodel import select

from api import create_app
from registry.backup.sealed import SealedReader, SealedWriter
from registry.backup.snapshot import read_snapshot, table_rows, tables
from registry.demo.synthetic import credit_code, resident_id
from registry.errors import BackupError
from registry.settings import Settings
from registry.storage.db import alembic_config, engine_scope, schema_status, session_scope
from registry.storage.models import Authority, LogSigningHold
from tests._federation import fresh_database
from tests._support import migrated_sqlite, run_command, seed_demo_node

PASSPHRASE = "river delta backup passphrase"


def _env(settings: Settings, passphrase: str = PASSPHRASE) -> dict[str, str]:
    return {
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_BACKUP_PASSPHRASE": passphrase,
        "COLUMNS": "250",
    }


def _everything(database_url: str) -> dict[str, list[list[Any]]]:
    """Every row of every table but the signing holds, as a backup reads them."""
    with engine_scope(database_url) as engine, read_snapshot(engine) as connection:
        return {
            table.name: list(table_rows(connection, table))
            for table in tables()
            if table.name != "log_signing_hold"
        }


@pytest.fixture
def backed_up(settings: Settings, tmp_path: Path) -> tuple[Settings, Path, dict[str, str]]:
    """A seeded node, its backup file and its tokens."""
    tokens = seed_demo_node(settings)
    backup = tmp_path / "node.yrdbak"
    done = run_command(["backup", "--output", str(backup)], _env(settings))
    assert done.returncode == 0, done.stdout + done.stderr
    return settings, backup, tokens


@pytest.fixture
def backed_up_embedded(
    sqlite_url: str, sqlite_template: Path, tmp_path: Path
) -> tuple[Settings, Path, Settings]:
    """A seeded embedded node, its backup, and an empty node to restore it into (a
    new data directory and a new, migrated database)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, demo=True)
    seed_demo_node(settings)
    backup = tmp_path / "node.yrdbak"
    done = run_command(["backup", "--output", str(backup)], _env(settings))
    assert done.returncode == 0, done.stdout + done.stderr
    url = migrated_sqlite(sqlite_template, tmp_path / "target.sqlite3")
    return settings, backup, _target(settings, tmp_path, url)


def _target(settings: Settings, tmp_path: Path, database_url: str) -> Settings:
    return settings.model_copy(
        update={"data_dir": tmp_path / "restored", "database_url": database_url}
    )


def test_a_restored_node_holds_what_the_backup_held_and_signs_nothing_unconfirmed(
    backed_up: tuple[Settings, Path, dict[str, str]],
    db_url: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    settings, backup, tokens = backed_up
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    listed = run_command(["backup", "verify", str(backup)], _env(settings))
    assert listed.returncode == 0, listed.stderr
    assert "is whole and authentic" in listed.stdout
    assert "log CN-SH:" in listed.stdout
    assert "checkpoint:" in listed.stdout
    with fresh_database(db_url, request, tmp_path) as url:
        target = _target(settings, tmp_path, url)
        done = run_command(["restore", str(backup)], _env(target))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "sign nothing until this node's peers confirm" in done.stdout
        # Every table holds what it held; the keys and secrets are back, owner-only.
        assert _everything(url) == _everything(settings.database_url)
        for folder in ("keys", "secrets"):
            original = sorted(p.name for p in (settings.data_dir / folder).iterdir())
            restored = sorted(p.name for p in (target.data_dir / folder).iterdir())
            assert restored == original
            for path in (target.data_dir / folder).iterdir():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600
                assert path.read_bytes() == (settings.data_dir / folder / path.name).read_bytes()
        with engine_scope(url) as engine, session_scope(engine) as session:
            held = {h.authority_code: h.reason for h in session.exec(select(LogSigningHold))}
        assert held == dict.fromkeys(("CN-AH", "CN-JS", "CN-SH", "CN-ZJ"), "restored")
        # Reads answer from the restored node; an issuance is refused, 503, in both languages.
        with TestClient(create_app(target)) as client:
            assert client.get("/v1/logs/CN-SH/checkpoint").status_code == 200
            body = {
                "type": "ContinuingEducationCredit",
                "authority": "CN-SH",
                "holder": {"name": "周明远", "id_number": resident_id("310101", "19900307", "451")},
                "course_title": "安全生产法律法规",
                "provider": {
                    "name": "上海市安全生产科学研究所",
                    "credit_code": credit_code("12310000MB0P10008"),
                },
                "hours": 8,
                "kind": "professional",
                "completed_on": "2026-01-05",
            }
            headers = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
            for language, expected in (("en", "signs nothing until its peers"), ("zh", "暂停签署")):
                answer = client.post(
                    "/v1/credentials",
                    json=body,
                    headers={**headers, "Accept-Language": language},
                )
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == "application/problem+json"
                assert expected in answer.json()["detail"]
        assert _everything(url) == _everything(settings.database_url)  # nothing was signed
        # A node that hosts every member has no peer to confirm it: it stays held until
        # its operator lifts the hold explicitly, one log at a time.
        standing = run_command(["log", "standing"], _env(target))
        assert standing.returncode == 1
        assert re.search(r"CN-SH at size \d+: no peer to ask", standing.stderr)
        assert "held (restored)" in standing.stderr
        unsaid = run_command(["log", "release", "CN-SH"], _env(target))
        assert unsaid.returncode == 2
        assert "--accept-unconfirmed" in unsaid.stderr
        released = run_command(["log", "release", "CN-SH", "--accept-unconfirmed"], _env(target))
        assert released.returncode == 0, released.stderr
        with TestClient(create_app(target)) as client:
            answer = client.post("/v1/credentials", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
            other = {**body, "authority": "CN-JS"}
            js = {"Authorization": f"Bearer {tokens['issuer:CN-JS']}"}
            assert client.post("/v1/credentials", json=other, headers=js).status_code == 503


def _unchanged(target: Settings) -> None:
    for folder in ("keys", "secrets"):
        path = target.data_dir / folder
        assert not path.exists() or not any(path.iterdir())
    with engine_scope(target.database_url) as engine, session_scope(engine) as session:
        assert session.exec(select(LogSigningHold)).first() is None
    rows = _everything(target.database_url)
    assert not any(rows.values()), [name for name, found in rows.items() if found]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_wrong_passphrase_or_an_altered_backup_is_refused_before_anything_is_written(
    backed_up_embedded: tuple[Settings, Path, Settings], tmp_path: Path
) -> None:
    settings, backup, target = backed_up_embedded
    data = backup.read_bytes()
    header = data.index(b"\n") + 1
    altered_header = data.replace(b'"chunk": 1048576', b'"chunk": 1048575', 1)
    assert altered_header != data
    cases = {
        "wrong passphrase": (data, "not the passphrase at all", "the backup passphrase is wrong"),
        "altered part": (_flip(data, header + 40), PASSPHRASE, "altered or damaged"),
        "altered end": (_flip(data, len(data) - 3), PASSPHRASE, "altered or damaged"),
        "cut off": (data[: header + 4 + 1000], PASSPHRASE, "cut off"),
        "altered header": (altered_header, PASSPHRASE, "altered or damaged"),
        "not a backup": (b"PK\x03\x04" + data[4:], PASSPHRASE, "not a registry backup"),
    }
    for case, (content, passphrase, message) in cases.items():
        path = tmp_path / f"{case}.yrdbak"
        path.write_bytes(content)
        # `backup verify` reads as `restore` does, which must also write nothing.
        commands = [["restore", str(path)]]
        if case in ("wrong passphrase", "altered part"):
            commands.append(["backup", "verify", str(path)])
        for args in commands:
            done = run_command(args, _env(target, passphrase))
            assert done.returncode == 1, (case, done.stdout)
            assert message in done.stderr, (case, done.stderr)
        _unchanged(target)
    short = run_command(["backup", "-o", str(tmp_path / "short.yrdbak")], _env(settings, "short"))
    assert short.returncode == 1
    assert "at least 12 characters" in short.stderr
    assert not (tmp_path / "short.yrdbak").exists()
    again = run_command(["backup", "-o", str(backup)], _env(settings))
    assert again.returncode == 1
    assert "exists already" in again.stderr


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
    backed_up_embedded: tuple[Settings, Path, Settings], tmp_path: Path
) -> None:
    settings, backup, target = backed_up_embedded
    # The node itself: its data directory holds keys.
    before = _everything(settings.database_url)
    done = run_command(["restore", str(backup)], _env(settings))
    assert done.returncode == 1
    assert "is not empty: restore into a new data directory" in done.stderr
    assert _everything(settings.database_url) == before
    # A new data directory, but the node's database, which holds rows.
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    done = run_command(["restore", str(backup)], _env(elsewhere))
    assert done.returncode == 1
    assert "the database holds rows" in done.stderr
    assert not (tmp_path / "elsewhere" / "keys").exists()
    assert _everything(settings.database_url) == before
    # A data directory with a stray key file and an empty database.
    (target.data_dir / "keys").mkdir(parents=True)
    (target.data_dir / "keys" / "CN-SH-log-old.pem").write_bytes(b"an old key")
    done = run_command(["restore", str(backup)], _env(target))
    assert done.returncode == 1
    assert "is not empty" in done.stderr
    assert os.listdir(target.data_dir / "keys") == ["CN-SH-log-old.pem"]
    rows = _everything(target.database_url)
    assert not any(rows.values())


def _parts(sealed: bytes) -> tuple[bytes, list[bytes]]:
    header, rest = sealed.split(b"\n", 1)
    parts = []
    while rest:
        (length,) = struct.unpack(">I", rest[:4])
        parts.append(rest[: 4 + length])
        rest = rest[4 + length :]
    return header + b"\n", parts


def test_the_seal_authenticates_each_part_its_order_and_its_end() -> None:
    plain = os.urandom(2 * 1024 * 1024 + 5000)  # three parts of 1 MiB at most
    sink = io.BytesIO()
    writer = SealedWriter(sink, PASSPHRASE, cost=14)  # the least a reader takes
    for start in range(0, len(plain), 300_000):
        writer.write(plain[start : start + 300_000])
    writer.close()
    header, parts = _parts(sink.getvalue())
    assert len(parts) == 3
    assert plain[:1000] not in sink.getvalue()

    def read(data: bytes, passphrase: str = PASSPHRASE) -> bytes:
        return b"".join(SealedReader(io.BytesIO(data), passphrase).chunks())

    assert read(sink.getvalue()) == plain
    refused = {
        "reordered": header + parts[1] + parts[0] + parts[2],
        "a part dropped": header + parts[0] + parts[2],
        "the last part dropped": header + parts[0] + parts[1],
        "a part repeated": header + parts[0] + parts[0] + parts[1] + parts[2],
        "a part altered": header + parts[0] + _flip(parts[1], 100) + parts[2],
    }
    for case, data in refused.items():
        with pytest.raises(BackupError, match="altered or damaged"):
            read(data)
        assert case
    with pytest.raises(BackupError, match="passphrase is wrong"):
        read(sink.getvalue(), "another passphrase entirely")


def test_the_holds_migration_goes_down_only_without_holds(sqlite_url: str) -> None:
    now = datetime.now(UTC)
    with engine_scope(sqlite_url) as engine:
        with session_scope(engine) as session:
            session.add(
                Authority(
                    code="CN-SH",
                    gb_code="310000",
                    name_zh="上海",
                    name_en="Shanghai",
                    created_at=now,
                )
            )
            session.flush()
            session.add(
                LogSigningHold(
                    authority_code="CN-SH",
                    reason="behind",
                    detail="CN-JS's mirror holds size 5; this node signed 3",
                    held_since=now,
                    checked_at=now,
                )
            )
        config = alembic_config(engine)
        # Going down would forget the hold, and the log would sign a fork.
        with pytest.raises(RuntimeError, match="held from signing"):
            command.downgrade(config, "0024")
        assert schema_status(engine).at_head
        with session_scope(engine) as session:
            session.execute(sa.delete(LogSigningHold))
        command.downgrade(config, "0024")
        assert schema_status(engine).current == ("0024",)
        command.upgrade(config, "head")
        assert schema_status(engine).at_head

"""Imports from the authority's console: kept, checked whole in the background (rejected
with every problem, or waiting for confirmation), confirmed once, issued all or nothing,
the file deleted afterwards (registry.bulk.staged); and the history of imports
(registry.bulk.history)."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from registry.accounts import create_user
from registry.bulk import importer
from registry.bulk._working import WORKING, abandoned, working
from registry.bulk.history import import_history
from registry.bulk.rows import ParsedRows
from registry.bulk.staged import (
    INTERRUPTED,
    check_import,
    claim,
    imports_dir,
    own_import,
    problems_of,
    progress_of,
    receive_file,
    run_import,
)
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.errors import InvalidInput, NotFound
from registry.issuing import IssuingContext
from registry.issuing.receipts import Issuer, read_receipt
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, StagedImport, StoredCredential, UserAccount
from tests._support import seed_demo_node

TODAY = china_today()
PROVIDER = credit_code("12310000MB0P10008")
HEADER = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
          "学时", "学时类型", "完成日期"]  # fmt: skip


def _row(number: int, **changes: str) -> list[str]:
    engineer = DEMO_ENGINEERS[number % len(DEMO_ENGINEERS)]
    row = {
        "姓名": engineer.name,
        "身份证号": engineer.id_number,
        "课程名称": f"控制台导入专题第{number}期",
        "培训机构": "上海市安全生产科学研究所",
        "培训机构统一社会信用代码": PROVIDER,
        "学时": "4",
        "学时类型": "专业",
        "完成日期": (TODAY - timedelta(days=number + 1)).isoformat(),
    } | changes
    return [row[h] for h in HEADER]


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


GOOD = _csv([HEADER, *(_row(n) for n in range(1, 6))])


@pytest.fixture
def node(settings: Settings) -> Settings:
    seed_demo_node(settings)
    return settings


def _user(node: Settings, name: str = "sh.clerk", role: str = "issuer:CN-SH") -> UserAccount:
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        user, _ = create_user(session, name, role=role, display_name=name)
        return user


def _counts(node: Settings) -> tuple[int, int]:
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(StoredCredential)) or 0,
            session.scalar(select(func.count()).select_from(LogEntry)) or 0,
        )


def _receive(node: Settings, user: UserAccount, payload: bytes, name: str = "学时.csv") -> str:
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        return receive_file(
            session,
            imports_dir(node.data_dir),
            user_id=user.id or 0,
            authority="CN-SH",
            record_type=CredentialType.CE_CREDIT,
            file_name=name,
            payload=payload,
        ).id


def _check(node: Settings, identifier: str) -> ParsedRows | None:
    with engine_scope(node.database_url) as engine:
        return check_import(
            engine, IssuingContext.for_node(node), imports_dir(node.data_dir), identifier
        )


def _stage(node: Settings, user: UserAccount, payload: bytes, name: str = "学时.csv") -> str | None:
    """Keep and check a file: the import's id if it is good, ``None`` if rejected."""
    identifier = _receive(node, user, payload, name)
    parsed = _check(node, identifier)
    state = _staged(node, identifier).state
    assert (parsed is not None) == (state == "checked")
    assert state in ("checked", "rejected")
    return identifier if parsed is not None else None


def _claim(node: Settings, identifier: str, user: UserAccount) -> bool:
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        return claim(session, identifier, user_id=user.id or 0)


def _run(node: Settings, identifier: str, user: UserAccount, **kwargs: object) -> None:
    with engine_scope(node.database_url) as engine:
        run_import(
            engine,
            IssuingContext.for_node(node),
            imports_dir(node.data_dir),
            identifier,
            issuer=Issuer(user.token_id, user.username, user.role),
            **kwargs,  # type: ignore[arg-type]
        )


def _staged(node: Settings, identifier: str) -> StagedImport:
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        found = session.get(StagedImport, identifier)
        assert found is not None
        return found


# Where a file is kept does not depend on the database: PostgreSQL alone.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_file_name_that_carries_a_path_is_kept_under_its_own_name_only(node: Settings) -> None:
    user = _user(node)
    directory = imports_dir(node.data_dir)
    for name, kept in (
        ("../../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\名单 2026.csv", "名单_2026.csv"),
        ("/srv/registry/.hidden.csv", "hidden.csv"),
    ):
        identifier = _receive(node, user, _csv([HEADER, _row(1)]), name)
        assert identifier in [p.name for p in directory.iterdir()]
        assert [p.name for p in (directory / identifier).iterdir()] == [kept]
    assert len(list(directory.iterdir())) == 3  # nothing beside the three folders
    assert not (node.data_dir / "etc").exists()


def test_a_bad_file_is_rejected_with_every_problem_and_its_file_deleted(node: Settings) -> None:
    user = _user(node)
    before = _counts(node)
    bad = _csv([HEADER, _row(1), _row(2, 身份证号="310101198503120210"), _row(3, 学时="0")])
    identifier = _receive(node, user, bad, "bad.csv")
    directory = imports_dir(node.data_dir)
    assert (directory / identifier / "bad.csv").read_bytes() == bad  # kept for its check
    checking = progress_of(_staged(node, identifier), directory)
    assert (checking.state, checking.done) == ("checking", 0)
    assert _check(node, identifier) is None
    assert _check(node, identifier) is None  # checked once: a second check does nothing
    staged = _staged(node, identifier)
    assert (staged.state, staged.problems, staged.rows) == ("rejected", 2, 0)
    problems = problems_of(staged, directory)
    assert problems is not None
    assert [(p.row, p.column) for p in problems] == [(3, "身份证号"), (4, "学时")]
    assert [p.name for p in (directory / identifier).iterdir() if p.suffix == ".csv"] == []
    assert progress_of(staged, directory).state == "rejected"
    assert _counts(node) == before
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(StagedImport)) == 1


def test_a_file_that_is_not_a_table_is_refused_or_one_problem_of_the_whole_file(
    node: Settings,
) -> None:
    user = _user(node)
    with pytest.raises(InvalidInput):
        _receive(node, user, b"x", name="notes.txt")
    assert not imports_dir(node.data_dir).exists() or not any(imports_dir(node.data_dir).iterdir())
    assert _stage(node, user, HEADER[0].encode(), name="empty.csv") is None
    assert _stage(node, user, b"\x00\x01", name="broken.xlsx") is None
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        rejected = list(
            session.scalars(select(StagedImport).order_by(col(StagedImport.created_at)))
        )
    assert [r.state for r in rejected] == ["rejected", "rejected"]
    for staged in rejected:
        problems = problems_of(staged, imports_dir(node.data_dir))
        assert problems is not None
        assert {p.row for p in problems} <= {0, 1}  # the whole file, or its header row
        assert len(problems) == staged.problems


def test_the_check_says_how_many_rows_it_has_checked(
    node: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHECKED_EVERY", 2)
    user = _user(node)
    identifier = _receive(node, user, GOOD)
    directory = imports_dir(node.data_dir)
    said: list[tuple[int, int]] = []

    def watched(*args: object, **kwargs: object) -> ParsedRows:
        def advance(done: int, rows: int) -> None:
            original(done, rows)
            said.append((done, rows))
            progress = progress_of(_staged(node, identifier), directory)
            assert (progress.state, progress.done, progress.rows) == ("checking", done, rows)

        original = cast("Callable[[int, int], None]", kwargs.pop("advance"))
        return check_file(*args, advance=advance, **kwargs)  # type: ignore[arg-type]

    check_file = importer.check_file
    monkeypatch.setattr("registry.bulk.staged.check_file", watched)
    assert _check(node, identifier) is not None
    assert said == [(0, 5), (2, 5), (4, 5), (5, 5)]
    staged = _staged(node, identifier)
    assert (staged.state, staged.rows, staged.problems) == ("checked", 5, None)


def test_a_check_that_stopped_moving_reads_as_interrupted(node: Settings) -> None:
    user = _user(node)
    identifier = _receive(node, user, GOOD)
    staged = _staged(node, identifier)
    directory = imports_dir(node.data_dir)
    now = datetime.now(UTC)
    assert progress_of(staged, directory, now=now).state == "checking"
    later = progress_of(staged, directory, now=now + timedelta(hours=1))
    assert (later.state, later.reason) == ("failed", INTERRUPTED)


def test_a_good_file_is_kept_confirmed_once_and_issued_with_its_receipt(node: Settings) -> None:
    user = _user(node)
    before = _counts(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    directory = imports_dir(node.data_dir)
    assert (directory / identifier / "学时.csv").read_bytes() == GOOD
    staged = _staged(node, identifier)
    assert (staged.state, staged.rows, staged.authority_code) == ("checked", 5, "CN-SH")
    assert _counts(node) == before  # nothing issued before the confirmation
    _run(node, identifier, user)  # not claimed: nothing runs, the file stays
    assert _staged(node, identifier).state == "checked"
    assert (directory / identifier / "学时.csv").exists()
    other = _user(node, "sh.other")
    assert not _claim(node, identifier, other)  # only its uploader confirms it
    assert _claim(node, identifier, user)
    assert not _claim(node, identifier, user)  # a second confirmation issues nothing
    assert progress_of(_staged(node, identifier), directory).state == "running"
    seen: list[int] = []
    _run(node, identifier, user, on_chunk=seen.append)
    _run(node, identifier, user)  # run again (a retry): nothing more
    assert seen == [5]
    staged = _staged(node, identifier)
    assert staged.state == "done"
    assert staged.receipt_id is not None
    assert _counts(node) == (before[0] + 5, before[1] + 5)
    assert not (directory / identifier).exists()  # the file with its ID numbers is gone
    progress = progress_of(staged, directory)
    assert (progress.state, progress.done, progress.rows) == ("done", 5, 5)
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        view = read_receipt(session, staged.receipt_id, role="issuer:CN-SH")
        with pytest.raises(NotFound):
            own_import(session, identifier, user_id=other.id or 0)
    assert (view.receipt.actor, view.receipt.role) == ("sh.clerk", "issuer:CN-SH")
    assert view.receipt.token_id == user.token_id
    assert view.receipt.file_name == "学时.csv"
    assert [line.row for line in view.lines] == [2, 3, 4, 5, 6]


def test_a_file_changed_after_its_check_is_not_issued(node: Settings) -> None:
    user = _user(node)
    before = _counts(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    kept = imports_dir(node.data_dir) / identifier / "学时.csv"
    kept.write_bytes(_csv([HEADER, *(_row(n) for n in range(1, 7))]))
    assert _claim(node, identifier, user)
    _run(node, identifier, user)
    staged = _staged(node, identifier)
    assert (staged.state, staged.receipt_id) == ("failed", None)
    assert staged.reason is not None
    assert staged.reason.startswith("the file changed after it was checked")
    assert _counts(node) == before
    assert not kept.exists()


def test_rows_issued_meanwhile_fail_the_import_and_nothing_is_issued(node: Settings) -> None:
    user = _user(node)
    first = _stage(node, user, GOOD)
    second = _stage(node, user, GOOD, name="again.csv")
    assert first is not None
    assert second is not None
    assert _claim(node, first, user)
    _run(node, first, user)
    before = _counts(node)
    assert _claim(node, second, user)
    _run(node, second, user)  # checked again at confirmation: the credits are held now
    staged = _staged(node, second)
    assert staged.state == "failed"
    assert staged.reason == "5 problem(s) in the file: nothing is issued"
    assert _counts(node) == before


def test_a_failure_while_issuing_rolls_everything_back(node: Settings) -> None:
    user = _user(node)
    before = _counts(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    assert _claim(node, identifier, user)

    def fail(_: int) -> None:
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        _run(node, identifier, user, on_chunk=fail)
    staged = _staged(node, identifier)
    assert (staged.state, staged.reason) == ("failed", "the import failed: nothing is issued")
    assert _counts(node) == before
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(StagedImport)) == 1


def test_a_running_import_that_stopped_moving_reads_as_interrupted(node: Settings) -> None:
    user = _user(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    assert _claim(node, identifier, user)
    staged = _staged(node, identifier)
    directory = imports_dir(node.data_dir)
    now = datetime.now(UTC)
    assert progress_of(staged, directory, now=now).state == "running"
    later = progress_of(staged, directory, now=now + timedelta(hours=1))
    assert (later.state, later.reason) == ("failed", INTERRUPTED)


def test_files_never_confirmed_are_deleted_after_a_day(node: Settings) -> None:
    user = _user(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    directory = imports_dir(node.data_dir)
    old = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(directory / identifier, (old, old))
    assert _stage(node, user, GOOD, name="later.csv") is not None
    assert not (directory / identifier).exists()
    assert len(list(Path(directory).iterdir())) == 1


def _staged_with_rows(node: Settings, user: UserAccount, name: str) -> tuple[str, ParsedRows]:
    identifier = _receive(node, user, GOOD, name)
    parsed = _check(node, identifier)
    assert parsed is not None
    return identifier, parsed


def test_rows_held_from_the_check_are_still_checked_again_and_the_file_compared(
    node: Settings,
) -> None:
    user = _user(node)
    first, first_rows = _staged_with_rows(node, user, "a.csv")
    second, second_rows = _staged_with_rows(node, user, "b.csv")
    third, third_rows = _staged_with_rows(node, user, "c.csv")
    for identifier in (first, second, third):
        assert _claim(node, identifier, user)
    _run(node, first, user, parsed=first_rows)
    assert _staged(node, first).state == "done"
    before = _counts(node)
    _run(node, second, user, parsed=second_rows)  # the credits are held now
    assert _staged(node, second).reason == "5 problem(s) in the file: nothing is issued"
    (imports_dir(node.data_dir) / third / "c.csv").write_bytes(GOOD + b"\n")
    _run(node, third, user, parsed=third_rows)
    reason = _staged(node, third).reason
    assert reason is not None
    assert reason.startswith("the file changed after it was checked")
    assert _counts(node) == before


def test_the_history_lists_the_receipts_and_the_persons_own_imports_not_finished(
    node: Settings,
) -> None:
    user = _user(node)
    other = _user(node, "sh.other")
    done = _stage(node, user, GOOD, name="done.csv")
    assert done is not None
    assert _claim(node, done, user)
    _run(node, done, user)
    rejected = _receive(node, user, _csv([HEADER, _row(1, 学时="0")]), "rejected.csv")
    _check(node, rejected)
    waiting = _stage(node, user, _csv([HEADER, _row(7)]), name="waiting.csv")
    checking = _receive(node, user, GOOD, "checking.csv")
    _receive(node, other, GOOD, "others.csv")  # another person's: theirs alone
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        entries, total = import_history(session, authority="CN-SH", user_id=user.id or 0, limit=100)
        receipts = [e.receipt.id for e in entries if e.receipt]
        first, first_total = import_history(
            session, authority="CN-SH", user_id=user.id or 0, limit=2
        )
        second, _ = import_history(
            session, authority="CN-SH", user_id=user.id or 0, limit=2, offset=2
        )
        elsewhere, none = import_history(
            session, authority="CN-JS", user_id=user.id or 0, limit=100
        )
    staged = [(e.staged.id, e.staged.state) for e in entries if e.staged]
    assert staged[:3] == [(checking, "checking"), (waiting, "checked"), (rejected, "rejected")]
    assert len(staged) == 3  # the import done is its receipt; the other's is not listed
    assert _staged(node, done).receipt_id in receipts
    assert total == len(entries) == first_total
    assert [e.created_at for e in entries] == sorted((e.created_at for e in entries), reverse=True)
    assert [(e.receipt, e.staged) for e in first + second] == [
        (e.receipt, e.staged) for e in entries[:4]
    ]
    assert (elsewhere, none) == ([], 0)


def test_an_import_whose_process_was_killed_reads_as_interrupted_at_once(
    node: Settings,
) -> None:
    """Killed (SIGKILL) while it runs, the process holding the import's working lock
    lets go of it with its life: the import reads as failed at once (after a restart
    as before), not as running for minutes; nothing of it was issued."""
    user = _user(node)
    identifier = _stage(node, user, GOOD)
    assert identifier is not None
    assert _claim(node, identifier, user)
    directory = imports_dir(node.data_dir)
    # Another process at work on it, as a node's worker is: it holds the lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
            str(directory / identifier / WORKING),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        staged = _staged(node, identifier)
        assert progress_of(staged, directory).state == "running"
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    stopped = progress_of(_staged(node, identifier), directory)
    assert (stopped.state, stopped.reason) == ("failed", INTERRUPTED)
    # A check run to its end leaves no lock file behind to mislead.
    other = _stage(node, user, GOOD)
    assert other is not None
    assert not (directory / other / WORKING).exists()


def test_an_import_at_work_never_reads_as_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page asks at any moment: even the one the worker takes its lock, its lock
    # file must not be there unlocked (it read as a process stopped mid-way).
    (tmp_path / "imp").mkdir()
    seen: list[bool] = []
    lock = fcntl.flock

    def asked_while_locking(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_EX:
            seen.append(abandoned(tmp_path, "imp"))
        lock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", asked_while_locking)
    with working(tmp_path, "imp"):
        seen.append(abandoned(tmp_path, "imp"))
    seen.append(abandoned(tmp_path, "imp"))
    assert seen == [False, False, False]
    assert list((tmp_path / "imp").iterdir()) == []

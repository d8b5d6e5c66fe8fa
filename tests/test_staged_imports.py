"""Imports from the authority's console: checked whole and kept, confirmed once, issued
all or nothing, the file deleted afterwards (registry.bulk.staged)."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.accounts import create_user
from registry.bulk.staged import (
    INTERRUPTED,
    Staged,
    claim,
    imports_dir,
    own_import,
    progress_of,
    run_import,
    stage_file,
)
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.errors import NotFound
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


def _stage(node: Settings, user: UserAccount, payload: bytes, name: str = "学时.csv") -> str | None:
    context = IssuingContext.for_node(node)
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        staged = stage_file(
            session,
            context,
            imports_dir(node.data_dir),
            user_id=user.id or 0,
            authority="CN-SH",
            record_type=CredentialType.CE_CREDIT,
            file_name=name,
            payload=payload,
        )
        assert (staged.staged is None) == bool(staged.problems)
        return staged.staged.id if staged.staged else None


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


def test_a_bad_file_keeps_nothing_and_names_every_problem(node: Settings) -> None:
    user = _user(node)
    before = _counts(node)
    bad = _csv([HEADER, _row(1), _row(2, 身份证号="310101198503120210"), _row(3, 学时="0")])
    context = IssuingContext.for_node(node)
    directory = imports_dir(node.data_dir)
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        staged = stage_file(
            session,
            context,
            directory,
            user_id=user.id or 0,
            authority="CN-SH",
            record_type=CredentialType.CE_CREDIT,
            file_name="bad.csv",
            payload=bad,
        )
        assert session.scalar(select(func.count()).select_from(StagedImport)) == 0
    assert staged.staged is None
    assert [(p.row, p.column) for p in staged.problems] == [(3, "身份证号"), (4, "学时")]
    assert list(directory.iterdir()) == []  # the file is not kept
    assert _counts(node) == before


def test_a_file_that_is_not_a_table_is_one_problem_of_the_whole_file(node: Settings) -> None:
    user = _user(node)
    assert _stage(node, user, b"x", name="notes.txt") is None
    assert _stage(node, user, HEADER[0].encode(), name="empty.csv") is None


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


def _staged_with_rows(node: Settings, user: UserAccount, name: str) -> Staged:
    context = IssuingContext.for_node(node)
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        return stage_file(
            session,
            context,
            imports_dir(node.data_dir),
            user_id=user.id or 0,
            authority="CN-SH",
            record_type=CredentialType.CE_CREDIT,
            file_name=name,
            payload=GOOD,
        )


def test_rows_held_from_the_check_are_still_checked_again_and_the_file_compared(
    node: Settings,
) -> None:
    user = _user(node)
    first = _staged_with_rows(node, user, "a.csv")
    second = _staged_with_rows(node, user, "b.csv")
    third = _staged_with_rows(node, user, "c.csv")
    for staged in (first, second, third):
        assert staged.staged is not None
        assert staged.parsed is not None
        assert _claim(node, staged.staged.id, user)
    assert first.staged is not None
    assert second.staged is not None
    assert third.staged is not None
    _run(node, first.staged.id, user, parsed=first.parsed)
    assert _staged(node, first.staged.id).state == "done"
    before = _counts(node)
    _run(node, second.staged.id, user, parsed=second.parsed)  # the credits are held now
    assert _staged(node, second.staged.id).reason == "5 problem(s) in the file: nothing is issued"
    (imports_dir(node.data_dir) / third.staged.id / "c.csv").write_bytes(GOOD + b"\n")
    _run(node, third.staged.id, user, parsed=third.parsed)
    reason = _staged(node, third.staged.id).reason
    assert reason is not None
    assert reason.startswith("the file changed after it was checked")
    assert _counts(node) == before

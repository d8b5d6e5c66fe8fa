"""People's accounts: passwords, slowing down and locking out, sessions, the record
of sign-ins, and ``registry user`` as an administrator runs it."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from registry.accounts import (
    SignInPolicy,
    create_user,
    disable_user,
    reset_password,
    session_user,
    sign_in,
    sign_out,
    start_session,
)
from registry.errors import Conflict, InvalidCreditCode, InvalidInput
from registry.storage.db import session_scope
from registry.storage.models import ApiToken, SignInEvent, UserAccount
from tests._support import REGISTRY

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
COMPANY = "91310000MA1FL3KQ0X"
POLICY = SignInPolicy(delay_seconds=1.0, lock_after=5, lock_minutes=15)


def _events(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(SignInEvent).order_by(col(SignInEvent.id)))
        return [(row.username, row.outcome) for row in rows]


def test_an_account_keeps_only_an_argon2id_hash_and_a_token_row_of_its_own(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        user, password = create_user(
            session, "HR.Wang", role="verifier", company_code=COMPANY, company_name="某公司"
        )
        assert (user.username, user.role, user.company_code) == ("hr.wang", "verifier", COMPANY)
        assert user.password_hash.startswith("$argon2id$")
        assert password not in user.password_hash
        assert len(password) >= 16
        token = session.get(ApiToken, user.token_id)
        assert token is not None
        assert (token.role, token.name) == ("verifier", "user hr.wang")


@pytest.mark.parametrize(
    ("username", "role", "extra", "error"),
    [
        ("x", "admin", {}, InvalidInput),  # too short
        ("Has Space", "admin", {}, InvalidInput),
        ("clerk", "federation", {}, InvalidInput),  # a node's role
        ("clerk", "issuer:CN-XX", {}, Exception),  # no such authority
        ("clerk", "verifier", {}, InvalidInput),  # an employer names its company
        ("clerk", "verifier", {"company_code": "123"}, InvalidCreditCode),
        ("clerk", "admin", {"company_code": COMPANY}, InvalidInput),
        ("clerk", "admin", {"password": "short"}, InvalidInput),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_kept(
    engine: Engine, username: str, role: str, extra: dict[str, str], error: type[Exception]
) -> None:
    with session_scope(engine) as session, pytest.raises(error):
        create_user(session, username, role=role, **extra)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        assert session.exec(select(UserAccount)).all() == []


def test_a_taken_name_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session, "inspector", role="enforcement")
    with session_scope(engine) as session, pytest.raises(Conflict):
        create_user(session, "Inspector", role="admin")


def test_sign_in_slows_down_then_locks_and_the_lock_runs_out(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session, "clerk", role="admin", password="right password")

    def attempt(password: str, at: datetime) -> tuple[str, datetime | None]:
        with session_scope(engine) as session:
            result = sign_in(session, "clerk", password, policy=POLICY, now=at)
            return result.outcome, result.retry_at

    # Each refusal doubles the wait before the next try is even looked at.
    at = T0
    assert attempt("wrong", at) == ("wrong-password", at + timedelta(seconds=1))
    assert attempt("right password", at + timedelta(seconds=0.5))[0] == "locked"
    at += timedelta(seconds=1)
    assert attempt("wrong", at) == ("wrong-password", at + timedelta(seconds=2))
    at += timedelta(seconds=2)
    assert attempt("wrong", at) == ("wrong-password", at + timedelta(seconds=4))
    at += timedelta(seconds=4)
    assert attempt("wrong", at) == ("wrong-password", at + timedelta(seconds=8))
    at += timedelta(seconds=8)
    # The fifth refusal in a row locks the account for 15 minutes, right password or not.
    outcome, until = attempt("wrong", at)
    assert (outcome, until) == ("wrong-password", at + timedelta(minutes=15))
    assert attempt("right password", at + timedelta(minutes=14))[0] == "locked"
    assert attempt("right password", at + timedelta(minutes=15, seconds=1))[0] == "signed-in"
    # Every try is recorded, the ones refused unanswered too.
    outcomes = [outcome for _, outcome in _events(engine)]
    assert outcomes == [
        "wrong-password",
        "locked",
        "wrong-password",
        "wrong-password",
        "wrong-password",
        "wrong-password",
        "locked",
        "signed-in",
    ]


def test_an_unknown_name_is_answered_as_a_wrong_password(engine: Engine) -> None:
    with session_scope(engine) as session:
        result = sign_in(session, "nobody", "whatever it is", policy=POLICY, now=T0)
    assert (result.outcome, result.user) == ("unknown-user", None)
    assert _events(engine) == [("nobody", "unknown-user")]


def test_sessions_end_on_sign_out_expiry_disabling_and_reset(engine: Engine) -> None:
    with session_scope(engine) as session:
        user, password = create_user(session, "clerk", role="enforcement")
        cookies = [start_session(session, user, now=T0) for _ in range(3)]
    with session_scope(engine) as session:
        assert all(session_user(session, c, now=T0) is not None for c in cookies)
        assert session_user(session, cookies[0], now=T0 + timedelta(hours=8)) is None
        assert session_user(session, "x" * 40, now=T0) is None
        sign_out(session, cookies[0], now=T0)
        assert session_user(session, cookies[0], now=T0) is None
        assert session_user(session, cookies[1], now=T0) is not None
    with session_scope(engine) as session:
        reset_password(session, "clerk", password="a new password", now=T0)
        assert session_user(session, cookies[1], now=T0) is None
        fresh = start_session(session, user, now=T0)
    with session_scope(engine) as session:
        disabled = disable_user(session, "clerk", now=T0)
        assert session_user(session, fresh, now=T0) is None
        token = session.get(ApiToken, disabled.token_id)
        assert token is not None
        assert token.revoked_at is not None
    with session_scope(engine) as session:
        # The right password says the account is disabled; it signs nobody in.
        result = sign_in(session, "clerk", "a new password", policy=POLICY, now=T0)
        assert (result.outcome, result.user) == ("disabled", None)
        assert sign_in(session, "clerk", password, policy=POLICY, now=T0).outcome == (
            "wrong-password"
        )
    assert ("clerk", "signed-out") in _events(engine)


def _cli(*args: str, db_url: str, data_dir: Path, stdin: str | None = None) -> tuple[int, str]:
    env = {**os.environ, "REGISTRY_DATABASE_URL": db_url, "REGISTRY_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [str(REGISTRY), "user", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_user_commands(engine: Engine, db_url: str, tmp_path: Path) -> None:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        return _cli(*args, db_url=db_url, data_dir=tmp_path, stdin=stdin)

    code, out = run(
        "create", "hr.li", "--role", "verifier", "--company-code", COMPANY,
        "--company-name", "上海某化工有限公司", "--name", "李丽",
    )  # fmt: skip
    assert code == 0, out
    password = out.split("password: ")[1].split()[0]
    with session_scope(engine) as session:
        assert sign_in(session, "hr.li", password, policy=POLICY).ok
    code, out = run("create", "hr.li", "--role", "admin")
    assert code != 0
    assert "taken" in out
    code, out = run("create", "chief", "--role", "admin", "--password", stdin="chosen secret\n")
    assert code == 0, out
    assert "chosen secret" not in out
    code, out = run("list")
    assert code == 0
    assert "hr.li" in out
    assert "上海某化工有限公司" in out
    assert "chief" in out
    assert password not in out
    code, out = run("reset", "chief")
    assert code == 0, out
    new = out.split("password: ")[1].split()[0]
    code, out = run("disable", "hr.li")
    assert code == 0, out
    with session_scope(engine) as session:
        assert sign_in(session, "chief", new, policy=POLICY).ok
        assert sign_in(session, "hr.li", password, policy=POLICY).outcome == "disabled"
    code, out = run("disable", "nobody")
    assert code != 0
    assert "no user nobody" in out

"""Administering a node below the pages: accounts' states, enabling, changing roles
and the guard that keeps an administrator; token rows by kind and revoking only
tokens; the access audit filtered by time and criteria hash; the node's health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry.accounts import SignInPolicy, create_user, sign_in
from registry.administration.accounts import (
    account_views,
    change_role,
    disable_account,
    enable_user,
)
from registry.administration.health import node_health
from registry.administration.tokens import audit_names, revoke_api_token, token_views
from registry.crypto.keys import KeyStore
from registry.enforcement.audit import access_trail, public_caller, record_access
from registry.errors import Conflict, InvalidInput
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import ApiToken
from registry.tokens import Caller, caller_of, create_token
from tests._support import seed_demo_node

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
COMPANY = "91310000MA1FL3KQ0X"
POLICY = SignInPolicy(delay_seconds=0.0, lock_after=2, lock_minutes=15)


def test_accounts_show_their_state_and_last_sign_in(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session, "root", role="admin", password="root password", now=T0)
        create_user(session, "clerk", role="enforcement", password="clerk password", now=T0)
        create_user(session, "gone", role="enforcement", now=T0)
        assert sign_in(session, "clerk", "clerk password", policy=POLICY, now=T0).ok
        for _ in range(2):
            sign_in(session, "root", "wrong password", policy=POLICY, now=T0)
        disable_account(session, "gone", by="root", now=T0)
    with session_scope(engine) as session:
        views = {v.user.username: v for v in account_views(session, now=T0)}
    assert {name: v.state for name, v in views.items()} == {
        "root": "locked",
        "clerk": "active",
        "gone": "disabled",
    }
    assert views["clerk"].last_sign_in == T0
    assert views["root"].last_sign_in is None
    with session_scope(engine) as session:
        later = account_views(session, now=T0 + timedelta(minutes=16))
    assert [v.state for v in later] == ["active", "active", "disabled"]


def test_an_administrator_cannot_disable_themselves_nor_the_last_administrator(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        create_user(session, "root", role="admin", now=T0)
        create_user(session, "deputy", role="admin", now=T0)
    with session_scope(engine) as session, pytest.raises(Conflict, match="their own"):
        disable_account(session, "root", by="root", now=T0)
    with session_scope(engine) as session:
        disable_account(session, "deputy", by="root", now=T0)
        # A disabled administrator no longer counts: root is the last one.
        create_user(session, "clerk", role="enforcement", now=T0)
    with session_scope(engine) as session, pytest.raises(Conflict, match="last active"):
        change_role(session, "root", role="enforcement", by="clerk")
    with session_scope(engine) as session:
        views = {v.user.username: (v.state, v.user.role) for v in account_views(session)}
    assert views == {
        "root": ("active", "admin"),
        "deputy": ("disabled", "admin"),
        "clerk": ("active", "enforcement"),
    }


def test_a_disabled_account_is_enabled_again_with_its_password(engine: Engine) -> None:
    with session_scope(engine) as session:
        user, _ = create_user(session, "clerk", role="enforcement", password="clerk password")
        create_user(session, "root", role="admin", now=T0)
        disable_account(session, "clerk", by="root", now=T0)
        assert sign_in(session, "clerk", "clerk password", policy=POLICY).outcome == "disabled"
    with session_scope(engine) as session:
        enable_user(session, "clerk")
        assert sign_in(session, "clerk", "clerk password", policy=POLICY).ok
        token = session.get(ApiToken, user.token_id)
        assert token is not None
        assert token.revoked_at is None
    with session_scope(engine) as session, pytest.raises(Conflict, match="not disabled"):
        enable_user(session, "clerk")


def test_a_change_of_role_keeps_the_token_row_that_names_the_person(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_user(session, "root", role="admin", now=T0)
        user, _ = create_user(session, "clerk", role="enforcement", now=T0)
        token_id = user.token_id
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput) as refused:
            change_role(session, "clerk", role="verifier", by="root")
        assert [e.field for e in refused.value.errors] == ["company_code"]
        with pytest.raises(InvalidInput) as refused:
            change_role(session, "clerk", role="federation", by="root")
        assert [e.field for e in refused.value.errors] == ["role"]
        with pytest.raises(Conflict, match="their own"):
            change_role(session, "root", role="enforcement", by="root")
    with session_scope(engine) as session:
        changed = change_role(
            session,
            "clerk",
            role="verifier",
            by="root",
            company_code=COMPANY,
            company_name="某公司",
        )
        assert (changed.role, changed.company_code, changed.token_id) == (
            "verifier",
            COMPANY,
            token_id,
        )
        token = session.get(ApiToken, token_id)
        assert token is not None
        assert token.role == "verifier"
    with session_scope(engine) as session:
        back = change_role(session, "clerk", role="admin", by="root", company_code=COMPANY)
        assert (back.role, back.company_code, back.company_name) == ("admin", None, None)


def test_a_bad_account_names_the_field_it_is_about(engine: Engine) -> None:
    cases = [
        ({"username": "x", "role": "admin"}, "username"),
        ({"username": "clerk", "role": "nobody"}, "role"),
        ({"username": "clerk", "role": "issuer:CN-XX"}, "role"),
        ({"username": "clerk", "role": "verifier", "company_code": "123"}, "company_code"),
        ({"username": "clerk", "role": "admin", "password": "short"}, "password"),
    ]
    for given, field in cases:
        with session_scope(engine) as session, pytest.raises(InvalidInput) as refused:
            create_user(session, **given)  # type: ignore[arg-type]
        assert [e.field for e in refused.value.errors] == [field], given


def test_token_rows_by_kind_and_only_tokens_are_revoked(engine: Engine) -> None:
    with session_scope(engine) as session:
        row, secret = create_token(session, "enforcement", name="inspection system", now=T0)
        user, _ = create_user(session, "clerk", role="enforcement", now=T0)
        public = public_caller(session, now=T0)
        record_access(
            session,
            Caller(row.id or 0, row.name, row.role),
            action="blacklist-search",
            criteria="a" * 64,
            rows=1,
            results=0,
            now=T0,
        )
    with session_scope(engine) as session:
        views = {v.token.id: v for v in token_views(session, now=T0)}
        assert views[row.id].kind == "token"
        assert views[row.id].last_used == T0
        assert (views[user.token_id].kind, views[user.token_id].username) == ("account", "clerk")
        assert views[public.token_id].kind == "public"
        assert views[public.token_id].last_used is None
        with pytest.raises(Conflict, match="disable the account"):
            revoke_api_token(session, user.token_id)
        with pytest.raises(Conflict, match="public pages"):
            revoke_api_token(session, public.token_id)
        assert caller_of(session, secret) is not None
        revoke_api_token(session, row.id or 0, now=T0)
    with session_scope(engine) as session:
        assert caller_of(session, secret) is None
        assert token_views(session, now=T0)[0].state == "revoked"
        names = audit_names(session, {row.id or 0, user.token_id})
    assert names == {row.id: ("inspection system", None), user.token_id: ("user clerk", "clerk")}


def test_the_trail_is_filtered_by_time_and_criteria_hash(engine: Engine) -> None:
    with session_scope(engine) as session:
        row, _ = create_token(session, "verifier", name="hr system", now=T0)
        caller = Caller(row.id or 0, row.name, row.role)
        for hour, criteria in enumerate(["a", "b", "a"]):
            record_access(
                session,
                caller,
                action="engineer-verification",
                criteria=criteria * 64,
                rows=1,
                results=1,
                now=T0 + timedelta(hours=hour),
            )
    with session_scope(engine) as session:

        def hours(**given: object) -> list[int]:
            found = access_trail(session, **given)  # type: ignore[arg-type]
            return [int((e.at - T0).total_seconds() // 3600) for e in found]

        assert hours() == [2, 1, 0]
        assert hours(criteria="a" * 64) == [2, 0]
        assert hours(since=T0 + timedelta(hours=1)) == [2, 1]
        assert hours(until=T0 + timedelta(hours=1)) == [0]
        assert hours(since=T0, until=T0 + timedelta(hours=2), criteria="b" * 64) == [1]
        with pytest.raises(InvalidInput, match="64 lower-case"):
            access_trail(session, criteria="A" * 64)


def test_the_health_of_an_empty_node(engine: Engine, key_store: KeyStore) -> None:
    health = node_health(engine, key_store=key_store, now=T0)
    assert health.problem is None
    assert health.schema is not None
    assert health.schema.at_head
    assert (health.logs, health.peers, health.keys, health.pending_deliveries) == ((), (), (), 0)
    assert health.version == "0.1.0"


def test_the_health_of_the_demo_node(settings: Settings) -> None:
    seed_demo_node(settings)
    key_store = IssuingContext.for_node(settings).key_store
    with engine_scope(settings.database_url) as engine:
        health = node_health(engine, key_store=key_store, now=datetime.now(UTC))
    assert health.problem is None
    assert {log.authority for log in health.logs} == {"CN-SH", "CN-JS", "CN-ZJ", "CN-AH"}
    assert all(log.size > 0 and log.checkpoint_at is not None for log in health.logs)
    assert all(0 < log.witnessed_size <= log.size for log in health.logs)
    assert health.keys
    assert all(key.held for key in health.keys)
    assert {key.purpose for key in health.keys} >= {"issuing", "log"}


def test_a_database_not_migrated_is_reported_not_raised(
    tmp_path: Path, key_store: KeyStore
) -> None:
    with engine_scope(f"sqlite:///{tmp_path / 'empty.sqlite3'}") as engine:
        health = node_health(engine, key_store=key_store, now=T0)
    assert health.problem == "not migrated to the latest revision"
    assert health.schema is not None
    assert health.schema.current == ()
    assert health.logs == ()

"""Bearer tokens and roles, and the endpoint that needs one (log entries)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api import create_app
from registry.datadir import DataDir
from registry.demo import DEMO_ROLES, seed_demo, seed_demo_tokens
from registry.errors import InvalidInput, NotFound
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tlog.sequencer import append
from registry.tokens import create_token, list_tokens, parse_role, revoke_token, role_of
from registry.trust.store import NodeProfile
from tests.test_tlog import _credentials

PROBLEM = "application/problem+json"


def test_tokens_keep_only_their_hash(engine: Engine, tmp_path: object) -> None:
    with session_scope(engine) as session:
        with pytest.raises(NotFound):
            parse_role(session, "issuer:CN-SH")  # no such authority yet
        with pytest.raises(InvalidInput, match="unknown role"):
            parse_role(session, "root")
        row, token = create_token(session, "federation", name="Jiangsu node")
        assert token.startswith("yrd_")
        assert token not in (row.token_hash, row.name)
        assert role_of(session, token) == "federation"
        _, brief = create_token(
            session, "admin", name="audit", expires=datetime(2030, 1, 1, tzinfo=UTC)
        )
        assert role_of(session, brief, now=datetime(2029, 12, 31, tzinfo=UTC)) == "admin"
        assert role_of(session, brief, now=datetime(2030, 1, 1, tzinfo=UTC)) is None
        with pytest.raises(InvalidInput, match="future"):
            create_token(session, "admin", name="x", expires=datetime(2000, 1, 1, tzinfo=UTC))
        assert role_of(session, token + "x") is None
        assert role_of(session, "Bearer " + token) is None
        assert row.id is not None
        revoke_token(session, row.id)
        assert role_of(session, token) is None
        assert [t.role for t in list_tokens(session)] == ["federation", "admin"]


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    key_store = DataDir(settings).key_store()
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(session, key_store, profile=NodeProfile.from_settings(settings))
        tokens = seed_demo_tokens(session)
        assert not seed_demo_tokens(session)
        made = _credentials(session, key_store, 3, signed_at=datetime.now(UTC))
        append(session, key_store, "CN-SH", made, origin_prefix="registry.yrd.example")
    assert sorted(tokens) == sorted(DEMO_ROLES)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def test_log_entries_need_the_federation_role(node: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = node
    url = "/v1/logs/CN-SH/entries"
    missing = client.get(url, params={"start": 0, "end": 3})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.headers["content-type"] == PROBLEM
    unknown = client.get(
        url, params={"start": 0, "end": 3}, headers={"Authorization": "Bearer yrd_nothing"}
    )
    assert unknown.status_code == 401
    for role in ("verifier", "issuer:CN-SH", "enforcement"):
        wrong = client.get(
            url, params={"start": 0, "end": 3}, headers={"Authorization": f"Bearer {tokens[role]}"}
        )
        assert wrong.status_code == 403, role
        assert "needs federation" in wrong.json()["detail"]
    federation = {"Authorization": f"Bearer {tokens['federation']}"}
    page = client.get(url, params={"start": 1, "end": 3}, headers=federation)
    assert page.status_code == 200
    entries = page.json()["entries"]
    assert [e["index"] for e in entries] == [1, 2]
    assert entries[0]["leaf"]["type"] == ["VerifiableCredential", "SafetyEngineerQualification"]
    assert client.get(url, params={"start": 0, "end": 4}, headers=federation).status_code == 400
    assert client.get(url, params={"start": 2, "end": 1}, headers=federation).status_code == 400

"""Verifications of engineers are in the access audit, as searches of the list are:
who asked, when, a keyed hash of what, how many were found; never an ID number."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api import create_app
from api.recorder import AccessRecorder
from registry.demo import DEMO_ENGINEERS
from registry.enforcement.audit import AccessEntry, criteria_hash
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import session_scope
from registry.tokens import Caller, create_token
from registry.verification import EngineerQuery, access_criteria
from tests._support import seed_demo_node

WANG = DEMO_ENGINEERS[0]
NOBODY = "110101200001010002"


class _Node:
    def __init__(self, client: TestClient, tokens: dict[str, str], secret: bytes) -> None:
        self.client = client
        self.tokens = tokens
        self.secret = secret

    def post(self, path: str, body: Any, role: str = "verifier") -> Any:
        return self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )

    def trail(self) -> list[dict[str, Any]]:
        answer = self.client.get(
            "/v1/audit/access", headers={"Authorization": f"Bearer {self.tokens['admin']}"}
        )
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries


@pytest.fixture
def node(settings: Settings) -> Iterator[_Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield _Node(client, tokens, IssuingContext.for_node(settings).node_secret)


def test_a_verification_by_id_number_is_in_the_access_audit(node: _Node) -> None:
    asked = {"id_number": WANG.id_number, "region": "CN-SH"}
    answer = node.post("/v1/verify/engineer", asked)
    assert answer.status_code == 200, answer.text
    unknown = node.post("/v1/verify/engineer", {"id_number": NOBODY, "region": "CN-SH"})
    assert unknown.status_code == 200, unknown.text
    newest, first = node.trail()[:2]
    assert (first["action"], first["role"], first["rows"], first["results"]) == (
        "engineer-verification",
        "verifier",
        1,
        1,
    )
    expected = access_criteria(
        EngineerQuery(region="CN-SH", id_number=WANG.id_number), node_secret=node.secret
    )
    assert first["criteriaHash"] == criteria_hash(expected, node_secret=node.secret)
    assert expected["key"]
    assert WANG.id_number not in str(expected)
    assert (newest["action"], newest["results"]) == ("engineer-verification", 0)
    assert newest["criteriaHash"] != first["criteriaHash"]


def test_a_verification_by_registration_number_is_in_the_access_audit(node: _Node) -> None:
    report = node.post("/v1/verify/engineer", {"id_number": WANG.id_number, "region": "CN-SH"})
    registration = re.findall(r'"registrationNumber":"([^"]+)"', report.text)[0]
    answer = node.post(
        "/v1/verify/engineer",
        {"registration_number": registration, "name": WANG.name, "region": "CN-SH"},
    )
    assert answer.status_code == 200, answer.text
    [entry, *_] = node.trail()
    assert (entry["action"], entry["rows"], entry["results"]) == ("engineer-verification", 1, 1)


def test_a_batch_is_one_entry_with_its_rows(node: _Node) -> None:
    rows = [
        {"id_number": WANG.id_number, "region": "CN-SH"},
        {"id_number": NOBODY, "region": "CN-SH"},
        {"id_number": "123", "region": "CN-SH"},  # answered as the row's error
    ]
    answer = node.post("/v1/verify/batch", {"rows": rows}, role="enforcement")
    assert answer.status_code == 200, answer.text
    [entry, *_] = node.trail()
    assert (entry["action"], entry["role"], entry["rows"], entry["results"]) == (
        "engineer-verification-batch",
        "enforcement",
        3,
        1,
    )
    assert WANG.id_number not in str(node.trail())


def test_a_refused_question_is_no_question_asked(node: _Node) -> None:
    before = node.trail()
    answer = node.post("/v1/verify/engineer", {"id_number": "123", "region": "CN-SH"})
    assert answer.status_code == 422, answer.text
    assert node.trail() == before


def test_an_entry_not_stored_fails_its_request(engine: Engine) -> None:
    # No answer without its entry: when the commit fails, record() raises what it raised.
    with session_scope(engine) as session:
        _row, _secret = create_token(session, "verifier", name="probe")
        caller = Caller(token_id=_row.id or 0, role="verifier", name="probe")
    entry = AccessEntry(caller, "engineer-verification", "0" * 64, 1, 0, dt.datetime.now(dt.UTC))

    async def twice() -> None:
        recorder = AccessRecorder(engine)
        try:
            await recorder.record(entry)  # stored
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE access_audit RENAME TO access_audit_gone"))
            with pytest.raises((SQLAlchemyError, psycopg.Error)):
                await recorder.record(entry)
        finally:
            await recorder.aclose()

    asyncio.run(twice())
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM access_audit_gone")).scalar()
    assert stored == 1

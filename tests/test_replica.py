"""A node reading from a PostgreSQL streaming replica: a real hot standby, made with
``pg_basebackup -R`` from a primary of the module's own (devtools/postgres.py), whatever
server the rest of the suite uses.

While the standby's replay is paused, what is issued on the primary is not yet
what verification (the API's and the employer's desk), the certificate page, the
blacklist search and check and the public list see: they read from the replica.
Once replayed, they do. A report read from the replica verifies offline as one read
from the primary does. The access audit's entries of searches, checks and look-ups
land on the primary (a standby refuses writes). With the standby stopped, the node
answers from the primary and logs it, and reads from the standby again once it is
back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api import create_app
from api.examples import record_examples
from devtools.ports import free_port
from devtools.postgres import ReplicatedPair, start_replicated_pair
from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, seed_demo, seed_demo_records, seed_demo_tokens
from registry.demo.records import DEMO_LISTED_ORGANISATIONS
from registry.demo.startup import seed_demo_users
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.replica import ReplicaState
from registry.trust.document import digest_of
from registry.trust.store import NodeProfile, stored_versions
from registry.verification.offline import Check, check_file
from tests._support import LOOPBACK, seed_demo_node
from tests._witnessing import cosign_logs

WANG = DEMO_ENGINEERS[0]
_DATABASE = "registry"


@dataclass
class _Node:
    pair: ReplicatedPair
    settings: Settings
    client: TestClient
    tokens: dict[str, str]
    users: dict[str, dict[str, str]]

    def post(self, path: str, body: Any, role: str) -> Any:
        return self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )

    def verify(self, **asked: Any) -> dict[str, Any]:
        answer = self.post("/v1/verify/engineer", asked, "verifier")
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()
        return report

    def primary(self, query: str, **params: Any) -> list[Any]:
        """Rows of ``query`` on the primary itself."""
        with engine_scope(self.settings.database_url) as engine, engine.connect() as connection:
            return list(connection.execute(text(query), params).all())

    def standby(self, query: str) -> list[Any]:
        """Rows of ``query`` on the standby itself."""
        standby = self.pair.standby
        dsn = f"host={standby.host} port={standby.port} user={standby.superuser} dbname={_DATABASE}"
        with psycopg.connect(dsn) as connection:
            return list(connection.execute(query).fetchall())

    def check(self, report: dict[str, Any]) -> Check:
        """The report checked offline against the primary's trust chain, genesis pinned."""
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            chain = [json.loads(row.canonical) for row in stored_versions(s)]
        return check_file(report, trust_lists=chain, genesis=digest_of(chain[0]), demo=True)


def _seed(settings: Settings) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The demo seeded into the primary as ``make run`` seeds it, its logs cosigned;
    its tokens and its accounts' passwords."""
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
        with session_scope(engine) as session:
            seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
            seed_demo_records(session, context)
            cosign_logs(session, context.key_store)
            return seed_demo_tokens(session), seed_demo_users(session)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Node]:
    """One primary and standby pair for the module; a node in process whose database
    is the primary and whose replica is the standby (tried again at once after a
    failure, so the fallback's test sees it come back)."""
    pair = start_replicated_pair()
    try:
        dsn = f"host={pair.primary.host} port={pair.primary.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{_DATABASE}"')
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("replica") / "data",
            database_url=pair.primary.url(_DATABASE),
            database_replica_url=pair.standby.url(_DATABASE),
            database_replica_retry_seconds=0,
            # Read from the replica however far behind, so that what a paused replay
            # has not reached is seen missing; the bound has a test of its own.
            database_replica_max_lag_seconds=3600,
            webhook_allowed_networks=LOOPBACK.allowed,
            demo=True,
        )
        tokens, users = _seed(settings)
        pair.replayed()
        with TestClient(create_app(settings)) as client:
            yield _Node(pair, settings, client, tokens, users)
    finally:
        pair.stop()


def _failures(check: Check, path: str = "") -> list[str]:
    here = f"{path} > {check.name}" if path else check.name
    found = [f"{here}: {check.detail}"] if check.ok is False else []
    for child in check.children:
        found += _failures(child, here)
    return found


def _outline(check: Check) -> list[Any]:
    """What was checked and how it came out, without the details (times, sizes)."""
    return [check.name, check.ok, [_outline(child) for child in check.children]]


def _example(kind: str) -> dict[str, Any]:
    """The API's example of a record of ``kind`` (for an ``issuer:CN-SH`` token)."""
    value: dict[str, Any] = record_examples(china_today(dt.datetime.now(dt.UTC)))[kind]["value"]
    return value


def _issued(node: _Node, kind: str) -> dict[str, Any]:
    answer = node.post("/v1/credentials", _example(kind), "issuer:CN-SH")
    assert answer.status_code == 201, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def test_a_node_reads_from_its_replica_and_falls_back_to_the_primary(
    node: _Node, caplog: pytest.LogCaptureFixture
) -> None:
    """One test, so that the pair is started once even when the suite's workers share
    out the module's tests."""
    _reads_come_from_the_replica_and_its_reports_verify_as_the_primarys(node)
    _searches_read_the_replica_and_write_their_audit_on_the_primary(node)
    _a_replica_further_behind_than_its_bound_is_not_read_from(node, caplog)
    caplog.clear()
    _with_the_standby_stopped_reads_fall_back_to_the_primary(node, caplog)


def _reads_come_from_the_replica_and_its_reports_verify_as_the_primarys(node: _Node) -> None:
    # A report read from the replica verifies offline as one read from the primary.
    from_replica = node.verify(id_number=WANG.id_number, region="CN-SH")
    assert from_replica["credentialSubject"]["verdict"] == "qualified"
    on_primary = Settings(**{**node.settings.model_dump(), "database_replica_url": ""})
    with TestClient(create_app(on_primary)) as client:
        answer = client.post(
            "/v1/verify/engineer",
            json={"id_number": WANG.id_number, "region": "CN-SH"},
            headers={"Authorization": f"Bearer {node.tokens['verifier']}"},
        )
        assert answer.status_code == 200, answer.text
        from_primary = answer.json()
    checked, reference = node.check(from_replica), node.check(from_primary)
    assert _failures(checked) == []
    assert checked.holds
    assert reference.holds
    assert _outline(checked) == _outline(reference)
    subject, expected = from_replica["credentialSubject"], from_primary["credentialSubject"]
    assert (subject["verdict"], subject["reasons"]) == (expected["verdict"], expected["reasons"])
    assert subject["qualification"] == expected["qualification"]

    # Replay paused: issued on the primary, not yet on the replica the reads go to.
    node.pair.pause_replay()
    try:
        issued = _issued(node, "qualification")
        credential_id = issued["credential"]["id"]
        assert node.primary("SELECT id FROM credential WHERE id = :id", id=credential_id)
        holder = _example("qualification")["holder"]
        asked = {"id_number": holder["id_number"], "region": "CN-SH"}
        unseen = node.verify(**asked)["credentialSubject"]
        assert "qualification" not in unseen
        assert "holder" not in unseen
        assert node.client.get(f"/c/{credential_id}").status_code == 404
        assert holder["name"] not in _desk_report(node, holder["id_number"])
    finally:
        node.pair.resume_replay()
    node.pair.replayed()
    assert holder["name"] in _desk_report(node, holder["id_number"])

    seen = node.verify(**asked)["credentialSubject"]
    assert seen["holder"]["name"] == holder["name"]
    assert seen["qualification"]["id"] == credential_id
    page = node.client.get(f"/c/{credential_id}")
    assert page.status_code == 200
    assert holder["name"] in page.text
    assert holder["id_number"] not in page.text


def _form_token(node: _Node, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', node.client.get(path).text)
    assert found is not None, path
    return found[1]


def _desk_report(node: _Node, id_number: str) -> str:
    """The report page the employer's desk opens after verifying ``id_number`` in
    Shanghai (signed in as the demo's employer first), kept on the primary."""
    if node.client.get("/desk/verify", follow_redirects=False).status_code != 200:
        account = node.users["verifier"]
        signed = node.client.post(
            "/sign-in",
            data={**account, "csrf_token": _form_token(node, "/sign-in"), "next": "/desk"},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text
    form = {"way": "id", "id_number": id_number, "region": "CN-SH"}
    answer = node.client.post(
        "/desk/verify",
        data={**form, "csrf_token": _form_token(node, "/desk/verify")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    kept = node.client.get(answer.headers["location"])
    assert kept.status_code == 200, kept.text
    assert id_number not in kept.text
    return kept.text


def _searches_read_the_replica_and_write_their_audit_on_the_primary(node: _Node) -> None:
    listed = _issued_listing_while_paused(node)
    # Replayed: the search, the check and the public list see the new listing.
    found = node.post("/v1/blacklist/search", {"credit_code": listed}, "enforcement")
    assert found.status_code == 200, found.text
    assert [x["listed"]["creditCode"] for x in found.json()["listings"]] == [listed]
    checked = node.post("/v1/blacklist/check", {"rows": [{"credit_code": listed}]}, "enforcement")
    assert checked.status_code == 200, checked.text
    assert checked.json()["results"][0]["listed"] is True
    public = node.client.get("/v1/blacklist/public", params={"region": "CN-SH"})
    assert listed in {entry["identifier"] for entry in public.json()["entries"]}
    page = node.client.get("/blacklist", params={"code": listed})
    assert page.status_code == 200
    assert listed in page.text

    # Every question asked is in the primary's access audit, its replica's copy
    # following it there.
    actions = [
        row[0] for row in node.primary("SELECT action FROM access_audit ORDER BY id DESC LIMIT 4")
    ]
    assert actions == ["blacklist-check", "blacklist-search", "blacklist-check", "blacklist-search"]

    # The public look-up, read from the replica, recorded on the primary.
    number = _registration_of(WANG.name)
    token = _form_token(node, "/lookup")
    before = _count(node, "public-lookup")
    answer = node.client.post(
        "/lookup", data={"csrf_token": token, "registration_number": number, "name": WANG.name}
    )
    assert answer.status_code == 200, answer.text
    assert number in answer.text
    assert WANG.id_number not in answer.text
    assert _count(node, "public-lookup") == before + 1
    node.pair.replayed()
    assert node.standby("SELECT count(*) FROM access_audit WHERE action = 'public-lookup'") == [
        (before + 1,)
    ]


def _issued_listing_while_paused(node: _Node) -> str:
    """A new listing issued on the primary while the standby's replay is paused: the
    search and check (each recorded in the primary's audit) and the public list do not
    see it yet. Returns its credit code, once the standby has replayed it."""
    code = _example("listing")["listed"]["credit_code"]
    assert code not in {c for _, c in DEMO_LISTED_ORGANISATIONS.values()}
    node.pair.pause_replay()
    try:
        _issued(node, "listing")
        before = _count(node, "blacklist-search"), _count(node, "blacklist-check")
        missed = node.post("/v1/blacklist/search", {"credit_code": code}, "enforcement")
        assert missed.status_code == 200, missed.text
        assert missed.json()["listings"] == []
        checked = node.post("/v1/blacklist/check", {"rows": [{"credit_code": code}]}, "enforcement")
        assert checked.status_code == 200, checked.text
        assert checked.json()["results"][0]["listed"] is False
        public = node.client.get("/v1/blacklist/public", params={"region": "CN-SH"})
        assert code not in {entry["identifier"] for entry in public.json()["entries"]}
        # Written on the primary while the replica stood still.
        after = _count(node, "blacklist-search"), _count(node, "blacklist-check")
        assert after == (before[0] + 1, before[1] + 1)
    finally:
        node.pair.resume_replay()
    node.pair.replayed()
    return str(code)


def _registration_of(name: str) -> str:
    for number, engineer in enumerate(DEMO_ENGINEERS):
        if engineer.name == name:
            assert engineer.registered_by is not None
            return f"{engineer.registered_by[3:]}-REG-{1001 + number}"
    raise AssertionError(name)


def _count(node: _Node, action: str) -> int:
    ((count,),) = node.primary(
        "SELECT count(*) FROM access_audit WHERE action = :action", action=action
    )
    return int(count)


def _a_replica_further_behind_than_its_bound_is_not_read_from(
    node: _Node, caplog: pytest.LogCaptureFixture
) -> None:
    # A second node on the same pair, reading from the replica 1 s behind at most.
    bounded = Settings(**{**node.settings.model_dump(), "database_replica_max_lag_seconds": 1})
    with (
        TestClient(create_app(bounded)) as client,
        caplog.at_level(logging.INFO, logger="registry.replica"),
    ):
        assert client.get("/blacklist").status_code == 200  # the replica is current
        node.pair.pause_replay()
        try:
            credit = _example("continuing-education")
            credit["course_title"] += "（复训）"
            answer = node.post("/v1/credentials", credit, "issuer:CN-SH")
            assert answer.status_code == 201, answer.text
            page = f"/c/{answer.json()['credential']['id']}"
            time.sleep(2.5)  # past the bound, and past the next look at the replica
            # The node allowing an hour reads the replica, which has not replayed it;
            # the one allowing a second reads the primary.
            assert node.client.get(page).status_code == 404
            assert client.get(page).status_code == 200
        finally:
            node.pair.resume_replay()
        node.pair.replayed()
        time.sleep(1.5)  # the next look finds it caught up
        assert client.get(page).status_code == 200
    assert "more than 1 s behind" in caplog.text
    assert "has caught up" in caplog.text


def _with_the_standby_stopped_reads_fall_back_to_the_primary(
    node: _Node, caplog: pytest.LogCaptureFixture
) -> None:
    node.pair.standby.halt()
    try:
        with caplog.at_level(logging.INFO, logger="registry.replica"):
            report = node.verify(id_number=WANG.id_number, region="CN-SH")
            assert report["credentialSubject"]["verdict"] == "qualified"
            assert node.check(report).holds
            searched = node.post(
                "/v1/blacklist/search",
                {"credit_code": DEMO_LISTED_ORGANISATIONS["CN-SH"][1]},
                "enforcement",
            )
            assert searched.status_code == 200, searched.text
            assert len(searched.json()["listings"]) == 1
            assert node.client.get("/blacklist").status_code == 200
        failures = [r for r in caplog.records if "replica failed" in r.getMessage()]
        assert failures, caplog.text
        assert all(r.levelno == logging.WARNING for r in failures)
        assert WANG.id_number not in caplog.text
    finally:
        node.pair.standby.start()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="registry.replica"):
        node.pair.replayed()
        assert node.verify(id_number=WANG.id_number, region="CN-SH")["credentialSubject"][
            "verdict"
        ] == ("qualified")
    assert "answers again" in caplog.text


def test_an_unreachable_replica_is_left_alone_for_the_retry_period(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens where the replica should be: each request is answered from the
    primary, and the replica is tried (and the failure logged) once in the period."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    tokens = seed_demo_node(settings)
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/registry"
    replicated = settings.model_copy(
        update={"database_replica_url": nowhere, "database_replica_retry_seconds": 3600}
    )
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    inspector = {"Authorization": f"Bearer {tokens['enforcement']}"}
    code = DEMO_LISTED_ORGANISATIONS["CN-SH"][1]
    with (
        caplog.at_level(logging.INFO, logger="registry.replica"),
        TestClient(create_app(replicated)) as client,
    ):
        for _ in range(2):
            report = client.post(
                "/v1/verify/engineer",
                json={"id_number": WANG.id_number, "region": "CN-SH"},
                headers=verifier,
            )
            assert report.status_code == 200, report.text
            assert report.json()["credentialSubject"]["verdict"] == "qualified"
            found = client.post(
                "/v1/blacklist/search", json={"credit_code": code}, headers=inspector
            )
            assert found.status_code == 200, found.text
            assert len(found.json()["listings"]) == 1
    warned = [r for r in caplog.records if "replica failed" in r.getMessage()]
    assert len(warned) == 1, caplog.text
    assert "trying the replica again in 3600 s" in warned[0].getMessage()
    with engine_scope(pg_url) as engine, engine.connect() as connection:
        actions = connection.execute(
            text("SELECT action FROM access_audit ORDER BY id DESC LIMIT 4")
        ).all()
    assert sorted(a for (a,) in actions) == [
        "blacklist-search",
        "blacklist-search",
        "engineer-verification",
        "engineer-verification",
    ]


@pytest.mark.parametrize(
    ("primary", "replica"),
    [
        ("sqlite:///registry.sqlite3", "postgresql+psycopg://registry@127.0.0.1/registry"),
        ("postgresql+psycopg://registry@127.0.0.1/registry", "sqlite:///replica.sqlite3"),
    ],
)
def test_a_replica_is_postgresqls_of_a_postgresql_primary(
    tmp_path: Path, primary: str, replica: str
) -> None:
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        Settings(data_dir=tmp_path, database_url=primary, database_replica_url=replica)


def test_the_replica_is_current_as_of_the_newest_primary_position_it_has_replayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr("registry.storage.replica.time.monotonic", lambda: clock[0])
    state = ReplicaState(retry_after=30, max_lag=10)

    def at(when: float, written: int, replayed: int | None) -> bool:
        clock[0] = when
        return state.current(lambda: written, lambda: replayed)

    assert at(0, 100, 100)  # caught up
    assert at(5, 200, 100)  # 5 s behind at most
    assert not at(11, 300, 150)  # has not replayed what the primary had 11 s ago
    assert at(12, 300, 200)  # has replayed what it had at 5 s: 7 s behind

    def unasked() -> int:
        raise AssertionError("asked again within the second")

    clock[0] = 12.5
    assert state.current(unasked, unasked)  # the last answer stands
    assert at(20, 400, None)  # not a standby: never behind
    clock[0] = 40.0

    def refused() -> int:
        raise OperationalError("SELECT", {}, Exception("the primary refused"))

    assert state.current(refused, unasked)  # the primary cannot be asked: as it was

"""The logs a verification relies on, and how current each is: a report names each
log its evidence is drawn from, the tree it used and when this node last confirmed
it with its origin; where that is longer ago than the node's bound, or never, the
answer says so in Chinese and English (``mirror-stale``) without changing the
verdict. Node B follows node A's CN-JS log over A's API with the real mirror, and
answers on A's engineer from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import create_app
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.crypto.keys import Signer
from registry.demo import DEMO_ENGINEERS
from registry.demo.synthetic import resident_id
from registry.federation.follower import follow_once
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import PeerLog
from registry.trust.document import digest_of
from registry.trust.store import current_version, stored_versions
from registry.verification import EngineerQuery, EngineerVerifier
from registry.verification.batch import answer_table, verdict_row
from registry.verification.offline import Check, check_file
from registry.verification.summary import summary_lines
from tests._federation import peer_client, take_trust_list
from tests._support import migrated_sqlite, seed_demo_node

AUTHORITY = "CN-JS"
LI_NA = next(e for e in DEMO_ENGINEERS if e.name == "李娜")  # Jiangsu's, registered there
CONFIRMED = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in China


class _SignsAsShanghai(EngineerVerifier):
    """B's verifier, signing as Shanghai's node does: with the node key the trust list
    lists for CN-SH (held, in this test, in A's key store)."""

    def __init__(self, held: tuple[str, Signer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._held = held

    def node_signer(self, session: Session, *, at: datetime) -> tuple[str, Signer]:
        return self._held


@dataclass
class Follower:
    """Node B: a database following A's CN-JS log, its verifier and A's trust chain."""

    db: str
    verifier: EngineerVerifier
    signer: Signer
    chain: list[dict[str, Any]]

    def report(self) -> dict[str, Any]:
        with engine_scope(self.db) as engine, session_scope(engine) as session:
            verified = self.verifier.verify(
                session, EngineerQuery(region=AUTHORITY, id_number=LI_NA.id_number)
            )
        return verified.report

    def confirmed(self, at: datetime | None) -> None:
        """Set when B last confirmed the log with A, as if A had not answered since."""
        with engine_scope(self.db) as engine, session_scope(engine) as session:
            state = session.get(PeerLog, AUTHORITY)
            assert state is not None
            state.confirmed_at = at
            session.add(state)
            session.commit()

    def check(self, report: dict[str, Any]) -> Check:
        return check_file(report, trust_lists=self.chain, genesis=digest_of(self.chain[0]))


@pytest.fixture
def follower(settings: Settings, tmp_path: Path, sqlite_template: Path) -> Follower:
    tokens = seed_demo_node(settings)
    context = IssuingContext.for_node(settings)
    db = migrated_sqlite(sqlite_template, tmp_path / "follower.db")
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        chain = [json.loads(row.canonical) for row in stored_versions(session)]
        held = EngineerVerifier(key_store=context.key_store, lookup=context.lookup).node_signer(
            session, at=datetime.now(UTC)
        )
    with (
        TestClient(create_app(settings)) as client,
        engine_scope(db) as engine,
        session_scope(engine) as session,
    ):
        take_trust_list(session, settings)
        trust = current_version(session)
        assert trust is not None
        member = next(m for m in trust.content.members if m.code == AUTHORITY)
        state = follow_once(
            session, member=member, trust=trust, client=peer_client(client, tokens["federation"])
        )
        assert state.state == "current", state.last_error
        session.commit()
    verifier = _SignsAsShanghai(held, key_store=context.key_store, lookup=context.lookup)
    return Follower(db, verifier, held[1], chain)


def _stale(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["credentialSubject"]["reasons"] if r["code"] == "mirror-stale"]


def test_a_mirror_confirmed_within_the_bound_is_current(follower: Follower) -> None:
    """Just followed: the report names A's log as mirrored, at the tree its evidence
    proves against, confirmed within the bound, and says nothing of staleness."""
    report = follower.report()
    subject = report["credentialSubject"]
    (log,) = subject["logs"]
    assert (log["authority"], log["mirrored"], log["current"]) == (AUTHORITY, True, True)
    assert log["currentWithinSeconds"] == 600
    assert log["origin"] == "registry.yrd.example/CN-JS"
    (checkpoint,) = subject["evidence"]["checkpoints"]
    body = checkpoint["checkpoint"].split("\n")
    assert [str(log["treeSize"]), log["rootHash"]] == body[1:3]
    assert _stale(report) == []
    assert follower.check(report).holds


def test_a_mirror_not_confirmed_within_the_bound_is_said_to_be_stale(
    follower: Follower,
) -> None:
    """Confirmed longer ago than the bound: the same verdict, with a reason beside it in
    both languages naming whose records are as of when; the report still verifies
    offline, its summary notes it, and a batch answer carries the same reason."""
    fresh = follower.report()["credentialSubject"]
    follower.confirmed(CONFIRMED)
    report = follower.report()
    subject = report["credentialSubject"]
    assert subject["verdict"] == fresh["verdict"]
    (log,) = subject["logs"]
    assert (log["current"], log["confirmedAt"]) == (False, "2026-01-05T02:00:00Z")
    (reason,) = _stale(report)
    assert (reason["holds"], reason["decides"]) == (False, False)
    assert reason["zh"].startswith("江苏省应急管理厅的记录截至 2026-01-05 10:00（北京时间），")
    assert "本节点此后未能与其核对" in reason["zh"]
    assert reason["en"].startswith(
        "Jiangsu Provincial Department of Emergency Management's records are as of "
        "2026-01-05 10:00 China time (UTC+8); this node has not confirmed them with it since"
    )
    assert follower.check(report).holds
    assert ("另请注意", reason["zh"]) in summary_lines(report, "zh")
    with engine_scope(follower.db) as engine, session_scope(engine) as session:
        (answer,) = follower.verifier.judge_many(
            session, [EngineerQuery(region=AUTHORITY, id_number=LI_NA.id_number)]
        )
    assert not isinstance(answer, str)
    row = verdict_row(answer)
    assert row["verdict"] == subject["verdict"]
    assert [r for r in row["reasons"] if r["code"] == "mirror-stale"] == [reason]


def test_a_mirror_never_confirmed_is_said_to_be_so(follower: Follower) -> None:
    follower.confirmed(None)
    report = follower.report()
    (log,) = report["credentialSubject"]["logs"]
    assert "confirmedAt" not in log
    assert log["current"] is False
    (reason,) = _stale(report)
    assert reason["zh"].startswith("本节点从未与江苏省应急管理厅核对其记录")
    assert reason["en"].startswith(
        "this node has never confirmed Jiangsu Provincial Department of Emergency "
        "Management's records with it"
    )
    assert follower.check(report).holds


def test_what_was_not_found_is_said_to_rest_on_a_stale_mirror(follower: Follower) -> None:
    """Nobody found: the answer rests on every log the node holds, so a stale mirror is
    named, with its checkpoint, although the evidence holds none of its records (a
    registration signed since would be missing from it)."""
    follower.confirmed(CONFIRMED)
    nobody = resident_id("320102", "19990101", "999")
    with engine_scope(follower.db) as engine, session_scope(engine) as session:
        report = follower.verifier.verify(
            session, EngineerQuery(region=AUTHORITY, id_number=nobody)
        ).report
    subject = report["credentialSubject"]
    assert subject["evidence"]["credentials"] == []
    assert [c["authority"] for c in subject["evidence"]["checkpoints"]] == [AUTHORITY]
    (log,) = subject["logs"]
    assert (log["authority"], log["current"]) == (AUTHORITY, False)
    (reason,) = _stale(report)
    assert reason["zh"].startswith("江苏省应急管理厅的记录截至")
    assert follower.check(report).holds


def _failures(check: Check) -> list[str]:
    found = [check.detail] if check.ok is False else []
    for child in check.children:
        found += _failures(child)
    return found


def test_a_stale_log_claimed_current_does_not_verify_offline(follower: Follower) -> None:
    """A report (signed by the node's key) that calls a log current although its
    confirmation is older than its bound is refused at the log's check."""
    follower.confirmed(CONFIRMED)
    report = follower.report()
    unsigned = {k: v for k, v in report.items() if k != "proof"}
    unsigned["credentialSubject"]["logs"][0]["current"] = True
    forged = add_proof(unsigned, follower.signer, created=datetime.now(UTC))
    check = follower.check(forged)
    assert not check.holds
    assert any(
        f.endswith("confirmed at 2026-01-05T02:00:00Z: current is False, not as it says")
        for f in _failures(check)
    )


def test_a_report_on_hosted_records_names_only_its_own_logs(settings: Settings) -> None:
    """On a node hosting every authority, a report names the logs its evidence is drawn
    from, each its own, confirmed as it answers: none is stale, even under a bound of
    one second."""
    tokens = seed_demo_node(settings)
    strict = settings.model_copy(update={"federation_stale_seconds": 1})
    chen_jing = next(e for e in DEMO_ENGINEERS if e.name == "陈静")  # Jiangsu's, in Shanghai
    with TestClient(create_app(strict)) as client:
        answer = client.post(
            "/v1/verify/engineer",
            json={"id_number": chen_jing.id_number, "region": "CN-SH"},
            headers={"Authorization": f"Bearer {tokens['verifier']}"},
        )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    subject = report["credentialSubject"]
    evidence = [c["authority"] for c in subject["evidence"]["checkpoints"]]
    assert [log["authority"] for log in subject["logs"]] == evidence
    assert {"CN-JS", "CN-SH"} <= set(evidence)
    for log in subject["logs"]:
        assert (log["mirrored"], log["current"]) == (False, True)
        assert log["confirmedAt"] == report["validFrom"]
        assert log["currentWithinSeconds"] == 1
    assert _stale(report) == []


def test_a_batch_table_shows_a_stale_log_beside_the_reasons_that_decided() -> None:
    """A not-qualified row's table lists the reasons that decided, and the one saying a
    log relied on is not current; a qualified row lists every reason."""
    refused = {"code": "not-registered", "holds": False, "decides": True, "zh": "甲", "en": "a"}
    stale = {"code": "mirror-stale", "holds": False, "decides": False, "zh": "乙", "en": "b"}
    hours = {"code": "ce-term-hours", "holds": True, "decides": False, "zh": "丙", "en": "c"}
    rows = [
        {"row": 1, "verdict": "not-qualified", "reasons": [refused, hours, stale]},
        {"row": 2, "verdict": "qualified", "reasons": [hours, stale]},
    ]
    header, table = answer_table(rows, "zh")
    column = header.index("原因")
    assert [line[column] for line in table] == ["甲；乙", "丙；乙"]


def test_the_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_FEDERATION_STALE_SECONDS", "42")
    assert Settings().federation_stale_seconds == 42
    assert Settings.model_fields["federation_stale_seconds"].default == 600

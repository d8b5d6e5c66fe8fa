"""A peer's log kept as a mirror: node B follows node A's CN-JS log over A's API,
verifies it, and stores it in the tables its own records go in, so that B's log
audit, verification, blacklist search and log API answer from it as A's do."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from api import create_app
from api.examples import record_examples
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.crypto.keys import KeyStore
from registry.datadir import DataDir
from registry.demo import DEMO_ENGINEERS, DEMO_LISTED_PERSON
from registry.enforcement.search import ListingQuery, search_listings
from registry.errors import Conflict, Inconsistency, NotFound
from registry.federation import Frontier, Verified, verify_extension
from registry.federation.mirror import mirror_entries
from registry.federation.peers import register_peer
from registry.issuing import IssuingContext
from registry.issuing.changes import change_status
from registry.recognition.agreements import terminate
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import (
    Authority,
    LogCheckpoint,
    LogEntry,
    LogHead,
    LogNode,
    RecognitionAgreementRow,
    Record,
    StatusChangeRow,
    StoredCredential,
)
from registry.tlog.note import parse_verifier_key
from registry.tlog.sequencer import append
from registry.trust.store import current_version
from registry.verification.dossier import find_dossier
from registry.verification.log_audit import audit_log
from tests._federation import fresh_database, log_entries, log_note, take_trust_list
from tests._support import seed_demo_node

AUTHORITY = "CN-JS"


@pytest.fixture
def mirror_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of the same kind as the test's: node B's."""
    with fresh_database(db_url, request, tmp_path) as url:
        yield url


class NodeA:
    """The seeded demo node whose CN-JS log B follows, read over HTTP."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens

    def note(self, authority: str = AUTHORITY) -> str:
        return log_note(self.client, authority)

    def entries(self, start: int, end: int, authority: str = AUTHORITY) -> list[dict[str, Any]]:
        return log_entries(self.client, self.tokens["federation"], authority, start, end)


@pytest.fixture
def node_a(settings: Settings) -> Iterator[NodeA]:
    tokens = seed_demo_node(settings, witnessed=False)
    with TestClient(create_app(settings)) as client:
        yield NodeA(settings, client, tokens)


def _join(session: Session, node_a: NodeA, authority: str = AUTHORITY) -> None:
    """B accepts the federation's trust list and registers ``authority`` as a peer."""
    take_trust_list(session, node_a.settings)
    trust = current_version(session)
    assert trust is not None
    member = next(m for m in trust.content.members if m.code == authority)
    register_peer(session, member, valid_from=trust.content.valid_from)


def _follow(
    session: Session, node_a: NodeA, frontier: Frontier, authority: str = AUTHORITY
) -> Verified:
    trust = current_version(session)
    assert trust is not None
    member = next(m for m in trust.content.members if m.code == authority)
    note = node_a.note(authority)
    size = int(note.splitlines()[1])
    return verify_extension(
        authority=authority,
        origin=member.log.origin,
        log_keys=[parse_verifier_key(member.log.verifier_key)],
        trust=trust,
        frontier=frontier,
        note=note,
        entries=node_a.entries(frontier.size, size, authority),
    )


def _counts(session: Session) -> tuple[int, ...]:
    return tuple(
        int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (StoredCredential, LogEntry, LogNode, Record, StatusChangeRow)
    )


def _clean(session: Session, authority: str = AUTHORITY) -> dict[str, int]:
    report = audit_log(session, authority)
    assert report.findings == (), [str(f) for f in report.findings]
    assert report.rows["record"] > 0
    return dict(report.rows)


def _decide(
    session: Session,
    context: IssuingContext,
    target: str,
    action: Action,
    *,
    number: int,
    on: date,
    now: datetime | None = None,
) -> None:
    """Node A's decision ``action`` on ``target``, effective ``on``, under decision
    number ``number`` of Jiangsu's 2026 series."""
    change_status(
        session,
        context,
        target,
        StatusChangeIn(
            action=action,
            reason="test",
            decision_number=f"苏应急〔2026〕{number}号",
            effective_on=on,
        ),
        now=now,
    )


def test_a_peer_log_is_mirrored_and_answers_as_its_own(node_a: NodeA, mirror_url: str) -> None:
    """Mirrored, the log audits clean; a demo engineer of CN-JS is found by ID number and
    a CN-JS listing by blacklist search; B serves A's own signed checkpoint; the same
    batch again changes nothing; a later batch continues from the stored frontier."""
    lookup = DataDir(node_a.settings).lookup_secrets()
    engineer = next(e for e in DEMO_ENGINEERS if e.name == "张伟")
    with engine_scope(mirror_url) as engine:
        with session_scope(engine) as session:
            _join(session, node_a)
            first = _follow(session, node_a, Frontier())
            mirror_entries(session, AUTHORITY, first, start=0)
            session.commit()

        with session_scope(engine) as session:
            peer = session.get(Authority, AUTHORITY)
            assert peer is not None
            assert not peer.hosted
            head = session.get(LogHead, AUTHORITY)
            assert head is not None
            assert (head.size, bytes(head.root)) == (first.checkpoint.size, first.checkpoint.root)
            rows = _clean(session)
            assert rows["status_change"] > 0
            assert rows["status_list"] == 2
            dossier = find_dossier(session, lookup=lookup, id_number=engineer.id_number)
            assert {held.issuer for held in dossier.records} == {AUTHORITY}
            assert any(held.type == "SafetyEngineerQualification" for held in dossier.records)
            found = search_listings(
                session,
                ListingQuery(id_number=DEMO_LISTED_PERSON[1]),
                lookup=lookup,
                node_secret=b"\x00" * 32,
                today=china_today(datetime.now(UTC)),
            )
            assert [m.authority for m in found.matches] == [AUTHORITY]
            before = _counts(session)

        # B's own API serves the origin's signed note for the mirrored log.
        settings_b = node_a.settings.model_copy(
            update={"database_url": mirror_url, "data_dir": node_a.settings.data_dir.parent / "b"}
        )
        with TestClient(create_app(settings_b)) as client_b:
            served = client_b.get(f"/v1/logs/{AUTHORITY}/checkpoint")
            assert served.status_code == 200, served.text
            assert served.text == first.note
            listed = client_b.get("/v1/authorities")
            assert listed.status_code == 200, listed.text
            assert [(a["code"], a["hosted"]) for a in listed.json()] == [(AUTHORITY, False)]

        # A retry of the same batch is a no-op; another batch at those indexes is refused.
        with session_scope(engine) as session:
            mirror_entries(session, AUTHORITY, first, start=0)
            session.commit()
            assert _counts(session) == before
            with pytest.raises(Inconsistency):
                mirror_entries(session, AUTHORITY, _reordered(first), start=0)
            session.rollback()

        # A issues more: a revocation in effect today and one dated ahead.
        context = IssuingContext.for_node(node_a.settings)
        today = china_today(datetime.now(UTC))
        with (
            engine_scope(node_a.settings.database_url) as engine_a,
            session_scope(engine_a) as session_a,
        ):
            revoked, scheduled = _two_records(session_a)
            _decide(session_a, context, revoked, Action.REVOKE, number=99, on=today)
            _decide(
                session_a,
                context,
                scheduled,
                Action.REVOKE,
                number=100,
                on=today + timedelta(days=5),
            )
            session_a.commit()

        with session_scope(engine) as session:
            second = _follow(session, node_a, first.frontier)
            assert second.frontier.size > first.frontier.size
            mirror_entries(session, AUTHORITY, second, start=first.frontier.size)
            session.commit()
        with session_scope(engine) as session:
            _clean(session)
            gone = session.get(Record, revoked)
            pending = session.get(Record, scheduled)
            assert gone is not None
            assert gone.state == "revoked"
            assert pending is not None
            assert pending.state == "active"
            assert pending.scheduled_change_id is not None
        with TestClient(create_app(settings_b)) as client_b:
            assert client_b.get(f"/v1/logs/{AUTHORITY}/checkpoint").text == second.note

        # A batch that starts inside the mirror: what is kept is checked, the rest stored.
        with (
            engine_scope(node_a.settings.database_url) as engine_a,
            session_scope(engine_a) as session_a,
        ):
            suspended = session_a.execute(
                select(col(Record.credential_id)).where(
                    col(Record.authority_code) == AUTHORITY, col(Record.state) == "suspended"
                )
            ).scalar_one()
            _decide(session_a, context, suspended, Action.REINSTATE, number=101, on=today)
            _decide(session_a, context, scheduled, Action.CANCEL_SCHEDULED, number=103, on=today)
            session_a.commit()
        with session_scope(engine) as session:
            whole = _follow(session, node_a, Frontier())
            assert whole.frontier.size > second.frontier.size
            mirror_entries(session, AUTHORITY, whole, start=0)
            session.commit()
        with session_scope(engine) as session:
            _clean(session)
            back = session.get(Record, suspended)
            assert back is not None
            assert back.state == "active"
            kept = session.get(Record, scheduled)
            assert kept is not None
            assert (kept.state, kept.scheduled_change_id) == ("active", None)
            cancelled = session.execute(
                select(StatusChangeRow).where(
                    col(StatusChangeRow.target_id) == scheduled,
                    col(StatusChangeRow.action) == "revoke",
                )
            ).scalar_one()
            assert cancelled.cancelled_by is not None
            head = session.get(LogHead, AUTHORITY)
            assert head is not None
            assert head.size == whole.frontier.size


def _two_records(session: Session) -> tuple[str, str]:
    rows = (
        session.execute(
            select(col(Record.credential_id))
            .where(
                col(Record.authority_code) == AUTHORITY,
                col(Record.type) == "SafetyEngineerQualification",
                col(Record.state) == "active",
                col(Record.scheduled_change_id).is_(None),
            )
            .order_by(col(Record.credential_id))
            .limit(2)
        )
        .scalars()
        .all()
    )
    assert len(rows) == 2
    return str(rows[0]), str(rows[1])


def _reordered(verified: Verified) -> Verified:
    documents = verified.documents
    return Verified(
        verified.checkpoint,
        verified.note,
        verified.signed_at,
        verified.frontier,
        (documents[1], documents[0], *documents[2:]),
    )


def test_what_does_not_continue_the_mirror_is_refused(
    node_a: NodeA, mirror_url: str, tmp_path: Path
) -> None:
    """A batch from the wrong place, of a log not registered as a peer's, or of one this
    node hosts, stores nothing."""
    with engine_scope(mirror_url) as engine, session_scope(engine) as session:
        take_trust_list(session, node_a.settings)
        verified = _follow(session, node_a, Frontier())
        with pytest.raises(NotFound, match="register the peer"):
            mirror_entries(session, AUTHORITY, verified, start=0)
        trust = current_version(session)
        assert trust is not None
        member = next(m for m in trust.content.members if m.code == AUTHORITY)
        register_peer(session, member, valid_from=trust.content.valid_from)
        with pytest.raises(Inconsistency, match="do not make a log"):
            mirror_entries(session, AUTHORITY, verified, start=1)
        tail = Verified(
            verified.checkpoint,
            verified.note,
            verified.signed_at,
            verified.frontier,
            verified.documents[1:],
        )
        with pytest.raises(Inconsistency, match="does not continue it"):
            mirror_entries(session, AUTHORITY, tail, start=1)
        assert _counts(session) == (0, 0, 0, 0, 0)
        mirror_entries(session, AUTHORITY, verified, start=0)
        # An older checkpoint of the peer, with its entries, is checked and not kept.
        older = _older_checkpoint(node_a, below=verified.checkpoint.size)
        trust = current_version(session)
        assert trust is not None
        earlier = verify_extension(
            authority=AUTHORITY,
            origin=member.log.origin,
            log_keys=[parse_verifier_key(member.log.verifier_key)],
            trust=trust,
            frontier=Frontier(),
            note=older.note,
            entries=node_a.entries(0, older.tree_size),
        )
        before = _counts(session)
        mirror_entries(session, AUTHORITY, earlier, start=0)
        assert _counts(session) == before
        assert session.get(LogCheckpoint, (AUTHORITY, older.tree_size)) is None
        _clean(session)
        # Nothing of this node's is ever appended to a peer's log.
        with pytest.raises(Conflict, match="kept here as a mirror"):
            append(
                session,
                KeyStore(tmp_path / "keys", passphrase=b"x"),
                AUTHORITY,
                [("urn:uuid:00000000-0000-0000-0000-000000000000", b"{}")],
                origin_prefix="registry.yrd.example",
            )
    with engine_scope(node_a.settings.database_url) as engine, session_scope(engine) as session:
        with pytest.raises(Conflict, match="hosted by this node"):
            register_peer(session, member, valid_from=trust.content.valid_from)
        with pytest.raises(Conflict, match="hosted by this node"):
            mirror_entries(session, AUTHORITY, verified, start=0)


def test_every_peer_log_of_the_demo_mirrors_clean(node_a: NodeA, mirror_url: str) -> None:
    """The other three logs too, with their recognition agreements, corrections and
    listings: each audits clean on B."""
    rows: dict[str, dict[str, int]] = {}
    with engine_scope(mirror_url) as engine:
        with session_scope(engine) as session:
            take_trust_list(session, node_a.settings)
            trust = current_version(session)
            assert trust is not None
            for member in trust.content.members:
                register_peer(session, member, valid_from=trust.content.valid_from)
                verified = _follow(session, node_a, Frontier(), member.code)
                mirror_entries(session, member.code, verified, start=0)
            session.commit()
        with session_scope(engine) as session:
            for member in trust.content.members:
                rows[member.code] = _clean(session, member.code)
    assert sum(r.get("recognition_agreement", 0) for r in rows.values()) > 0


def test_a_termination_mirrored_before_its_agreement_is_kept_with_it(
    node_a: NodeA, mirror_url: str
) -> None:
    """CN-JS terminates an agreement CN-SH published: whichever log B mirrors first,
    the agreement's row names its termination, and both logs audit clean."""
    context = IssuingContext.for_node(node_a.settings)
    today = china_today(datetime.now(UTC))
    with (
        engine_scope(node_a.settings.database_url) as engine_a,
        session_scope(engine_a) as session_a,
    ):
        agreement = (
            session_a.execute(
                select(col(RecognitionAgreementRow.credential_id)).where(
                    col(RecognitionAgreementRow.issuer_code) == "CN-SH"
                )
            )
            .scalars()
            .first()
        )
        assert agreement is not None
        terminate(
            session_a,
            context,
            agreement,
            by=AUTHORITY,
            effective_on=today,
            reason="test",
            decision_number="苏应急〔2026〕102号",
        )
        session_a.commit()
    with engine_scope(mirror_url) as engine:
        with session_scope(engine) as session:
            _join(session, node_a, AUTHORITY)
            _join_more(session, "CN-SH")
            for code in (AUTHORITY, "CN-SH"):
                verified = _follow(session, node_a, Frontier(), code)
                mirror_entries(session, code, verified, start=0)
            session.commit()
        with session_scope(engine) as session:
            row = session.get(RecognitionAgreementRow, agreement)
            assert row is not None
            assert row.terminated_on == today
            assert row.termination_id is not None
            for code in (AUTHORITY, "CN-SH"):
                _clean(session, code)


def _join_more(session: Session, authority: str) -> None:
    trust = current_version(session)
    assert trust is not None
    member = next(m for m in trust.content.members if m.code == authority)
    register_peer(session, member, valid_from=trust.content.valid_from)


def _older_checkpoint(node_a: NodeA, *, below: int) -> LogCheckpoint:
    with engine_scope(node_a.settings.database_url) as engine, session_scope(engine) as session:
        found: LogCheckpoint | None = (
            session.execute(
                select(LogCheckpoint)
                .where(
                    col(LogCheckpoint.authority_code) == AUTHORITY,
                    col(LogCheckpoint.tree_size) < below,
                    col(LogCheckpoint.tree_size) > 1,
                )
                .order_by(col(LogCheckpoint.tree_size).desc())
            )
            .scalars()
            .first()
        )
        assert found is not None
        session.expunge(found)
        return found


def test_a_correction_is_mirrored_as_its_issuer_stored_it(node_a: NodeA, mirror_url: str) -> None:
    """A record corrected on A: on B the new record replaces the old, which is
    superseded, and the log audits clean."""
    auth = {"Authorization": f"Bearer {node_a.tokens['issuer:CN-SH']}"}
    body = copy.deepcopy(record_examples(china_today(datetime.now(UTC)))["qualification"]["value"])
    first = node_a.client.post("/v1/credentials", json=body, headers=auth)
    assert first.status_code == 201, first.text
    old = first.json()["credential"]["id"]
    body["holder"]["name"] = "黄海涛"
    body["replaces"] = old
    second = node_a.client.post("/v1/credentials", json=body, headers=auth)
    assert second.status_code == 201, second.text
    new = second.json()["credential"]["id"]
    with engine_scope(mirror_url) as engine:
        with session_scope(engine) as session:
            _join(session, node_a, "CN-SH")
            verified = _follow(session, node_a, Frontier(), "CN-SH")
            mirror_entries(session, "CN-SH", verified, start=0)
            session.commit()
        with session_scope(engine) as session:
            _clean(session, "CN-SH")
            replaced = session.get(Record, old)
            correction = session.get(Record, new)
            assert replaced is not None
            assert replaced.state == "superseded"
            assert correction is not None
            assert correction.replaces == old


def test_a_scheduled_change_applies_on_its_day_as_on_the_peer(
    node_a: NodeA, mirror_url: str
) -> None:
    """A change dated ahead is kept scheduled on B as on A; once A has signed a batch on
    or after its day (applying it first), B's next batch applies it too."""
    context = IssuingContext.for_node(node_a.settings)
    now = datetime.now(UTC)
    today = china_today(now)
    with (
        engine_scope(node_a.settings.database_url) as engine_a,
        session_scope(engine_a) as session_a,
    ):
        ahead, other = _two_records(session_a)
        _decide(session_a, context, ahead, Action.REVOKE, number=104, on=today + timedelta(days=3))
        session_a.commit()
    with engine_scope(mirror_url) as engine:
        with session_scope(engine) as session:
            _join(session, node_a)
            first = _follow(session, node_a, Frontier())
            mirror_entries(session, AUTHORITY, first, start=0)
            session.commit()
            pending = session.get(Record, ahead)
            assert pending is not None
            assert pending.scheduled_change_id is not None
            assert pending.state == "active"
        later = now + timedelta(days=4)
        with (
            engine_scope(node_a.settings.database_url) as engine_a,
            session_scope(engine_a) as session_a,
        ):
            _decide(
                session_a,
                context,
                other,
                Action.REVOKE,
                number=105,
                on=china_today(later),
                now=later,
            )
            session_a.commit()
        with session_scope(engine) as session:
            trust = current_version(session)
            assert trust is not None
            member = next(m for m in trust.content.members if m.code == AUTHORITY)
            note = node_a.note()
            second = verify_extension(
                authority=AUTHORITY,
                origin=member.log.origin,
                log_keys=[parse_verifier_key(member.log.verifier_key)],
                trust=trust,
                frontier=first.frontier,
                note=note,
                entries=node_a.entries(first.frontier.size, int(note.splitlines()[1])),
                now=later,
            )
            mirror_entries(session, AUTHORITY, second, start=first.frontier.size)
            session.commit()
        with session_scope(engine) as session:
            applied = session.get(Record, ahead)
            assert applied is not None
            assert (applied.state, applied.scheduled_change_id) == ("revoked", None)
            report = audit_log(session, AUTHORITY, at=later)
            assert report.findings == (), [str(f) for f in report.findings]

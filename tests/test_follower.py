"""Following a peer's log step by step over HTTP, against a real node: what is kept,
what is refused whole, a peer that does not answer, and a fork caught with its
evidence (RFC 9162 §2.1; C2SP signed-note). The batches kept go to ``mirror``; here a
recorder of them, so that these tests see exactly what a step hands on."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import create_app
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.datadir import DataDir
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.federation import Verified, verify_evidence
from registry.federation.follower import follow_once, mirror_batch
from registry.federation.verifiers import Verifiers
from registry.issuing import IssuingContext, change_status
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import (
    ForkEvidenceRow,
    LogCheckpoint,
    LogEntry,
    LogHead,
    PeerCheckpoint,
    PeerLog,
    Record,
)
from registry.tlog.checkpoint import Checkpoint
from registry.tlog.merkle import node_hash
from registry.tokens import create_token
from registry.verification.dossier import find_dossier
from registry.verification.log_audit import audit_log
from tests._federation import (
    FOLLOWED,
    Peer,
    decide,
    log_note,
    serve_peer,
    take_trust_list,
    tampered_bundle,
)
from tests._support import migrated_sqlite, run_command

AUTHORITY = FOLLOWED
PROVIDER = credit_code("12320000MB1A20009")


@pytest.fixture
def peer(settings: Settings, tmp_path: Path, sqlite_template: Path) -> Iterator[Peer]:
    follower = migrated_sqlite(sqlite_template, tmp_path / "follower.db")
    with serve_peer(settings, follower) as peer:
        yield peer


def test_a_peer_log_is_kept_in_verified_steps(peer: Peer) -> None:
    """The first step keeps every entry; a step with nothing new confirms the tree and
    keeps nothing; after the peer logs more, the next keeps only what is new."""
    size = peer.size()
    assert peer.step(peer.transport()) == {
        "state": "current",
        "size": size,
        "peer": size,
        "error": None,
        "more": False,
    }
    assert peer.kept == [(0, size)]
    assert peer.step(peer.transport())["state"] == "current"
    assert peer.kept == [(0, size)]
    # More on the peer's log: a status change of one of its records.
    target = peer.registrations("active")[0]
    changed = decide(
        peer.client,
        peer.tokens["issuer:CN-JS"],
        target,
        "suspend",
        reason="测试",
        decision="苏应急注〔2026〕1号",
    )
    assert changed.status_code == 201, changed.text
    grown = peer.size()
    assert grown > size
    assert peer.step(peer.transport())["size"] == grown
    assert peer.kept == [(0, size), (size, grown - size)]
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        sizes = [c.tree_size for c in session.exec(select(PeerCheckpoint))]
    assert sorted(sizes) == [size, grown]


def test_a_peer_that_does_not_answer_leaves_the_mirror_as_it_was(peer: Peer) -> None:
    size = peer.size()
    peer.step(peer.transport())

    def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    state = peer.step(peer.transport(down))
    assert (state["state"], state["size"]) == ("unreachable", size)
    assert "connection refused" in state["error"]
    assert peer.kept == [(0, size)]


def test_a_tampered_entry_is_refused_with_its_whole_batch(peer: Peer) -> None:
    """An entry changed in transit: nothing of the batch is kept, and the error names
    the entry."""

    def category(document: dict[str, Any]) -> None:
        document["credentialSubject"]["category"] = "other"

    def tamper(request: httpx.Request) -> httpx.Response | None:
        return tampered_bundle(peer.client, request, 2, category)

    state = peer.step(peer.transport(tamper))
    assert (state["state"], state["size"]) == ("behind", 0)
    assert "entry 2 does not verify" in state["error"]
    assert peer.kept == []


def test_an_entry_not_in_canonical_form_is_refused(peer: Peer) -> None:
    """An entry bundle's entry is its leaf's bytes: the same credential written
    otherwise than canonically (RFC 8785) is not what the log holds, and is refused."""

    def spaced(leaf: bytes) -> bytes:
        return leaf.replace(b'":', b'": ', 1)

    def tamper(request: httpx.Request) -> httpx.Response | None:
        return tampered_bundle(peer.client, request, 3, text=spaced)

    state = peer.step(peer.transport(tamper))
    assert (state["state"], state["size"]) == ("behind", 0)
    assert "entry 3 is not in canonical form" in state["error"]
    assert peer.kept == []


def test_a_rewritten_log_is_a_fork_kept_as_evidence(peer: Peer) -> None:
    """The peer's own log key signing another root for a size already verified stops
    the follower, which keeps evidence that verifies without either node."""
    size = peer.size()
    peer.step(peer.transport())
    other = Checkpoint(peer.member.log.origin, size, node_hash(b"x" * 32, b"y" * 32))
    forged = peer.signed(other)

    def rewritten(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/checkpoint"):
            return httpx.Response(200, text=forged)
        return None

    state = peer.step(peer.transport(rewritten))
    assert state["state"] == "forked"
    assert f"two roots for size {size}" in state["error"]
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        (row,) = session.exec(select(ForkEvidenceRow)).all()
        evidence = json.loads(row.evidence)
    assert verify_evidence(evidence).endswith(f"two roots for size {size}")
    # Stopped: the honest checkpoint does not resume it, nothing more is kept.
    assert peer.step(peer.transport())["state"] == "forked"
    assert peer.kept == [(0, size)]


def test_the_status_says_how_each_followed_log_stands(peer: Peer, tmp_path: Path) -> None:
    """GET /v1/federation/status (roles admin and federation): per followed log, the
    entries verified, the origin's size, how far behind, and the state."""
    size = peer.size()
    peer.step(peer.transport())
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        _, admin = create_token(session, "admin", name="status")
        _, verifier = create_token(session, "verifier", name="not allowed")
    follower = Settings(data_dir=tmp_path / "follower", database_url=peer.db)
    with TestClient(create_app(follower)) as client:
        answer = client.get("/v1/federation/status", headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code == 200, answer.text
        (status,) = answer.json()["peers"]
        assert status["authority"] == AUTHORITY
        assert (status["state"], status["verified_size"], status["behind_entries"]) == (
            "current",
            size,
            0,
        )
        assert status["behind_seconds"] >= 0
        refused = client.get(
            "/v1/federation/status", headers={"Authorization": f"Bearer {verifier}"}
        )
        assert refused.status_code == 403


def test_registry_federation_status_prints_the_same(peer: Peer, tmp_path: Path) -> None:
    size = peer.size()
    peer.step(peer.transport())
    answer = run_command(
        ["federation", "status"],
        {
            "REGISTRY_DATABASE_URL": peer.db,
            "REGISTRY_DATA_DIR": str(tmp_path / "follower"),
            "COLUMNS": "200",
        },
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    row = next(line for line in answer.stdout.splitlines() if AUTHORITY in line)
    assert "current" in row
    assert str(size) in row


def test_a_followed_log_answers_on_the_follower_and_follows_changes(peer: Peer) -> None:
    """With the real mirror: after a step, the follower finds the peer's engineer by ID
    number, its log audits clean and it serves the peer's own signed checkpoint; a
    suspension made on the peer reaches the follower with the next step."""
    zhang = next(e for e in DEMO_ENGINEERS if e.name == "张伟")
    lookup = DataDir(peer.settings).lookup_secrets()
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        take_trust_list(session, peer.settings)

    def step() -> str:
        with engine_scope(peer.db) as engine, session_scope(engine) as session:
            state = follow_once(
                session, member=peer.member, trust=peer.trust, client=peer.transport()
            )
            return state.state

    def states() -> dict[str, str]:
        with engine_scope(peer.db) as engine, session_scope(engine) as session:
            dossier = find_dossier(session, lookup=lookup, id_number=zhang.id_number)
            report = audit_log(session, AUTHORITY)
            assert report.findings == (), [str(f) for f in report.findings]
            return {h.type: h.state_on(china_today()) for h in dossier.records}

    assert step() == "current"
    before = states()
    assert before["SafetyEngineerRegistration"] == "suspended"  # as the demo made it
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        served = session.exec(
            select(LogCheckpoint.note).where(LogCheckpoint.authority_code == AUTHORITY)
        ).all()
    assert peer.client.get(f"/v1/logs/{AUTHORITY}/checkpoint").text in served
    (target,) = peer.registrations("suspended")
    reinstated = decide(
        peer.client,
        peer.tokens["issuer:CN-JS"],
        target,
        "reinstate",
        reason="调查结束，恢复执业",
        decision="苏应急注〔2026〕2号",
    )
    assert reinstated.status_code == 201, reinstated.text
    assert step() == "current"
    assert states()["SafetyEngineerRegistration"] == "active"


def test_changes_within_one_second_apply_in_log_order(peer: Peer) -> None:
    """Two decisions on one record signed within one second (a suspension, then its
    reinstatement) leave it as the later one does, on the node that made them and on
    a follower: the record's log says which came first, whatever the changes' ids."""
    context = IssuingContext.for_node(peer.settings)
    lookup = DataDir(peer.settings).lookup_secrets()
    at = datetime.now(UTC).replace(microsecond=0)
    js = [e for e in DEMO_ENGINEERS if e.registered_by == AUTHORITY and e.name != "张伟"]
    targets = peer.registrations("active")
    assert targets
    with engine_scope(peer.settings.database_url) as engine, session_scope(engine) as session:
        for target in targets:
            for action in (Action.SUSPEND, Action.REINSTATE):
                change_status(
                    session,
                    context,
                    target,
                    StatusChangeIn(
                        action=action,
                        reason="同一秒内的两项决定",
                        decision_number="苏应急注〔2026〕3号",
                        effective_on=china_today(at),
                    ),
                    now=at,
                )
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        follow_once(session, member=peer.member, trust=peer.trust, client=peer.transport())
    for database in (peer.settings.database_url, peer.db):
        with engine_scope(database) as engine, session_scope(engine) as session:
            for engineer in js:
                dossier = find_dossier(session, lookup=lookup, id_number=engineer.id_number)
                (registration,) = dossier.of_type("SafetyEngineerRegistration")
                assert registration.state_on(china_today(at)) == "active", engineer.name


def test_a_mirrored_record_is_read_only_on_the_follower(peer: Peer, tmp_path: Path) -> None:
    """A follower holds no key of the peer's and writes nothing of its log but what it
    mirrors: issuing or changing a record of the peer's there is refused (409), and
    nothing is written; the peer's own node is where they are made."""
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        take_trust_list(session, peer.settings)
        follow_once(session, member=peer.member, trust=peer.trust, client=peer.transport())
        target = session.exec(
            select(Record.credential_id).where(
                Record.authority_code == AUTHORITY, Record.state == "active"
            )
        ).first()
        _, issuer = create_token(session, f"issuer:{AUTHORITY}", name="not here")
    assert target is not None
    follower = Settings(data_dir=tmp_path / "follower", database_url=peer.db)
    auth = {"Authorization": f"Bearer {issuer}"}
    with TestClient(create_app(follower)) as client:
        before = client.get(f"/v1/logs/{AUTHORITY}/checkpoint").text
        changed = decide(
            client,
            issuer,
            target,
            "revoke",
            reason="不应在此处作出",
            decision="苏应急注〔2026〕4号",
        )
        assert changed.status_code == 409, changed.text
        assert "kept here as a mirror" in changed.json()["detail"]
        zhang = next(e for e in DEMO_ENGINEERS if e.name == "张伟")
        issued = client.post(
            "/v1/credentials",
            json={
                "type": "ContinuingEducationCredit",
                "authority": AUTHORITY,
                "holder": {"name": zhang.name, "id_number": zhang.id_number},
                "course_title": "危险化学品安全管理",
                "provider": {"name": "江苏省安全生产培训中心", "credit_code": PROVIDER},
                "hours": 8,
                "kind": "professional",
                "completed_on": china_today().isoformat(),
            },
            headers=auth,
        )
        assert issued.status_code == 409, issued.text
        assert client.get(f"/v1/logs/{AUTHORITY}/checkpoint").text == before


def test_a_long_log_is_kept_in_chunks_each_proven_part_of_the_checkpoint(peer: Peer) -> None:
    """A step keeps at most a chunk: each chunk before the last is proven part of the
    signed checkpoint by its consistency proof and kept with the tree at its end
    (``behind``, step again at once); the last reaches the checkpoint (``current``).
    Only the signed checkpoint is held, never a size the peer did not sign."""
    size = peer.size()
    chunk = size // 3 + 1
    states = [peer.step(peer.transport(), chunk=chunk) for _ in range(3)]
    assert [(s["state"], s["size"], s["more"], s["error"]) for s in states] == [
        ("behind", chunk, True, None),
        ("behind", 2 * chunk, True, None),
        ("current", size, False, None),
    ]
    assert peer.kept == [(0, chunk), (chunk, chunk), (2 * chunk, size - 2 * chunk)]
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        assert [c.tree_size for c in session.exec(select(PeerCheckpoint))] == [size]
        state = session.get(PeerLog, AUTHORITY)
        assert state is not None
        assert state.checkpoint == log_note(peer.client, AUTHORITY)
    assert peer.step(peer.transport(), chunk=chunk)["state"] == "current"
    assert len(peer.kept) == 3


def test_a_chunk_whose_consistency_proof_fails_is_refused_whole(peer: Peer) -> None:
    """A consistency proof from the chunk's end that does not lead to the signed root:
    nothing of the chunk is kept, and the error says so."""
    size = peer.size()

    def wrong_proof(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith("/proof/consistency"):
            return None
        answer = peer.client.get(request.url.path, params=dict(request.url.params)).json()
        answer["hashes"][0] = base64.b64encode(b"\x00" * 32).decode("ascii")
        return httpx.Response(200, json=answer)

    state = peer.step(peer.transport(wrong_proof), chunk=size // 2)
    assert (state["state"], state["size"], state["more"]) == ("behind", 0, False)
    assert f"entries 0 to {size // 2} are not proven part of the checkpoint" in state["error"]
    assert peer.kept == []
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        assert session.exec(select(PeerCheckpoint)).all() == []
    # The honest proof: the same chunk is kept.
    assert peer.step(peer.transport(), chunk=size // 2)["size"] == size // 2


def test_a_crash_between_chunks_resumes_without_gap_or_duplicate(peer: Peer) -> None:
    """With the real mirror: a step that fails while keeping its chunk keeps none of
    it; the mirror stays at the last chunk kept, and the next steps resume there
    until the checkpoint, the log then auditing clean, every entry once."""
    size = peer.size()
    chunk = size // 4 + 1
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        take_trust_list(session, peer.settings)
    crashes = iter([False, True])

    def crashing(session: Session, authority: str, verified: Verified, start: int) -> None:
        mirror_batch(session, authority, verified, start)
        if next(crashes, False):
            raise RuntimeError("the node stopped")

    assert peer.step(peer.transport(), chunk=chunk, mirror=crashing)["size"] == chunk
    with pytest.raises(RuntimeError, match="the node stopped"):
        peer.step(peer.transport(), chunk=chunk, mirror=crashing)
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        head = session.get(LogHead, AUTHORITY)
        assert head is not None
        assert head.size == chunk
        state = session.get(PeerLog, AUTHORITY)
        assert state is not None
        assert state.tree_size == chunk
    steps: list[dict[str, Any]] = []
    while not steps or steps[-1]["more"]:
        steps.append(peer.step(peer.transport(), chunk=chunk, mirror=mirror_batch))
    assert [s["size"] for s in steps] == [2 * chunk, 3 * chunk, size]
    assert steps[-1]["state"] == "current"
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        indexes = session.exec(
            select(LogEntry.leaf_index).where(LogEntry.authority_code == AUTHORITY)
        ).all()
        assert sorted(indexes) == list(range(size))
        report = audit_log(session, AUTHORITY)
        assert report.findings == (), [str(f) for f in report.findings]
        assert (
            peer.client.get(f"/v1/logs/{AUTHORITY}/checkpoint").text
            in session.exec(
                select(LogCheckpoint.note).where(LogCheckpoint.authority_code == AUTHORITY)
            ).all()
        )


def test_pages_verified_on_processes_and_read_ahead_hold_to_the_same_checks(peer: Peer) -> None:
    """With ``Verifiers``: the pages are verified on other processes and the next
    chunk read ahead while one is stored; an entry tampered with in the chunk read
    ahead is refused as without them, the chunk then read again, and the log ends
    kept whole, auditing clean."""
    size = peer.size()
    chunk = size // 3 + 1
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        take_trust_list(session, peer.settings)
    tampering = [True]

    def hours(document: dict[str, Any]) -> None:
        document["credentialSubject"]["hours"] = 99

    bundles: list[str] = []

    def tamper(request: httpx.Request) -> httpx.Response | None:
        # The first bundle read is the first chunk's; the next, the chunk read ahead,
        # whose entry ``chunk + 1`` is changed.
        if "/tile/entries/" in request.url.path:
            bundles.append(request.url.path)
        if not tampering[0] or len(bundles) < 2:
            return None
        return tampered_bundle(peer.client, request, chunk + 1, hours)

    with Verifiers(2) as verifiers, peer.transport(tamper) as client:

        def step() -> Any:
            with engine_scope(peer.db) as engine, session_scope(engine) as session:
                state = follow_once(
                    session,
                    member=peer.member,
                    trust=peer.trust,
                    client=client,
                    chunk=chunk,
                    verifiers=verifiers,
                )
                return (state.state, state.tree_size, state.last_error)

        assert step() == ("behind", chunk, None)
        refused = step()
        assert refused[:2] == ("behind", chunk)
        assert f"entry {chunk + 1} does not verify" in refused[2]
        tampering[0] = False
        assert step() == ("behind", 2 * chunk, None)
        assert step() == ("current", size, None)
    with engine_scope(peer.db) as engine, session_scope(engine) as session:
        report = audit_log(session, AUTHORITY)
        assert report.findings == (), [str(f) for f in report.findings]

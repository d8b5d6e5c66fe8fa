"""Notices between nodes and the follower that acts on them: a notice is kept only when
the log key the trust list names signed its checkpoint; a follower takes the peer's
newer trust-list versions only as the chain allows, and follows at once on a notice
(``registry.federation.notices``, ``poller``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import create_app
from registry.federation.poller import PeerFollower, take_trust_versions
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import PeerLog, PeerNotice, TrustListRecord
from registry.tokens import create_token
from registry.trust.document import Member, Quorum
from registry.trust.proposals import Changes, propose, publish, sign_proposal
from registry.trust.store import NodeProfile, accept_version, stored_versions
from tests._federation import log_note, note_size, peer_client
from tests._support import migrated_sqlite, seed_demo_node

AUTHORITY = "CN-JS"


class Nodes:
    """A seeded demo node (the peer) and a follower that hosts nothing, both answering
    through their own app."""

    def __init__(
        self, peer: Settings, peer_client: TestClient, tokens: dict[str, str], follower: Settings
    ):
        self.peer = peer
        self.peer_client = peer_client
        self.tokens = tokens
        self.follower = follower

    def follower_token(self) -> str:
        with engine_scope(self.follower.database_url) as engine, session_scope(engine) as s:
            return create_token(s, "federation", name="peer CN-JS")[1]

    def transport(self) -> httpx.Client:
        """A client reaching the peer as a follower does, with its federation token."""
        return peer_client(self.peer_client, self.tokens["federation"])


def _genesis_only(session: Session, source: Settings) -> None:
    with engine_scope(source.database_url) as engine, session_scope(engine) as own:
        first = stored_versions(own)[0]
        document, digest = json.loads(first.canonical), first.digest
    accept_version(session, document, genesis_digest=digest)


@pytest.fixture
def nodes(settings: Settings, tmp_path: Path, sqlite_template: Path) -> Iterator[Nodes]:
    tokens = seed_demo_node(settings, witnessed=False)
    follower = settings.model_copy(
        update={
            "data_dir": tmp_path / "follower",
            "database_url": migrated_sqlite(sqlite_template, tmp_path / "follower.db"),
        }
    )
    with engine_scope(follower.database_url) as engine, session_scope(engine) as session:
        _genesis_only(session, settings)
    with TestClient(create_app(settings)) as client:
        yield Nodes(settings, client, tokens, follower)


def _notice(client: TestClient, token: str, authority: str, note: str) -> Any:
    return client.post(
        "/v1/federation/notices",
        json={"authority": authority, "checkpoint": note},
        headers={"Authorization": f"Bearer {token}"},
    )


def _noticed(settings: Settings) -> dict[str, int]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return {n.authority_code: n.tree_size for n in session.exec(select(PeerNotice))}


def test_a_notice_is_kept_only_when_the_log_key_signed_it(nodes: Nodes) -> None:
    note = log_note(nodes.peer_client, AUTHORITY)
    token = nodes.follower_token()
    with TestClient(create_app(nodes.follower)) as follower:
        assert _notice(follower, "", AUTHORITY, note).status_code == 401
        # A signature changed: refused, nothing kept.
        body, signature = note.rsplit("— ", 1)
        flipped = "A" if signature[-6] != "A" else "B"
        forged = f"{body}— {signature[:-6]}{flipped}{signature[-5:]}"
        refused = _notice(follower, token, AUTHORITY, forged)
        assert refused.status_code == 422, refused.text
        # Another member's checkpoint, named as Jiangsu's: not signed by its log key.
        other = _notice(follower, token, AUTHORITY, log_note(nodes.peer_client, "CN-ZJ"))
        assert other.status_code == 422, other.text
        assert _notice(follower, token, "CN-BJ", note).status_code == 404
        assert _noticed(nodes.follower) == {}
        accepted = _notice(follower, token, AUTHORITY, note)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {
            "authority": AUTHORITY,
            "size": note_size(note),
            "verified_size": 0,
        }
    assert _noticed(nodes.follower) == {AUTHORITY: note_size(note)}
    # The node that hosts Jiangsu takes no notice of its own log.
    own = _notice(nodes.peer_client, nodes.tokens["federation"], AUTHORITY, note)
    assert own.status_code == 409, own.text


def _second_version(settings: Settings) -> None:
    """Publish version 2 on the peer: the quorum raised to all four."""
    store = IssuingContext.for_node(settings).key_store
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        row = propose(
            session, Changes(quorum=Quorum(count=4)), profile=NodeProfile.from_settings(settings)
        )
        assert row.version == 2
        for code in ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH"):
            sign_proposal(session, store, code)
        publish(session)


def _versions(settings: Settings) -> list[int]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return [row.version for row in session.exec(select(TrustListRecord))]


def test_a_newer_trust_list_is_taken_from_a_peer_only_through_the_chain(nodes: Nodes) -> None:
    with engine_scope(nodes.follower.database_url) as engine, session_scope(engine) as session:
        assert take_trust_versions(session, nodes.transport()) == []
    _second_version(nodes.peer)

    def tampered(request: httpx.Request) -> httpx.Response:
        answer = nodes.peer_client.get(request.url.path)
        if request.url.path.endswith("/2"):
            document = answer.json()
            document["credentialSubject"]["members"][0]["nodeUrl"] = "http://127.0.0.1:9"
            return httpx.Response(200, json=document)
        return httpx.Response(answer.status_code, content=answer.content)

    bad = httpx.Client(base_url="http://peer.test", transport=httpx.MockTransport(tampered))
    with (
        pytest.raises(Exception, match=r"(?i)proof|signature|verify"),
        engine_scope(nodes.follower.database_url) as engine,
        session_scope(engine) as session,
    ):
        take_trust_versions(session, bad)
    assert _versions(nodes.follower) == [1]
    with engine_scope(nodes.follower.database_url) as engine, session_scope(engine) as session:
        assert take_trust_versions(session, nodes.transport()) == [2]
    assert _versions(nodes.follower) == [1, 2]


def test_the_follower_acts_on_a_notice_and_takes_the_trust_list_as_it_polls(
    nodes: Nodes,
) -> None:
    _second_version(nodes.peer)
    note = log_note(nodes.peer_client, AUTHORITY)
    reports: list[str] = []
    with engine_scope(nodes.follower.database_url) as engine:

        def connect(member: Member, token: str | None) -> httpx.Client:
            assert member.code == AUTHORITY
            assert token == "granted"
            return nodes.transport()

        follower = PeerFollower(
            engine,
            AUTHORITY,
            tokens=lambda: {AUTHORITY: "granted"},
            interval=3600,
            stop=threading.Event(),
            report=reports.append,
            connect=connect,
        )
        state = follower.follow(poll=True)
        assert state is not None
        assert (state.state, state.tree_size) == ("current", note_size(note))
        assert _versions(nodes.follower) == [1, 2]
        assert reports == ["took trust-list version 2 from CN-JS's node"]
        # A notice of a size already verified does not wake it; a larger one does.
        with session_scope(engine) as session:
            session.add(
                PeerNotice(
                    authority_code=AUTHORITY,
                    tree_size=note_size(note),
                    received_at=state.updated_at,
                )
            )
        assert not follower._noticed()
        with session_scope(engine) as session:
            notice = session.get(PeerNotice, AUTHORITY)
            assert notice is not None
            notice.tree_size += 1
            session.add(notice)
        assert follower._noticed()
        with session_scope(engine) as session:
            kept = session.get(PeerLog, AUTHORITY)
            assert kept is not None
            assert kept.tree_size == note_size(note)


def test_a_follower_without_the_peers_token_says_what_to_do(nodes: Nodes) -> None:
    """No token from the peer: its entries are refused (401), the log stays as it was,
    and the server log says, once, how to keep the token the peer granted."""
    reports: list[str] = []

    def connect(_member: Member, token: str | None) -> httpx.Client:
        assert token is None
        client = nodes.transport()
        del client.headers["Authorization"]
        return client

    with engine_scope(nodes.follower.database_url) as engine:
        follower = PeerFollower(
            engine,
            AUTHORITY,
            tokens=dict,
            interval=3600,
            stop=threading.Event(),
            report=reports.append,
            connect=connect,
        )
        first = follower.follow(poll=False)
        second = follower.follow(poll=False)
    assert first is not None
    assert second is not None
    assert (second.state, second.tree_size) == ("unreachable", 0)
    assert "401" in (second.last_error or "")
    assert reports == [
        "no federation token from CN-JS's node: its entries cannot be read; keep the one "
        "it granted with `registry federation peer-token CN-JS`"
    ]

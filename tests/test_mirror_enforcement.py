"""Enforcement on a following node, over its own API: a peer's listings, registrations
and their state changes, once mirrored, are found by the blacklist search and the bulk
check, come in the change feed after the cursor a client holds, and are queued and
delivered for the node's own subscriptions, exactly as the peer's node answers them."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api import create_app
from registry.authorities import create_authority
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.credentials.records import ListingIn
from registry.crypto.jcs import canonical_bytes
from registry.demo import DEMO_LISTED_ORGANISATIONS, credit_code
from registry.enforcement.dispatcher import dispatch
from registry.enforcement.webhooks import signature
from registry.federation.follower import follow_once
from registry.issuing import IssuingContext, change_status, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Delivery, Record, RecordParty
from registry.tlog.checkpoint import parse_checkpoint
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tokens import create_token
from tests._federation import FOLLOWED, Peer, decide, fresh_database, serve_peer, take_trust_list
from tests._receivers import Events, Prompt
from tests._support import LOOPBACK

OWN = "CN-SH"
"""The authority the following node hosts itself."""


def _company(n: int) -> tuple[str, str]:
    return f"江苏某化工有限公司{n}", credit_code(f"91320600MA1Q7{n:04d}")


class Follower:
    """A node hosting ``OWN`` that follows the peer's log of ``FOLLOWED``, answering
    over its own API; and the peer, answering over its own."""

    def __init__(self, peer: Peer, settings: Settings, client: TestClient, tokens: dict[str, str]):
        self.peer = peer
        self.settings = settings
        self.client = client
        self.tokens = tokens

    def step(self) -> None:
        """One step of following the peer, as the node's follower takes it."""
        with engine_scope(self.peer.db) as engine, session_scope(engine) as session:
            state = follow_once(
                session,
                member=self.peer.member,
                trust=self.peer.trust,
                client=self.peer.transport(),
            )
            assert (state.state, state.last_error) == ("current", None)

    def inspector(self, node: TestClient) -> dict[str, str]:
        token = (
            self.tokens["enforcement"] if node is self.client else self.peer.tokens["enforcement"]
        )
        return {"Authorization": f"Bearer {token}"}

    def changes(self, node: TestClient, since: str | None) -> tuple[list[dict[str, Any]], str]:
        """Every change after ``since``, a few at a time, and the cursor after them."""
        seen: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": 4, **({"since": since} if since else {})}
            page = node.get("/v1/changes", params=params, headers=self.inspector(node))
            assert page.status_code == 200, page.text
            body = page.json()
            seen += body["changes"]
            since = body["next"]
            if not body["more"]:
                return seen, since

    def search(self, node: TestClient, code: str) -> dict[str, Any]:
        answer = node.post(
            "/v1/blacklist/search", json={"credit_code": code}, headers=self.inspector(node)
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def check(self, node: TestClient, codes: list[str]) -> list[dict[str, Any]]:
        answer = node.post(
            "/v1/blacklist/check",
            json={"rows": [{"credit_code": code} for code in codes]},
            headers=self.inspector(node),
        )
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results


def _listing(authority: str, company: tuple[str, str], listed_on: date) -> dict[str, Any]:
    name, code = company
    return {
        "type": "UntrustworthinessListing",
        "authority": authority,
        "listed": {"kind": "organisation", "name": name, "credit_code": code},
        "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
        "penalty_decision_number": f"罚〔{listed_on.year}〕{listed_on.day}号",
        "listing_decision_number": f"失信〔{listed_on.year}〕{listed_on.month}号",
        "listed_on": listed_on.isoformat(),
        "measures": ["依法依规实施联合惩戒"],
    }


def _issue(client: TestClient, token: str, body: dict[str, Any]) -> str:
    answer = client.post("/v1/credentials", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["credential"]["id"])


def _decide(client: TestClient, token: str, target: str, action: str, number: int) -> None:
    answer = decide(
        client,
        token,
        target,
        action,
        reason="行政处罚决定被撤销",
        decision=f"苏应急〔2026〕{number}号",
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def joining(
    settings: Settings, db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Follower]:
    """The peer's demo node, and a node of the same kind of database that hosts ``OWN``
    and has taken the trust list, but holds nothing of the peer's log yet."""
    with (
        fresh_database(db_url, request, tmp_path) as database,
        serve_peer(settings, database) as peer,
    ):
        own = Settings(
            data_dir=tmp_path / "follower",
            database_url=database,
            webhook_allowed_networks=LOOPBACK.allowed,
        )
        key_store = IssuingContext.for_node(own).key_store
        with engine_scope(database) as engine, session_scope(engine) as session:
            take_trust_list(session, settings)
            create_authority(
                session, key_store, code=OWN, name_zh="上海市应急管理局", name_en="Shanghai"
            )
            tokens = {
                role: create_token(session, role, name=role)[1]
                for role in ("enforcement", f"issuer:{OWN}")
            }
        with TestClient(create_app(own)) as client:
            yield Follower(peer, own, client, tokens)


@pytest.fixture
def follower(joining: Follower) -> Follower:
    """The joining node, once it has mirrored the peer's log."""
    joining.step()
    return joining


def test_a_peer_listing_is_found_by_the_search_and_the_check_as_on_the_peer(
    follower: Follower,
) -> None:
    """A listing the peer issues is found on the follower once mirrored, with a proof
    that verifies against the peer's own checkpoint: the answer is the peer's own. Its
    revocation there takes it off the follower's answers too."""
    peer, node = follower.peer, follower.client
    company, clean = _company(1), _company(2)
    listing = _issue(
        peer.client,
        peer.tokens[f"issuer:{FOLLOWED}"],
        _listing(FOLLOWED, company, china_today() - timedelta(days=3)),
    )
    assert follower.search(node, company[1])["listings"] == []  # not mirrored yet
    follower.step()
    found = follower.search(node, company[1])
    assert found == follower.search(peer.client, company[1])
    [listed] = found["listings"]
    assert (listed["id"], listed["decidedBy"], listed["status"]["status"]) == (
        listing,
        FOLLOWED,
        "in-force",
    )
    proof = listed["proof"]
    assert proof["checkpoint"] == node.get(f"/v1/logs/{FOLLOWED}/checkpoint").text
    verify_inclusion(
        leaf_hash(canonical_bytes(listed["credential"])),
        proof["leafIndex"],
        proof["treeSize"],
        [base64.b64decode(h) for h in proof["inclusionProof"]],
        parse_checkpoint(proof["checkpoint"].split("\n\n")[0] + "\n").root,
    )
    rows = [company[1], clean[1]]
    checked = follower.check(node, rows)
    assert checked == follower.check(peer.client, rows)
    assert [(r["listed"], [x["id"] for x in r["listings"]]) for r in checked] == [
        (True, [listing]),
        (False, []),
    ]
    # Revoked on the peer: off the follower's answers with the next step.
    _decide(peer.client, peer.tokens[f"issuer:{FOLLOWED}"], listing, "revoke", 11)
    follower.step()
    assert follower.search(node, company[1])["listings"] == []
    assert follower.check(node, [company[1]])[0]["listed"] is False
    public = node.get("/v1/blacklist/public", params={"region": FOLLOWED}).json()
    assert public == peer.client.get("/v1/blacklist/public", params={"region": FOLLOWED}).json()


def _active_registration(peer: Peer) -> tuple[str, str]:
    """An active registration of the peer's, and its employer's credit code."""
    with engine_scope(peer.settings.database_url) as engine, session_scope(engine) as session:
        found = session.exec(
            select(Record.credential_id, RecordParty.credit_code)
            .join(RecordParty, col(RecordParty.credential_id) == col(Record.credential_id))
            .where(
                Record.authority_code == FOLLOWED,
                Record.type == "SafetyEngineerRegistration",
                Record.state == "active",
                col(RecordParty.credit_code).is_not(None),
            )
            .order_by(col(Record.credential_id))
        ).first()
    assert found is not None
    registration, employer = found
    assert employer is not None
    return registration, employer


def _without_time(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # When an entry was recorded is the log's own time on the peer, and the time of the
    # peer's checkpoint that first covers it on a mirror: everything else is the same.
    return sorted(
        ({k: v for k, v in change.items() if k != "recordedAt"} for change in changes),
        key=lambda change: change["leafIndex"],
    )


def test_the_feed_gives_the_peer_changes_mirrored_after_the_cursor_held(
    follower: Follower,
) -> None:
    """The follower's feed holds the peer's listings, registrations and changes as the
    peer's own feed does. A client that has read past the time of the peer's newest
    changes, because the node logged a change of its own later, gets them when they are
    mirrored: the cursor is each log's position, not a time."""
    peer, node = follower.peer, follower.client
    seen, cursor = follower.changes(node, None)
    theirs, their_cursor = follower.changes(peer.client, None)
    assert seen
    assert _without_time(seen) == _without_time([c for c in theirs if c["authority"] == FOLLOWED])
    # The peer lists a company and suspends a registration ...
    issuer = peer.tokens[f"issuer:{FOLLOWED}"]
    listing = _issue(
        peer.client, issuer, _listing(FOLLOWED, _company(3), china_today() - timedelta(days=3))
    )
    registration, _ = _active_registration(peer)
    _decide(peer.client, issuer, registration, "suspend", 12)
    # ... and the node lists one of its own, later, which a client reads first.
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with engine_scope(follower.settings.database_url) as engine, session_scope(engine) as session:
        item = ListingIn.model_validate(
            _listing(OWN, _company(4), china_today() - timedelta(days=1))
        )
        issue_records(session, IssuingContext.for_node(follower.settings), [item], now=later)
    own, cursor = follower.changes(node, cursor)
    assert [(c["authority"], c["kind"]) for c in own] == [(OWN, "listing")]
    follower.step()
    mirrored, cursor = follower.changes(node, cursor)
    assert [
        (c["kind"], c.get("action"), c.get("target") or c["credentialId"]) for c in mirrored
    ] == [
        ("listing", None, listing),
        ("registration-change", "suspend", registration),
    ]
    recorded = datetime.fromisoformat(own[0]["recordedAt"])
    assert all(datetime.fromisoformat(c["recordedAt"]) < recorded for c in mirrored)
    assert follower.changes(node, cursor)[0] == []
    theirs, _ = follower.changes(peer.client, their_cursor)
    assert _without_time(mirrored) == _without_time(theirs)


def test_a_subscription_on_the_follower_is_sent_the_peer_changes(follower: Follower) -> None:
    """A subscription made on the follower is queued a delivery for each of the peer's
    changes it matches (a listing of the company, its revocation, the suspension of a
    registration with the employer), once mirrored, signed with its secret, once each;
    the peer's other changes are not sent."""
    peer, node = follower.peer, follower.client
    company = _company(5)
    registration, employer = _active_registration(peer)
    receiver = Prompt(Events(), 1)
    try:
        answer = node.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "credit_codes": [company[1], employer]},
            headers=follower.inspector(node),
        )
        assert answer.status_code == 201, answer.text
        subscription = answer.json()
        issuer = peer.tokens[f"issuer:{FOLLOWED}"]
        today = china_today()
        listing = _issue(
            peer.client, issuer, _listing(FOLLOWED, company, today - timedelta(days=3))
        )
        _decide(peer.client, issuer, listing, "revoke", 13)
        _decide(peer.client, issuer, registration, "suspend", 14)
        _issue(peer.client, issuer, _listing(FOLLOWED, _company(6), today - timedelta(days=2)))
        now = datetime.now(UTC)
        with engine_scope(follower.settings.database_url) as engine:
            assert dispatch(engine, now=now, deadline=10, concurrency=2, policy=LOOPBACK) == 0
            follower.step()
            assert dispatch(engine, now=now, deadline=10, concurrency=2, policy=LOOPBACK) == 3
            assert dispatch(engine, now=now, deadline=10, concurrency=2, policy=LOOPBACK) == 0
            with session_scope(engine) as session:
                queued = session.exec(select(Delivery).order_by(col(Delivery.sequence))).all()
                assert [d.state for d in queued] == ["delivered"] * 3
                assert all(d.change_id.startswith(f"{FOLLOWED}/") for d in queued)
        changes = []
        for headers, body in receiver.seen:
            expected = signature(subscription["secret"], headers["X-Registry-Timestamp"], body)
            assert hmac.compare_digest(headers["X-Registry-Signature"], expected)
            changes.append(json.loads(body)["change"])
        assert [
            (c["kind"], c.get("action"), c.get("target") or c["credentialId"]) for c in changes
        ] == [
            ("listing", None, listing),
            ("listing-change", "revoke", listing),
            ("registration-change", "suspend", registration),
        ]
    finally:
        receiver.close()


def test_a_subscription_made_before_the_peer_log_was_kept_is_sent_its_changes(
    joining: Follower,
) -> None:
    """A subscription made before the node held anything of the peer's log is sent
    every matching change of it once mirrored, from the start of the log, in its order
    (the node could not have told of them sooner); a feed cursor given then reads that
    log from its start too."""
    peer, node = joining.peer, joining.client
    _, code = DEMO_LISTED_ORGANISATIONS[FOLLOWED]
    empty, cursor = joining.changes(node, None)
    assert empty == []
    receiver = Prompt(Events(), 1)
    try:
        answer = node.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "credit_codes": [code]},
            headers=joining.inspector(node),
        )
        assert answer.status_code == 201, answer.text
        joining.step()
        with engine_scope(joining.settings.database_url) as engine:
            now = datetime.now(UTC)
            sent = dispatch(engine, now=now, deadline=10, concurrency=2, policy=LOOPBACK)
        theirs, _ = joining.changes(peer.client, None)
        [listing] = [
            c["credentialId"]
            for c in theirs
            if c["credential"]["credentialSubject"].get("listed", {}).get("creditCode") == code
        ]
        about = [c for c in theirs if listing in (c["credentialId"], c.get("target"))]
        assert [c["kind"] for c in about][:1] == ["listing"]
        assert sent == len(about) > 1  # the listing and its lift, as the demo has them
        got = [json.loads(body)["change"] for _, body in receiver.seen]
        assert _without_time(got) == _without_time(about)
        assert [c["leafIndex"] for c in got] == sorted(c["leafIndex"] for c in got)
    finally:
        receiver.close()
    mirrored, _ = joining.changes(node, cursor)
    assert _without_time(mirrored) == _without_time(
        [c for c in theirs if c["authority"] == FOLLOWED]
    )


def test_changes_signed_within_one_second_count_in_log_order_on_both_nodes(
    follower: Follower,
) -> None:
    """Listings lifted and the lift reversed within one second (credit repair obtained
    by fraud, reversed at once) are in force again on the peer and on the follower:
    the search, the check and the public list take which change came first from the
    listing's log, not from the changes' ids."""
    peer, node = follower.peer, follower.client
    issuer = peer.tokens[f"issuer:{FOLLOWED}"]
    companies = [_company(n) for n in range(10, 16)]
    listed_on = china_today() - timedelta(days=400)  # past its earliest removal
    listings = [_issue(peer.client, issuer, _listing(FOLLOWED, c, listed_on)) for c in companies]
    at = datetime.now(UTC).replace(microsecond=0)
    context = IssuingContext.for_node(peer.settings)
    with engine_scope(peer.settings.database_url) as engine, session_scope(engine) as session:
        for listing in listings:
            for action in (Action.LIFT, Action.REVERSE_LIFT):
                change_status(
                    session,
                    context,
                    listing,
                    StatusChangeIn(
                        action=action,
                        reason="信用修复以欺骗手段取得"
                        if action is Action.REVERSE_LIFT
                        else "信用修复",
                        decision_number="苏应急修复〔2026〕9号",
                        effective_on=china_today(at),
                    ),
                    now=at,
                )
    follower.step()
    codes = [code for _, code in companies]
    for answering in (peer.client, node):
        assert [r["listed"] for r in follower.check(answering, codes)] == [True] * len(codes)
        for code, listing in zip(codes, listings, strict=True):
            [found] = follower.search(answering, code)["listings"]
            assert found["id"] == listing
            assert [h["action"] for h in found["history"]] == ["lift", "reverse-lift"]
        public = answering.get("/v1/blacklist/public", params={"region": FOLLOWED}).json()
        assert set(codes) <= {entry["identifier"] for entry in public["entries"]}
        for listing in listings:  # each record's own page tells its changes in log order
            told = answering.get(f"/v1/credentials/{listing}").json()["changes"]
            assert [c["action"] for c in told] == ["lift", "reverse-lift"]
    # So does the issuing office's search of its own records (on its own node).
    found = peer.client.post(
        "/v1/records/search",
        json={"type": "UntrustworthinessListing", "limit": 200},
        headers={"Authorization": f"Bearer {issuer}"},
    ).json()["records"]
    ordered = {r["credential_id"]: [c["action"] for c in r["changes"]] for r in found}
    assert [ordered[listing] for listing in listings] == [["lift", "reverse-lift"]] * len(listings)

"""Subscriptions as their owners manage them (list, cancel, rotate the secret), and where
webhooks may go: public addresses only unless the node allows a network, checked when
subscribing and again at every delivery, redirects not followed.

The address policy is tested by resolving and checking only: the resolver the tests
give answers chosen addresses, and nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from devtools.ports import free_port
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.enforcement.addresses import AddressPolicy
from registry.enforcement.dispatcher import dispatch
from registry.enforcement.webhooks import Attempt, http_post, signature
from registry.errors import InvalidInput
from registry.issuing import IssuingContext
from registry.issuing.changes import change_status
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import RecordParty
from tests._support import LOOPBACK, seed_demo_node

_CODE = DEMO_LISTED_ORGANISATIONS["CN-AH"][1]
_PUBLIC = "93.184.216.34"  # a public address: only ever checked, never connected to


class _Receiver:
    """A receiver on 127.0.0.1 that answers every POST with ``status`` (and, for a
    redirect, a ``Location`` on itself)."""

    def __init__(self, status: int = 200) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append((self.path, dict(self.headers), body))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"{receiver.url}/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    found = _Receiver()
    yield found
    found.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _bearer(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _withdraw_listing(settings: Settings) -> None:
    """A change the subscriptions follow: the CN-AH organisation's listing withdrawn."""
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        listing = session.exec(
            select(RecordParty.credential_id).where(RecordParty.credit_code == _CODE)
        ).one()
        change_status(
            session,
            context,
            listing,
            StatusChangeIn(
                action=Action.WITHDRAW,
                reason="行政处罚决定被撤销",
                decision_number="复〔2026〕1号",
                effective_on=china_today(datetime.now(UTC)),
            ),
        )


def _dispatch(settings: Settings, policy: AddressPolicy) -> int:
    with engine_scope(settings.database_url) as engine:
        return dispatch(engine, now=datetime.now(UTC), deadline=10, concurrency=2, policy=policy)


def _resolving(*addresses: str) -> AddressPolicy:
    """No network allowed, and every host resolves to ``addresses``."""
    return AddressPolicy(resolve=lambda _host, _port: list(addresses))


# -- list, cancel, rotate ---------------------------------------------------------------


def test_an_owner_lists_cancels_and_rekeys_its_subscriptions_and_no_one_else_can(
    api: tuple[TestClient, dict[str, str]], settings: Settings, receiver: _Receiver
) -> None:
    client, tokens = api
    owner, other = _bearer(tokens, "enforcement"), _bearer(tokens, "federation")
    made = client.post(
        "/v1/subscriptions", json={"url": receiver.url, "credit_codes": [_CODE]}, headers=owner
    )
    assert made.status_code == 201, made.text
    mine = made.json()
    theirs = client.post(
        "/v1/subscriptions", json={"url": receiver.url, "credit_codes": [_CODE]}, headers=other
    ).json()

    listed = client.get("/v1/subscriptions", headers=owner)
    assert listed.status_code == 200, listed.text
    assert [s["id"] for s in listed.json()["subscriptions"]] == [mine["id"]]
    assert listed.json()["subscriptions"][0]["url"] == receiver.url
    assert listed.json()["subscriptions"][0]["filter"]["creditCodes"] == [_CODE]
    assert "secret" not in listed.json()["subscriptions"][0]

    # Another caller, even an admin, is told there is no such subscription.
    for stranger in (other, _bearer(tokens, "admin")):
        for answer in (
            client.delete(f"/v1/subscriptions/{mine['id']}", headers=stranger),
            client.post(f"/v1/subscriptions/{mine['id']}/secret", headers=stranger),
        ):
            assert answer.status_code == 404, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/subscriptions", headers=_bearer(tokens, "verifier")).status_code == 403

    rotated = client.post(f"/v1/subscriptions/{mine['id']}/secret", headers=owner)
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["secret"]
    assert rotated.json()["id"] == mine["id"]
    assert secret != mine["secret"]
    assert len(secret) >= 32

    # The next delivery is signed with the new secret, not the old.
    _withdraw_listing(settings)
    assert _dispatch(settings, LOOPBACK) == 2
    signed = {h["X-Registry-Signature"] for _, h, _ in receiver.seen}
    assert len(receiver.seen) == 2
    _, headers, body = next(
        seen
        for seen in receiver.seen
        if json.loads(seen[2])["subscription"] == mine["id"]  # the owner's delivery
    )
    timestamp = headers["X-Registry-Timestamp"]
    assert hmac.compare_digest(headers["X-Registry-Signature"], signature(secret, timestamp, body))
    assert signature(mine["secret"], timestamp, body) not in signed

    cancelled = client.delete(f"/v1/subscriptions/{mine['id']}", headers=owner)
    assert cancelled.status_code == 204, cancelled.text
    assert client.get("/v1/subscriptions", headers=owner).json() == {"subscriptions": []}
    gone = client.get(f"/v1/subscriptions/{mine['id']}/deliveries", headers=owner)
    assert gone.status_code == 404
    assert client.delete(f"/v1/subscriptions/{mine['id']}", headers=owner).status_code == 404
    # The other caller's subscription is untouched, and still served.
    remaining = client.get("/v1/subscriptions", headers=other).json()["subscriptions"]
    assert [s["id"] for s in remaining] == [theirs["id"]]
    log = client.get(f"/v1/subscriptions/{theirs['id']}/deliveries", headers=other).json()
    assert [d["state"] for d in log["deliveries"]] == ["delivered"]


# -- where webhooks may go ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 -- an address checked, nothing bound
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback (in an IPv6 address)"),
        ("64:ff9b::a00:1", "private (in an IPv6 address)"),
        ("2002:a9fe:a9fe::1", "cloud metadata (in an IPv6 address)"),
    ],
)
def test_a_host_that_resolves_to_an_address_that_is_not_public_is_refused(
    address: str, kind: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _resolving(address).check("hooks.example.com", 443)
    assert f"a {kind} address" in str(refused.value)
    # One such address among public ones is enough to refuse.
    with pytest.raises(InvalidInput, match=kind.split(" ", maxsplit=1)[0]):
        _resolving(_PUBLIC, address).check("hooks.example.com", 443)
    assert _resolving(_PUBLIC).check("hooks.example.com", 443) == [_PUBLIC]
    # Allowed when the node's settings name its network.
    allowed = dataclasses.replace(_resolving(address), allowed=(ip_network(address),))
    assert allowed.check("hooks.example.com", 443) == [address]
    # Networks allowed elsewhere leave public addresses public, and this one refused.
    elsewhere = (ip_network("10.99.0.0/16"), ip_network("fd99::/16"))
    assert dataclasses.replace(_resolving(_PUBLIC), allowed=elsewhere).check("h.example", 443) == [
        _PUBLIC
    ]
    if not any(ip_address(address) in n for n in elsewhere):
        with pytest.raises(InvalidInput, match=kind.split(" ", maxsplit=1)[0]):
            dataclasses.replace(_resolving(address), allowed=elsewhere).check("h.example", 443)


def test_subscribing_to_an_address_that_is_not_public_is_refused_unless_allowed(
    settings: Settings, receiver: _Receiver
) -> None:
    strict = settings.model_copy(update={"webhook_allowed_networks": ()})
    tokens = seed_demo_node(strict)
    owner = _bearer(tokens, "enforcement")
    with TestClient(create_app(strict)) as client:
        for url, kind in (
            (receiver.url, "a loopback address"),
            (f"http://localhost:{receiver.port}/hook", "a loopback address"),
            ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
            ("http://10.0.0.8/hook", "a private address"),
        ):
            answer = client.post(
                "/v1/subscriptions", json={"url": url, "credit_codes": [_CODE]}, headers=owner
            )
            assert answer.status_code == 422, (url, answer.text)
            problem = answer.json()
            assert [e["field"] for e in problem["errors"]] == ["url"], problem
            assert kind in problem["errors"][0]["message"]
            assert "public addresses only" in problem["errors"][0]["message"]
        # A name that resolves to a private address, as a resolver says.
        client.app.state.webhook_policy = _resolving(_PUBLIC, "192.168.0.7")  # type: ignore[attr-defined]
        answer = client.post(
            "/v1/subscriptions",
            json={"url": "https://hooks.example.com/in", "credit_codes": [_CODE]},
            headers=owner,
        )
        assert answer.status_code == 422, answer.text
        assert "192.168.0.7, a private address" in answer.json()["errors"][0]["message"]
        # Nothing was written.
        assert client.get("/v1/subscriptions", headers=owner).json() == {"subscriptions": []}
        # A public one is taken (resolved and checked, nothing sent).
        client.app.state.webhook_policy = _resolving(_PUBLIC)  # type: ignore[attr-defined]
        answer = client.post(
            "/v1/subscriptions",
            json={"url": "https://hooks.example.com/in", "credit_codes": [_CODE]},
            headers=owner,
        )
        assert answer.status_code == 201, answer.text
    # The test node's settings allow loopback: the same receiver is taken there.
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/v1/subscriptions", json={"url": receiver.url, "credit_codes": [_CODE]}, headers=owner
        )
        assert answer.status_code == 201, answer.text


def test_every_delivery_checks_the_address_again_and_connects_to_the_one_checked(
    settings: Settings, receiver: _Receiver
) -> None:
    tokens = seed_demo_node(settings)
    owner = _bearer(tokens, "enforcement")
    url = f"http://hooks.example.com:{receiver.port}/hook"
    with TestClient(create_app(settings)) as client:
        client.app.state.webhook_policy = _resolving(_PUBLIC)  # type: ignore[attr-defined]
        made = client.post(
            "/v1/subscriptions", json={"url": url, "credit_codes": [_CODE]}, headers=owner
        )
        assert made.status_code == 201, made.text
        subscription = made.json()["id"]
        _withdraw_listing(settings)
        # The name now resolves to loopback (DNS rebinding): refused, nothing sent.
        assert _dispatch(settings, _resolving("127.0.0.1")) == 0
        assert receiver.seen == []
        log = client.get(f"/v1/subscriptions/{subscription}/deliveries", headers=owner).json()
        [delivery] = log["deliveries"]
        assert delivery["state"] == "pending"
        assert delivery["lastStatus"] is None
        assert "127.0.0.1, a loopback address" in delivery["lastError"]
    # Where loopback is allowed, it goes to the address checked, with the URL's host.
    rebound = dataclasses.replace(LOOPBACK, resolve=lambda _host, _port: ["127.0.0.1"])
    with engine_scope(settings.database_url) as engine:
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert dispatch(engine, now=later, deadline=10, concurrency=1, policy=rebound) == 1
    [(path, headers, _)] = receiver.seen
    assert path == "/hook"
    assert headers["Host"] == f"hooks.example.com:{receiver.port}"


def test_a_proxy_in_the_environment_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would resolve and connect to the receiver's name itself, past the address
    # policy's check. This one, on a loopback port nobody listens on, would fail the
    # delivery if it were used.
    receiver = _Receiver(status=204)
    unused = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, unused)
    try:
        attempt = http_post(
            receiver.url, b"{}", {"Content-Type": "application/json"}, deadline=5, policy=LOOPBACK
        )
        assert attempt == Attempt(204)
        assert [path for path, _, _ in receiver.seen] == ["/hook"]
    finally:
        receiver.close()


def test_a_redirect_is_not_followed(settings: Settings) -> None:
    moved = _Receiver(status=302)
    try:
        attempt = http_post(
            moved.url, b"{}", {"Content-Type": "application/json"}, deadline=5, policy=LOOPBACK
        )
        assert attempt == Attempt(302, "a redirect, not followed")
        assert not attempt.ok
        assert [path for path, _, _ in moved.seen] == ["/hook"]  # not /hook/moved

        tokens = seed_demo_node(settings)
        owner = _bearer(tokens, "enforcement")
        with TestClient(create_app(settings)) as client:
            made = client.post(
                "/v1/subscriptions", json={"url": moved.url, "credit_codes": [_CODE]}, headers=owner
            )
            assert made.status_code == 201, made.text
            _withdraw_listing(settings)
            assert _dispatch(settings, LOOPBACK) == 0
            [delivery] = client.get(
                f"/v1/subscriptions/{made.json()['id']}/deliveries", headers=owner
            ).json()["deliveries"]
        assert (delivery["state"], delivery["lastStatus"], delivery["lastError"]) == (
            "pending",
            302,
            "a redirect, not followed",
        )
        assert [path for path, _, _ in moved.seen] == ["/hook", "/hook"]
    finally:
        moved.close()


def test_a_loopback_address_is_refused_by_default_at_delivery_too(receiver: _Receiver) -> None:
    attempt = http_post(
        receiver.url,
        b"{}",
        {"Content-Type": "application/json"},
        deadline=5,
        policy=AddressPolicy(),
    )
    assert attempt.status is None
    assert attempt.error is not None
    assert "a loopback address" in attempt.error
    assert receiver.seen == []

"""Rate limits: a token, a signed-in session or a client address over its limit of a
kind is answered 429 with Retry-After (problem+json for the API, a page for the
pages), others are not, and once the window has passed it is served again."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from api.examples import verify_examples
from api.rates import RateLimits
from registry.accounts import create_user, start_session
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tokens import create_token
from tests._support import seed_demo_node
from web.security import ACTIVE_COOKIE, SESSION_COOKIE, activity_stamp

PROBLEM = "application/problem+json"
ENGINEER = verify_examples()["recognised"]["value"]


class Node:
    """An app whose rate limits read a clock the test moves."""

    def __init__(self, app: FastAPI, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens
        self.now = 1000.0
        app.state.rate_limits = RateLimits(app.state.settings, clock=lambda: self.now)

    def client(self, address: str = "192.0.2.1") -> TestClient:
        """A client at ``address``; used in a ``with`` block, which runs the app's
        lifespan (its access recorder's connection closed at the end)."""
        return TestClient(self.app, client=(address, 40000))

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings, records=False)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        tokens["inspector-2"] = create_token(session, "enforcement", name="second inspector")[1]
    limited = settings.model_copy(
        update={
            "verifications_per_minute": 3,
            "batches_per_minute": 2,
            "searches_per_minute": 2,
            "sign_ins_per_minute": 2,
            "rate_limit_address_factor": 2,
            "sign_in_delay_seconds": 0,
        }
    )
    app = create_app(limited)
    yield Node(app, tokens)
    app.state.engine.dispose()
    app.state.loop_engine.dispose()


def _too_many(answer: Any) -> int:
    """The seconds a 429 problem says to wait, after checking its shape."""
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"] == "urn:yrd-registry:problem:too-many-requests"
    wait = int(answer.headers["retry-after"])
    assert 1 <= wait <= 60
    assert f"try again in {wait} seconds" in problem["detail"]
    return wait


def test_a_token_over_its_limit_waits_and_another_token_does_not(node: Node) -> None:
    with node.client() as client:
        for _ in range(3):
            answer = client.post(
                "/v1/verify/engineer", json=ENGINEER, headers=node.bearer("verifier")
            )
            assert answer.status_code == 200, answer.text
        node.now += 20
        refused = client.post("/v1/verify/engineer", json=ENGINEER, headers=node.bearer("verifier"))
        assert _too_many(refused) == 40  # the first use leaves the window 60 seconds after it
        # Another token from the same address (which may make twice a token's) is served.
        other = client.post(
            "/v1/verify/engineer", json=ENGINEER, headers=node.bearer("enforcement")
        )
        assert other.status_code == 200, other.text
        # A minute after the first uses, the token is served again.
        node.now += 41
        again = client.post("/v1/verify/engineer", json=ENGINEER, headers=node.bearer("verifier"))
        assert again.status_code == 200, again.text


def test_an_address_over_its_limit_waits_and_another_address_does_not(node: Node) -> None:
    with node.client("192.0.2.1") as first, node.client("198.51.100.7") as second:
        rows = {"rows": [{"credit_code": "91310000MA1FL0XX1U"}]}
        # Each token its own limit of 2 batches; the address, 4 whatever the tokens.
        for role in ("enforcement", "enforcement", "inspector-2", "inspector-2"):
            answer = first.post("/v1/blacklist/check", json=rows, headers=node.bearer(role))
            assert answer.status_code == 200, answer.text
        over = first.post("/v1/blacklist/check", json=rows, headers=node.bearer("inspector-2"))
        _too_many(over)
        # The token of the refused request, from another address, is over its own limit
        # too; a third token from there is served.
        assert (
            second.post(
                "/v1/blacklist/check", json=rows, headers=node.bearer("inspector-2")
            ).status_code
            == 429
        )
        verifier = second.post(
            "/v1/verify/batch", json={"rows": [ENGINEER]}, headers=node.bearer("verifier")
        )
        assert verifier.status_code == 200, verifier.text
        node.now += 60
        answer = first.post("/v1/blacklist/check", json=rows, headers=node.bearer("inspector-2"))
        assert answer.status_code == 200, answer.text


def test_a_search_is_limited_and_counted_before_its_body_is_read(node: Node) -> None:
    with node.client() as client:
        search = {"credit_code": "91310000MA1FL0XX1U"}
        for _ in range(2):
            answer = client.post(
                "/v1/blacklist/search", json=search, headers=node.bearer("enforcement")
            )
            assert answer.status_code == 200, answer.text
        # Over the limit, even a body that is not JSON is refused 429, unread.
        over = client.post(
            "/v1/blacklist/search", content=b"{not json", headers=node.bearer("enforcement")
        )
        _too_many(over)
        # A request without a token is refused 401 first, and counts for nothing.
        assert client.post("/v1/blacklist/search", json=search).status_code == 401


def test_every_limited_operation_documents_its_429(node: Node) -> None:
    paths = node.app.openapi()["paths"]
    limited = {
        (path, method): operation["x-rate-limit"]
        for path, item in paths.items()
        for method, operation in item.items()
        if "x-rate-limit" in operation
    }
    assert limited == {
        ("/v1/verify/engineer", "post"): "verify",
        ("/v1/verify/batch", "post"): "batch",
        ("/v1/blacklist/search", "post"): "search",
        ("/v1/blacklist/check", "post"): "batch",
    }
    for path, method in limited:
        answer = paths[path][method]["responses"]["429"]
        assert "Retry-After" in answer["description"]
        assert PROBLEM in answer["content"]


def _sign_in(client: TestClient, username: str) -> Any:
    form = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    return client.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "username": username, "password": "not it"},
        follow_redirects=False,
    )


def test_sign_ins_are_limited_per_address_whichever_accounts_they_name(node: Node) -> None:
    with node.client("192.0.2.1") as client, node.client("198.51.100.7") as other:
        for username in ("someone", "someone-else"):
            assert _sign_in(client, username).status_code == 401
        refused = _sign_in(client, "a-third-person")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert refused.headers["content-language"] == "zh-CN"
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 60
        assert f"请 {wait} 秒后再试" in refused.text
        assert "此类请求过多" in refused.text
        assert _sign_in(other, "someone").status_code == 401
        node.now += 60
        assert _sign_in(client, "someone").status_code == 401


def test_a_signed_in_session_is_limited_as_a_token_is(node: Node, settings: Settings) -> None:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        cookies = []
        for username in ("insp-one", "insp-two"):
            user, _ = create_user(session, username, role="enforcement", password="x" * 16)
            cookies.append(start_session(session, user))
    search = "/inspect/search?credit_code=91310000MA1FL0XX1U"
    # Each as a browser back on its desk: the session and the stamp of its last page.
    secret: bytes = node.app.state.issuing.node_secret
    stamps = [activity_stamp(secret, cookie, int(time.time())) for cookie in cookies]
    with node.client() as first, node.client() as second:
        first.cookies.set(SESSION_COOKIE, cookies[0])
        second.cookies.set(SESSION_COOKIE, cookies[1])
        first.cookies.set(ACTIVE_COOKIE, stamps[0])
        second.cookies.set(ACTIVE_COOKIE, stamps[1])
        for _ in range(2):
            assert first.get(search).status_code == 200
        refused = first.get(search)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert f"请 {refused.headers['retry-after']} 秒后再试" in refused.text
        # The form itself is no search: it is not counted, nor refused.
        assert first.get("/inspect/search").status_code == 200
        # Another inspector at the same address is served.
        assert second.get(search).status_code == 200
        node.now += 60
        assert first.get(search).status_code == 200

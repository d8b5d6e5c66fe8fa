"""Webhook receivers that never finish answering: cut off at the deadline, and never in
the way of the other subscriptions' deliveries, in one round, in the next, or after a
restart."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api import create_app
from registry.calendar import china_today
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.enforcement.dispatcher import Dispatcher, dispatch
from registry.enforcement.webhooks import Attempt, http_post, signature
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import RecordParty
from tests._receivers import HEADERS, STATUS_LINE, Events, Prompt, Trickler, wait_for
from tests._support import LOOPBACK, seed_demo_node

_DEADLINE = 2.0
_SLOW = 0
_PROMPT = range(1, 8)
_WITHDRAWN = ("CN-SH", "CN-AH", "CN-JS")  # one listing withdrawn per round (ZJ's already is)


class _Scene:
    """The demo node behind the API, one slow receiver and seven prompt ones, each
    subscribed (through the API) to every organisation the demo lists."""

    def __init__(self, client: TestClient, tokens: dict[str, str], database_url: str) -> None:
        self.client, self.tokens, self.database_url = client, tokens, database_url
        self.events = Events()
        self.slow = Trickler(self.events, _SLOW)
        self.prompt = [Prompt(self.events, n) for n in _PROMPT]
        self.enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
        codes = [code for _, code in DEMO_LISTED_ORGANISATIONS.values()]
        self.subscriptions: list[dict[str, Any]] = []
        for url in [self.slow.url, *(p.url for p in self.prompt)]:
            answer = client.post(
                "/v1/subscriptions",
                json={"url": url, "credit_codes": codes},
                headers=self.enforcement,
            )
            assert answer.status_code == 201, answer.text
            self.subscriptions.append(answer.json())

    def withdraw(self, authority: str) -> None:
        """Withdraw, from today, the listing ``authority`` made, through the API: one
        change each subscription follows."""
        code = DEMO_LISTED_ORGANISATIONS[authority][1]
        with engine_scope(self.database_url) as engine, session_scope(engine) as session:
            listing = session.exec(
                select(RecordParty.credential_id).where(RecordParty.credit_code == code)
            ).one()
        answer = self.client.post(
            f"/v1/credentials/{listing}/status",
            json={
                "action": "withdraw",
                "reason": "行政处罚决定经行政复议被撤销",
                "decision_number": "复〔2026〕7号",
                "effective_on": china_today(datetime.now(UTC)).isoformat(),
            },
            headers={"Authorization": f"Bearer {self.tokens[f'issuer:{authority}']}"},
        )
        assert answer.status_code == 201, answer.text

    def log(self, receiver: int) -> list[tuple[str, int, int | None, str | None, str | None]]:
        """The receiver's subscription's delivery log, as the API shows it."""
        subscription = self.subscriptions[receiver]["id"]
        answer = self.client.get(
            f"/v1/subscriptions/{subscription}/deliveries", headers=self.enforcement
        )
        assert answer.status_code == 200, answer.text
        return [
            (d["state"], d["attempts"], d["lastStatus"], d["lastError"], d["nextAttemptAt"])
            for d in answer.json()["deliveries"]
        ]

    def assert_signed(self) -> None:
        for number, prompt in zip(_PROMPT, self.prompt, strict=True):
            secret = self.subscriptions[number]["secret"]
            for headers, body in prompt.seen:
                expected = signature(secret, headers["X-Registry-Timestamp"], body)
                assert hmac.compare_digest(headers["X-Registry-Signature"], expected)

    def close(self) -> None:
        self.slow.close()
        for prompt in self.prompt:
            prompt.close()


@pytest.fixture
def scene(settings: Settings) -> Iterator[_Scene]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        scene = _Scene(client, tokens, settings.database_url)
        try:
            yield scene
        finally:
            scene.close()


def _wait_until_ended(scene: _Scene, attempts: int) -> None:
    """Wait for the slow receiver to notice that its ``attempts``-th connection ended:
    it looks every half second, so it may notice after ``dispatch`` has returned."""
    wait_for(lambda: len(scene.slow.ended) >= attempts, f"the slow receiver's end {attempts}")


def _at(moment: datetime) -> str:
    return moment.isoformat()


def test_a_receiver_that_never_finishes_is_cut_off_and_holds_no_one_up_even_after_a_restart(
    scene: _Scene, settings: Settings
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    events = scene.events
    with engine_scope(settings.database_url) as engine:
        # 1. The first change: every receiver is sent it at once.
        scene.withdraw(_WITHDRAWN[0])
        assert dispatch(engine, now=start, deadline=_DEADLINE, concurrency=4, policy=LOOPBACK) == 7
        # The prompt ones had theirs before the slow one's attempt ended (which the
        # receiver notices a moment after the registry has hung up) ...
        _wait_until_ended(scene, 1)
        slow_ended = events.position("ended", _SLOW)
        assert all(events.position("received", n) < slow_ended for n in _PROMPT), events.log
        # ... which the registry cut off at the deadline: a failed attempt, tried again
        # after the first backoff.
        assert scene.slow.ended == ["cut off"]
        retry = start + timedelta(seconds=5)
        failed = f"no complete answer within {_DEADLINE:g} s"
        assert scene.log(_SLOW) == [("pending", 1, None, failed, _at(retry))]
        for number in _PROMPT:
            assert [entry[:3] for entry in scene.log(number)] == [("delivered", 1, 204)]

        # 2. A restart, once the slow one is due again, with a second change: the slow
        # one is tried again and the prompt ones are not held up by it.
        scene.withdraw(_WITHDRAWN[1])
        restart = retry + timedelta(seconds=1)
        assert (
            dispatch(engine, now=restart, deadline=_DEADLINE, concurrency=4, policy=LOOPBACK) == 7
        )
        _wait_until_ended(scene, 2)
        slow_ended = events.position("ended", _SLOW, 2)
        assert all(events.position("received", n, 2) < slow_ended for n in _PROMPT), events.log
        assert scene.slow.ended == ["cut off", "cut off"]
        queued, retry = restart, restart + timedelta(seconds=10)
        assert scene.log(_SLOW) == [
            ("pending", 2, None, failed, _at(retry)),
            ("pending", 0, None, None, _at(queued)),  # waits its turn: changes go in order
        ]

        # 3. Another restart, on a single thread: the subscription whose delivery has
        # failed goes last, so the prompt ones are not even queued behind it.
        scene.withdraw(_WITHDRAWN[2])
        restart = retry + timedelta(seconds=1)
        assert (
            dispatch(engine, now=restart, deadline=_DEADLINE, concurrency=1, policy=LOOPBACK) == 7
        )
        slow_began = events.position("connected", _SLOW, 3)
        assert all(events.position("received", n, 3) < slow_began for n in _PROMPT), events.log
        _wait_until_ended(scene, 3)
        assert scene.slow.ended == ["cut off"] * 3
        assert [entry[:2] for entry in scene.log(_SLOW)] == [("pending", 3)] + [("pending", 0)] * 2

    for number, prompt in zip(_PROMPT, scene.prompt, strict=True):
        assert [entry[:3] for entry in scene.log(number)] == [("delivered", 1, 204)] * 3
        changes = [json.loads(body)["change"]["target"] for _, body in prompt.seen]
        assert len(set(changes)) == 3  # three changes, each once
    scene.assert_signed()


def test_the_servers_rounds_go_on_while_a_slow_receiver_is_still_being_tried(
    scene: _Scene, settings: Settings
) -> None:
    # As the server runs it: a round every few seconds, none waiting for the last.
    events = scene.events
    deadline = 8.0  # longer than two rounds take here: the slow attempt outlasts both
    with (
        engine_scope(settings.database_url) as engine,
        Dispatcher(
            engine,
            clock=lambda: datetime.now(UTC),
            deadline=deadline,
            concurrency=4,
            policy=LOOPBACK,
        ) as dispatcher,
    ):
        scene.withdraw(_WITHDRAWN[0])
        first = dispatcher.start_round()
        assert len(first) == 8
        wait_for(lambda: sum(f.done() for f in first) == 7, "the first change delivered")
        # A second change while the slow receiver's attempt is still under way: the
        # next round passes the slow subscription by and serves the other seven.
        scene.withdraw(_WITHDRAWN[1])
        second = dispatcher.start_round()
        assert len(second) == 7
        assert sum(future.result() for future in second) == 7
        assert all(len(p.seen) == 2 for p in scene.prompt)
        assert ("ended", _SLOW) not in events.log  # all while the slow one was being tried
        # The slow attempt ends at the deadline, a failure in its log.
        assert sum(future.result() for future in first) == 7
    assert scene.slow.ended == ["cut off"]
    [(state, attempts, status, error, _)] = scene.log(_SLOW)
    assert (state, attempts, status, error) == (
        "pending",
        1,
        None,
        f"no complete answer within {deadline:g} s",
    )


@pytest.mark.parametrize(
    ("start", "trickle"),
    [
        (b"", False),  # never a byte: the timeouts per read were enough for this one
        (STATUS_LINE, True),  # a byte at a time in the status line and headers
        (HEADERS, True),  # 200 and its headers at once, then the body a byte at a time
    ],
    ids=["silent", "trickling-headers", "trickling-body"],
)
def test_an_attempt_ends_at_the_deadline_wherever_the_receiver_stalls(
    start: bytes, trickle: bool
) -> None:
    events = Events()
    slow = Trickler(events, _SLOW, start=start, trickle=trickle)
    try:
        attempt = http_post(
            slow.url, b"{}", {"Content-Type": "application/json"}, deadline=1.5, policy=LOOPBACK
        )
        assert attempt == Attempt(None, "no complete answer within 1.5 s")
        assert not attempt.ok
        wait_for(lambda: bool(slow.ended), "the receiver to see the end")
        assert slow.ended == ["cut off"]
    finally:
        slow.close()

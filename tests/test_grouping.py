"""Single issuances issued together while their authority's log is busy
(``registry.issuing.grouping``), on PostgreSQL and SQLite.

Each test holds the log's lock from a transaction of its own, so that the first
request waits in the database and the others wait in line behind it; then lets go,
and looks at what each request was answered and what the log holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session

from api import create_app
from registry.calendar import china_today
from registry.credentials.records import RecordIn
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.errors import Conflict, Forbidden
from registry.issuing import IssueAnswer, IssuingContext, grouping
from registry.issuing.grouping import SingleIssues
from registry.issuing.idempotency import Single
from registry.settings import Settings
from registry.storage.models import LogHead
from registry.tlog.sequencer import lock_log
from registry.verification.log_audit import audit_log
from tests._support import seed_demo_node

AUTHORITY = "CN-SH"
ISSUER = f"issuer:{AUTHORITY}"
SCOPE = "POST /v1/credentials"
_RECORD = TypeAdapter(RecordIn)
PROVIDER = credit_code("12310000MB0P10008")


def _credit(n: int) -> dict[str, Any]:
    engineer = DEMO_ENGINEERS[n % len(DEMO_ENGINEERS)]
    return {
        "type": "ContinuingEducationCredit",
        "authority": AUTHORITY,
        "holder": {"name": engineer.name, "id_number": engineer.id_number},
        "course_title": f"分组签发测试第{n}期",
        "provider": {"name": "上海市安全生产科学研究所", "credit_code": PROVIDER},
        "hours": 8,
        "kind": "professional",
        "completed_on": (china_today() - timedelta(days=1)).isoformat(),
    }


def _single(body: dict[str, Any], *, role: str = ISSUER, key: str | None = None) -> Single:
    return Single(
        item=_RECORD.validate_python(body), role=role, idempotency_key=key, body_json=body
    )


@pytest.fixture
def singles(settings: Settings, engine: Engine) -> SingleIssues:
    seed_demo_node(settings, records=False)
    context = IssuingContext.for_node(settings)
    queue = SingleIssues(engine, context, scope=SCOPE)
    queue.issue(_single(_credit(10_000)))  # the status list exists before the tests
    return queue


@contextmanager
def _log_held(engine: Engine) -> Iterator[None]:
    with Session(engine) as session:
        lock_log(session, AUTHORITY, origin_prefix="unused")
        try:
            yield
        finally:
            session.rollback()


def _size(engine: Engine) -> int:
    with Session(engine) as session:
        head = session.get(LogHead, AUTHORITY)
        assert head is not None
        return head.size


def _in_line(
    singles: SingleIssues, engine: Engine, requests: list[Single]
) -> list[Future[IssueAnswer]]:
    """Send ``requests`` one after another while the log is held: the first takes its
    turn and waits for the lock, the others wait in line behind it; then let go.
    Their futures, in order."""
    futures: list[Future[IssueAnswer]] = []
    with ThreadPoolExecutor(len(requests)) as pool, _log_held(engine):
        for request in requests:
            futures.append(pool.submit(singles.issue, request))
            _until(lambda: singles.pending(AUTHORITY) == len(futures))
        time.sleep(0.2)  # the first is still waiting for the lock
        assert not any(future.done() for future in futures)
    return futures


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the requests did not line up"
        time.sleep(0.01)


def test_requests_waiting_for_the_log_are_issued_in_one_append(
    singles: SingleIssues, engine: Engine
) -> None:
    before = _size(engine)
    futures = _in_line(singles, engine, [_single(_credit(n)) for n in range(6)])
    answers = [future.result() for future in futures]

    first, rest = answers[0], answers[1:]
    assert first.tree_size == before + 1
    # The five that waited in line went in together: one append, one checkpoint.
    assert {answer.tree_size for answer in rest} == {before + 6}
    assert {answer.checkpoint for answer in rest} == {rest[0].checkpoint}
    assert [answer.items[0].leaf_index for answer in answers] == list(range(before, before + 6))
    assert len({answer.items[0].credential_id for answer in answers}) == 6
    assert not any(answer.replayed for answer in answers)
    assert _size(engine) == before + 6
    with Session(engine) as session:
        assert not audit_log(session, AUTHORITY).findings


def test_a_group_refused_as_a_whole_answers_each_request_alone(
    singles: SingleIssues, engine: Engine
) -> None:
    before = _size(engine)
    good = _credit(1)
    requests = [
        _single(_credit(0)),
        _single(good),
        _single(good),  # repeats the one before: refused alone as it would be anyway
        _single(_credit(2), role="issuer:CN-JS"),  # not Shanghai's issuer
        _single(_credit(3), key="retry-3"),
        _single(_credit(3), key="retry-3"),  # a retry: the same answer, no second record
    ]
    futures = _in_line(singles, engine, requests)

    assert futures[0].result().tree_size == before + 1
    issued = futures[1].result()
    with pytest.raises(Conflict, match=issued.items[0].credential_id):
        futures[2].result()
    with pytest.raises(Forbidden):
        futures[3].result()
    once, again = futures[4].result(), futures[5].result()
    assert not once.replayed
    assert again.replayed
    assert again.items[0].credential_id == once.items[0].credential_id
    # Three records, each in an append of its own; nothing of the refused group.
    assert _size(engine) == before + 3
    assert [issued.tree_size, once.tree_size] == [before + 2, before + 3]
    with Session(engine) as session:
        assert not audit_log(session, AUTHORITY).findings


def test_a_request_alone_is_issued_at_once(singles: SingleIssues, engine: Engine) -> None:
    before = _size(engine)
    answer = singles.issue(_single(_credit(7)))
    assert answer.tree_size == before + 1
    assert singles.pending(AUTHORITY) == 0


def test_requests_sent_at_once_through_the_api_share_an_append(
    settings: Settings, engine: Engine
) -> None:
    """The route's path: ``POST /v1/credentials`` from eight clients while the log is
    busy; every one answered 201 with its own record, seven from one append."""
    tokens = seed_demo_node(settings, records=False)
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {tokens[ISSUER]}"}
    with TestClient(app) as client:
        assert client.post("/v1/credentials", json=_credit(10_000), headers=headers).is_success
        before = _size(engine)
        singles: SingleIssues = app.state.singles
        futures: list[Future[Any]] = []
        with ThreadPoolExecutor(8) as pool, _log_held(engine):
            for n in range(8):
                futures.append(
                    pool.submit(client.post, "/v1/credentials", json=_credit(n), headers=headers)
                )
                _until(lambda: singles.pending(AUTHORITY) == len(futures))
        answers = [future.result() for future in futures]
    assert [answer.status_code for answer in answers] == [201] * 8
    bodies = [answer.json() for answer in answers]
    assert sorted(body["leaf_index"] for body in bodies) == list(range(before, before + 8))
    assert [body["tree_size"] for body in bodies] == [before + 1] + [before + 8] * 7
    assert _size(engine) == before + 8


def test_a_long_line_is_issued_in_groups_of_at_most_group_most(
    singles: SingleIssues, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grouping, "GROUP_MOST", 3)
    before = _size(engine)
    futures = _in_line(singles, engine, [_single(_credit(n)) for n in range(7)])
    sizes = [future.result().tree_size - before for future in futures]
    # The first alone (it was issuing when the others came), then 3, then 3.
    assert sizes == [1, 4, 4, 4, 7, 7, 7]

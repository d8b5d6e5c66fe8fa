"""Concurrent writers on one log, for the contract's 30 seconds: `registry serve
--workers 8` on PostgreSQL (eight worker processes, each with its own connections,
as a node runs on eight cores) while eight clients issue for one authority, singles
and small batches, each request on a connection of its own so that the kernel spreads
them over every worker. Afterwards the log's entries are 0..n-1 with no gap, each
credential is in it once, no request was answered 5xx, and the log audit holds.

Eight worker processes of one server, rather than eight servers: the same eight
processes appending to one log through the database's lock, and the server's own
way of running them (the supervisor, a socket per worker sharing the port).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from registry.settings import Settings
from registry.storage.db import begin_exclusive, engine_scope, session_scope
from tests._faults import ce_credit, log_size, whole
from tests._servers import Servers
from tests._support import LOOPBACK, seed_demo_node

SECONDS = 30.0
"""How long the eight clients issue: the contract."""

PROCESSES = 8


@pytest.mark.e2e
def test_eight_processes_issuing_for_one_authority_leave_a_gap_free_log(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=pg_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    tokens = seed_demo_node(settings)
    # Eight processes each importing the application take a while on two cores.
    server = servers.start(pg_url, settings.data_dir, workers=PROCESSES, ready_within=240)
    before = log_size(pg_url, "CN-SH")
    headers = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    statuses: Counter[int] = Counter()
    issued: list[tuple[str, int]] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def client(number: int) -> None:
        turn = 0
        while time.monotonic() < stop:
            turn += 1
            n = number * 1_000_000 + turn
            # Every fifth request a batch of five; the others one record each.
            path, body = (
                ("/v1/credentials/batch", {"items": [ce_credit(n * 10 + i) for i in range(5)]})
                if turn % 5 == 0
                else ("/v1/credentials", ce_credit(n * 10))
            )
            sent = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            try:
                # A connection per request: the kernel gives each to any of the workers.
                answer = httpx.post(f"{server.base}{path}", json=body, headers=sent, timeout=60)
            except httpx.TransportError as exc:
                with lock:
                    failures.append(f"{path}: {type(exc).__name__}")
                continue
            got: list[tuple[str, int]] = []
            if answer.status_code == 201:
                value: Any = answer.json()
                items = value.get("items", [value])
                got = [(i["credential"]["id"], i["leaf_index"]) for i in items]
            with lock:
                statuses[answer.status_code] += 1
                issued.extend(got)
                if answer.status_code != 201:
                    failures.append(f"{path}: {answer.status_code} {answer.text[:300]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, f"{len(failures)} failed of {sum(statuses.values())}: {failures[:5]}"
    assert issued, "nothing was issued"
    # Each credential once, each at a leaf of its own, and the log grew by exactly them.
    ids = [credential for credential, _ in issued]
    leaves = sorted(leaf for _, leaf in issued)
    assert len(set(ids)) == len(ids)
    assert leaves == list(range(before, before + len(issued)))
    sizes = whole(pg_url, settings.data_dir)  # 0..n-1 with no gap, and the audit holds
    assert sizes["CN-SH"] == before + len(issued)
    with engine_scope(pg_url) as engine, engine.connect() as connection:
        logged: dict[str, int] = dict(
            connection.execute(
                sa.text(
                    "SELECT credential_id, leaf_index FROM log_entry "
                    "WHERE authority_code = 'CN-SH' AND leaf_index >= :n"
                ),
                {"n": before},
            ).all()
        )
    assert logged == dict(issued)


@pytest.mark.e2e
def test_two_servers_on_one_sqlite_file_wait_for_each_other(
    sqlite_url: str, servers: Servers, tmp_path: Path
) -> None:
    """The embedded default has one writer at a time for the whole file: two server
    processes on it, each issuing, wait their turn (the busy timeout) and neither
    answers 500 or 503; the log they share has no gap and audits clean."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    tokens = seed_demo_node(settings)
    # Started together, as a service manager starts them: each seeds what the demo
    # lacks (its accounts) and neither fails for the other.
    started: list[Any] = []

    def start() -> None:
        try:
            started.append(servers.start(sqlite_url, settings.data_dir, ready_within=180))
        except BaseException as exc:  # pytest.fail's outcome, raised again below
            started.append(exc)

    starting = [threading.Thread(target=start) for _ in range(2)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    for outcome in started:
        if isinstance(outcome, BaseException):
            raise outcome
    before = log_size(sqlite_url, "CN-SH")
    headers = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    answers: list[httpx.Response] = []

    def client(number: int, base: str) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            for turn in range(20):
                n = 2_000_000 + number * 1_000 + turn
                if turn % 4 == 0:
                    body = {"items": [ce_credit(n * 100 + i) for i in range(20)]}
                    answers.append(http.post("/v1/credentials/batch", json=body))
                else:
                    answers.append(http.post("/v1/credentials", json=ce_credit(n * 100)))

    threads = [threading.Thread(target=client, args=(n, started[n % 2].base)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [(a.status_code, a.text[:300]) for a in answers if a.status_code != 201]
    assert not refused
    leaves = sorted(
        item["leaf_index"]
        for answer in answers
        for item in answer.json().get("items", [answer.json()])
    )
    assert leaves == list(range(before, before + len(leaves)))
    assert whole(sqlite_url, settings.data_dir)["CN-SH"] == before + len(leaves)


def test_an_exclusive_transaction_waits_for_the_one_holding_its_lock(db_url: str) -> None:
    """What servers starting together take before seeding (``begin_exclusive``): the
    second waits until the first has committed, on either database."""
    order: list[str] = []
    with engine_scope(db_url) as engine:
        with session_scope(engine) as first:
            begin_exclusive(first, 7)
            order.append("first holds it")

            def second() -> None:
                with session_scope(engine) as session:
                    begin_exclusive(session, 7)
                    order.append("second holds it")

            waiting = threading.Thread(target=second)
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive(), "the second took the lock the first holds"
            order.append("first commits")
        waiting.join()
    assert order == ["first holds it", "first commits", "second holds it"]

"""The origin has its checkpoints cosigned by the other members' witnesses
(``registry.federation.cosigning``), on four nodes built as ``registry demo
federation`` builds them (each with only its own keys, SQLite), answering in-process:
each witness's requests go to that node's own app. A witness can be held (its answer
waits until released) or down; every request is noted with the size it asks about.
The demo's one node, hosting every member, witnesses its own logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session, col, select

from api import create_app
from registry.datadir import DataDir
from registry.demo.network import DemoNode, build_federation, plan_nodes
from registry.federation.cosigning import Cosigner, witnessed
from registry.federation.rounds import Round
from registry.federation.witness import witness_here
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import LogCosignature, LogHead
from registry.tlog.note import parse_witness_key
from registry.trust.store import current_version
from tests._support import seed_demo_node
from tests.test_cosignature import _spec_verify
from tests.test_grouping import _credit

ORIGIN = "CN-SH"


class Federation:
    def __init__(self, nodes: list[DemoNode], clients: dict[str, TestClient]) -> None:
        self.nodes = {node.code: node for node in nodes}
        self.clients = clients
        self.down: set[str] = set()
        self.held: dict[str, threading.Event] = {}
        self.asked: list[tuple[str, int]] = []  # (witness, size), in the order asked
        self.issued = 0
        self.reports: list[str] = []
        self._one = threading.Lock()

    def send(self, url: str, body: bytes) -> httpx.Response:
        code = next(code for code, node in self.nodes.items() if node.url == url)
        with self._one:
            self.asked.append((code, int(body.decode().split("\n\n", 1)[1].split("\n")[1])))
        held = self.held.get(code)
        if held is not None and not held.wait(30):
            raise httpx.ReadTimeout("held for too long")
        if code in self.down:
            raise httpx.ConnectError("the node is down")
        # One request at a time: warnings' filters are the process's, and pytest's
        # (turning a warning into an error) are changed under a thread that answers.
        with self._one:
            answer = self.clients[code].post("/v1/witness/add-checkpoint", content=body)
        return httpx.Response(
            answer.status_code, headers=dict(answer.headers), content=answer.content
        )

    def issue(self) -> None:
        origin = self.nodes[ORIGIN]
        headers = {"Authorization": f"Bearer {origin.tokens[f'issuer:{ORIGIN}']}"}
        made = self.clients[ORIGIN].post(
            "/v1/credentials", json=_credit(self.issued), headers=headers
        )
        assert made.status_code == 201, made.text
        self.issued += 1

    def cosign(self) -> None:
        """One round of asking, waited for."""
        origin = self.nodes[ORIGIN]
        with (
            engine_scope(origin.settings.database_url) as engine,
            Cosigner(engine, send=self.send, report=self.reports.append) as cosigner,
        ):
            cosigner.tick()

    @contextmanager
    def cosigner(self) -> Iterator[Cosigner]:
        """A cosigner of the origin's, kept across ticks; closed (its requests
        waited for) when the block ends."""
        with (
            engine_scope(self.nodes[ORIGIN].settings.database_url) as engine,
            Cosigner(engine, send=self.send, report=self.reports.append) as cosigner,
        ):
            yield cosigner

    def asked_since(self, start: int) -> dict[str, list[int]]:
        """The sizes each witness was asked about since request ``start``."""
        by_witness: dict[str, list[int]] = {}
        for code, size in self.asked[start:]:
            by_witness.setdefault(code, []).append(size)
        return by_witness

    def checkpoint(self) -> tuple[str, dict[str, int], int]:
        note = self.clients[ORIGIN].get(f"/v1/logs/{ORIGIN}/checkpoint").text
        with self.nodes[ORIGIN].session() as session:
            trust = current_version(session)
        assert trust is not None
        cosigners, needed = witnessed(trust.content, ORIGIN, note)
        return note, cosigners, needed


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    nodes = plan_nodes(18101, tmp_path / "nodes")
    build_federation(nodes, tmp_path, say=lambda _message: None)
    clients = {node.code: TestClient(create_app(node.settings)) for node in nodes}
    for client in clients.values():
        client.__enter__()
    try:
        yield Federation(nodes, clients)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


def test_every_checkpoint_gets_the_other_members_cosignatures(federation: Federation) -> None:
    federation.issue()
    assert federation.checkpoint()[1] == {}  # not yet asked: served without cosignatures
    federation.cosign()
    note, cosigners, needed = federation.checkpoint()
    assert sorted(cosigners) == ["CN-AH", "CN-JS", "CN-ZJ"], federation.reports
    assert needed == 2
    # Each line checks as the specification says, with the key the trust list names.
    with federation.nodes[ORIGIN].session() as session:
        trust = current_version(session)
    assert trust is not None
    text = note.split("\n\n", 1)[0] + "\n"
    for member in trust.content.members:
        if member.code != ORIGIN and member.witness is not None:
            key = parse_witness_key(member.witness.verifier_key).public_key
            (line,) = [
                found
                for found in note.splitlines(keepends=True)
                if found.startswith(f"\u2014 {member.witness.name} ")
            ]
            assert _spec_verify(line, text, member.witness.name, key) == cosigners[member.code]


def test_one_witness_down_is_still_witnessed_and_two_down_is_not(federation: Federation) -> None:
    federation.issue()
    federation.cosign()
    federation.down = {"CN-AH"}
    federation.issue()
    federation.cosign()
    _, cosigners, needed = federation.checkpoint()
    assert sorted(cosigners) == ["CN-JS", "CN-ZJ"]
    assert len(cosigners) >= needed
    federation.down = {"CN-AH", "CN-ZJ"}
    federation.issue()
    federation.cosign()
    _, cosigners, needed = federation.checkpoint()
    assert sorted(cosigners) == ["CN-JS"]
    assert len(cosigners) < needed
    # The witness back, asked from what it last cosigned: it catches up in one step.
    federation.down = set()
    federation.cosign()
    assert sorted(federation.checkpoint()[1]) == ["CN-AH", "CN-JS", "CN-ZJ"], federation.reports


def test_an_origin_that_forgot_what_a_witness_cosigned_learns_it_from_the_409(
    federation: Federation,
) -> None:
    federation.issue()
    federation.cosign()
    origin = federation.nodes[ORIGIN]
    with origin.session() as session:
        session.execute(delete(LogCosignature).where(col(LogCosignature.witness).contains("CN-JS")))
    federation.issue()
    federation.cosign()  # asks Jiangsu from 0, hears its size, asks again with the proof
    assert "CN-JS" in federation.checkpoint()[1]


def _until(what: str, done: Callable[[], bool], cosigner: Cosigner) -> None:
    """Wait, without ticking, until ``done``; a hang fails after 30 s."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"never {what}"
        cosigner.wait(0.02)


def _round(cosigner: Cosigner) -> Round:
    latest = cosigner.rounds.latest(ORIGIN)
    assert latest is not None
    return latest


def test_a_round_asks_every_witness_about_one_checkpoint(federation: Federation) -> None:
    """Answers come slowly and out of order while the log grows: no witness is asked
    about a newer checkpoint before the round is settled, a new round goes on
    without the witness still busy, and that one then joins it."""
    federation.issue()
    federation.held = {"CN-JS": threading.Event(), "CN-ZJ": threading.Event()}
    start = len(federation.asked)
    with federation.cosigner() as cosigner:
        cosigner.tick()
        first = _round(cosigner).size
        _until("Anhui answered", lambda: _round(cosigner).over == {"CN-AH"}, cosigner)
        federation.issue()
        assert cosigner.due() == []  # one cosignature of two: not settled, nothing is due
        cosigner.tick()
        assert _round(cosigner).size == first
        federation.held["CN-ZJ"].set()  # Zhejiang answers before Jiangsu
        _until("settled", lambda: _round(cosigner).settled(), cosigner)
        cosigner.tick()  # a new round, without Jiangsu (still busy)
        second = _round(cosigner).size
        assert second > first
        _until(
            "Anhui and Zhejiang answered",
            lambda: (
                _round(cosigner).over
                == {
                    "CN-AH",
                    "CN-ZJ",
                }
            ),
            cosigner,
        )
        assert _round(cosigner).settled()
        federation.held["CN-JS"].set()
        _until(
            "Jiangsu free", lambda: cosigner.rounds.free(ORIGIN, ["CN-JS"], second) != [], cosigner
        )
        cosigner.tick()  # the log has not grown: Jiangsu joins the latest round
    assert federation.asked_since(start) == {
        "CN-AH": [first, second],
        "CN-JS": [first, second],
        "CN-ZJ": [first, second],
    }, federation.reports
    note, cosigners, needed = federation.checkpoint()
    assert sorted(cosigners) == ["CN-AH", "CN-JS", "CN-ZJ"], federation.reports
    assert len(cosigners) >= needed
    assert f"\n{second}\n" in note


def test_a_witness_down_stalls_no_round_and_catches_up_once_back(federation: Federation) -> None:
    federation.issue()
    federation.down = {"CN-AH"}
    start = len(federation.asked)
    with federation.cosigner() as cosigner:
        cosigner.tick()
        first = _round(cosigner).size
        _until("settled", lambda: _round(cosigner).over == {"CN-AH", "CN-JS", "CN-ZJ"}, cosigner)
        assert any("CN-AH" in report for report in federation.reports)
        federation.issue()
        cosigner.tick()  # Anhui is not asked again for a few seconds; the others are
        second = _round(cosigner).size
        _until("settled", lambda: _round(cosigner).over == {"CN-JS", "CN-ZJ"}, cosigner)
        _, cosigners, needed = federation.checkpoint()
        assert sorted(cosigners) == ["CN-JS", "CN-ZJ"]
        assert len(cosigners) >= needed
        federation.down = set()
        cosigner.rounds.recovered(["CN-AH"])  # its few seconds are over
        cosigner.tick()
    assert federation.asked_since(start) == {
        "CN-AH": [first, second],
        "CN-JS": [first, second],
        "CN-ZJ": [first, second],
    }
    assert sorted(federation.checkpoint()[1]) == ["CN-AH", "CN-JS", "CN-ZJ"], federation.reports


def _never(url: str, _body: bytes) -> httpx.Response:
    raise AssertionError(f"asked {url} over HTTP")


def test_a_node_that_hosts_every_member_witnesses_its_own_logs(tmp_path: Path) -> None:
    """The demo's one node (``make run``) holds every member's keys: each log's
    checkpoints are cosigned in-process by the other members' witness keys, with the
    witness's checks, never by the log's own, and nothing goes over HTTP."""
    settings = Settings(
        data_dir=tmp_path / "one", database_url=f"sqlite:///{tmp_path / 'one.db'}", demo=True
    )
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
    seed_demo_node(settings)
    with engine_scope(settings.database_url) as engine:
        with Cosigner(engine, send=_never) as blind:
            assert blind.due() == []  # without the keys at hand, nothing to ask
        with Cosigner(engine, key_store=DataDir(settings).key_store(), send=_never) as cosigner:
            due = cosigner.due()
            assert due
            assert {asking.url for asking in due} == {None}
            cosigner.tick()
    with settings_session(settings) as session:
        trust = current_version(session)
        logs = [
            code
            for code, size in session.exec(select(LogHead.authority_code, LogHead.size))
            if size > 0
        ]
    assert trust is not None
    assert len(logs) == 4
    with TestClient(create_app(settings)) as client:
        for code in logs:
            note = client.get(f"/v1/logs/{code}/checkpoint").text
            cosigners, needed = witnessed(trust.content, code, note)
            others = sorted(m.code for m in trust.content.members if m.code != code)
            assert sorted(cosigners) == others
            assert len(cosigners) >= needed
            own = next(m for m in trust.content.members if m.code == code).witness
            assert own is not None
            assert f"\u2014 {own.name} " not in note
            # The witness's checks: its own witness key alone signs nothing.
            body = f"old 0\n\n{note}".encode()
            with settings_session(settings) as session:
                answer = witness_here(
                    session, DataDir(settings).key_store(), body, witnesses=[code]
                )
            assert answer.status == 404, answer.body


@contextmanager
def settings_session(settings: Settings) -> Iterator[Session]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        yield session

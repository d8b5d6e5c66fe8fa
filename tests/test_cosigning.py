"""The origin has its checkpoints cosigned by the other members' witnesses
(``registry.federation.cosigning``), on four nodes built as ``registry demo
federation`` builds them (each with only its own keys, SQLite), answering in-process:
each witness's requests go to that node's own app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import col

from api import create_app
from registry.demo.network import DemoNode, build_federation, plan_nodes
from registry.federation.cosigning import Cosigner, witnessed
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade
from registry.storage.models import LogCosignature
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
        self.issued = 0
        self.reports: list[str] = []
        self._one = threading.Lock()

    def send(self, url: str, body: bytes) -> httpx.Response:
        code = next(code for code, node in self.nodes.items() if node.url == url)
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


def test_a_node_that_hosts_every_member_asks_no_witness(tmp_path: Path) -> None:
    """The demo's one node (``make run``) holds every member's keys: there is no
    other node's witness to ask, so nothing is asked and its server log stays quiet."""
    settings = Settings(
        data_dir=tmp_path / "one", database_url=f"sqlite:///{tmp_path / 'one.db'}", demo=True
    )
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
    seed_demo_node(settings)
    with engine_scope(settings.database_url) as engine, Cosigner(engine) as cosigner:
        assert cosigner.due() == []

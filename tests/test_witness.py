"""A node as a witness of another member's log (C2SP tlog-witness, ``POST
/v1/witness/add-checkpoint``), on PostgreSQL and SQLite.

The node is the demo's, with Shanghai made a peer (``hosted`` false): it witnesses
Shanghai's log with the witness keys of the three authorities it hosts. Its own
records, issued through the API, make Shanghai's checkpoints to submit; its log key
(still in its key store) signs the checkpoints of a forked history. Every
cosignature is checked as the specification says, by ``_spec_verify``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col

from api import create_app
from registry.authorities import keys_of
from registry.crypto.multikey import decode_public_multikey
from registry.federation.evidence import verify_evidence
from registry.federation.witness import SIZE_TYPE
from registry.settings import Settings
from registry.storage.db import alembic_config, engine_scope, schema_status, session_scope
from registry.storage.models import Authority, WitnessState
from registry.tlog.checkpoint import Checkpoint, sign_note
from registry.tlog.note import witness_name
from tests._federation import log_note, log_signer, note_size
from tests._support import seed_demo_node
from tests.test_cosignature import _spec_verify
from tests.test_grouping import _credit

LOG = "CN-SH"
WITNESSES = ("CN-AH", "CN-JS", "CN-ZJ")
PATH = "/v1/witness/add-checkpoint"


class Witness:
    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client = client
        self.settings = settings
        self.tokens = tokens
        self.issued = 0

    def add(self, old: int, note: str, proof: list[bytes] | None = None) -> Any:
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof or [])
        return self.client.post(PATH, content=f"old {old}\n{lines}\n{note}".encode())

    def proof(self, first: int, second: int) -> list[bytes]:
        answer = self.client.get(
            f"/v1/logs/{LOG}/proof/consistency", params={"first": first, "second": second}
        ).json()
        return [base64.b64decode(h) for h in answer["hashes"]]

    def issue(self) -> None:
        """A record of Shanghai's, issued while this node hosts it again."""
        self.host(True)
        headers = {"Authorization": f"Bearer {self.tokens[f'issuer:{LOG}']}"}
        made = self.client.post("/v1/credentials", json=_credit(self.issued), headers=headers)
        assert made.status_code == 201, made.text
        self.issued += 1
        self.host(False)

    def host(self, hosted: bool) -> None:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            s.execute(update(Authority).where(col(Authority.code) == LOG).values(hosted=hosted))

    def note(self) -> str:
        return log_note(self.client, LOG)

    def state(self) -> WitnessState | None:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return s.get(WitnessState, f"{self.settings.log_origin_prefix}/{LOG}")

    def witness_keys(self) -> dict[str, Any]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return {
                witness_name(self.settings.log_origin_prefix, code): decode_public_multikey(
                    k.public_key_multibase
                )
                for code in WITNESSES
                for k in keys_of(s, code)
                if k.purpose == "witness"
            }


@pytest.fixture
def witness(settings: Settings) -> Iterator[Witness]:
    tokens = seed_demo_node(settings, records=False)
    with TestClient(create_app(settings)) as client:
        node = Witness(client, settings, tokens)
        node.issue()
        yield node


def _cosigned(witness: Witness, answer: Any, note: str) -> dict[str, int]:
    assert answer.status_code == 200, answer.text
    text = note.split("\n\n", 1)[0] + "\n"
    keys = witness.witness_keys()
    lines = answer.text.splitlines(keepends=True)
    assert all(line.startswith("\u2014 ") and line.endswith("\n") for line in lines)
    return {
        line.split(" ")[1]: _spec_verify(line, text, line.split(" ")[1], keys[line.split(" ")[1]])
        for line in lines
    }


def test_a_witness_cosigns_each_checkpoint_that_extends_the_last_and_never_goes_back(
    witness: Witness,
) -> None:
    first = witness.note()
    times = _cosigned(witness, witness.add(0, first), first)
    assert sorted(times) == sorted(witness.witness_keys())
    assert all(abs(t - datetime.now(UTC).timestamp()) < 60 for t in times.values())
    size = note_size(first)
    state = witness.state()
    assert state is not None
    assert (state.tree_size, state.note) == (size, first)
    # A client that does not know what was cosigned learns it from the 409.
    stale = witness.add(0, first)
    assert stale.status_code == 409
    assert stale.headers["content-type"] == SIZE_TYPE
    assert stale.text == f"{size}\n"
    # The same checkpoint again is cosigned again.
    _cosigned(witness, witness.add(size, first), first)
    witness.issue()
    witness.issue()
    second = witness.note()
    grown = note_size(second)
    bad = witness.proof(size, grown)
    bad[0] = bytes(32)
    assert witness.add(size, second, bad).status_code == 422
    assert witness.add(size, second, []).status_code == 422
    _cosigned(witness, witness.add(size, second, witness.proof(size, grown)), second)
    state = witness.state()
    assert state is not None
    assert state.tree_size == grown
    # The older checkpoint can no longer be cosigned: the witness never goes back.
    assert witness.add(size, first).text == f"{grown}\n"
    assert witness.add(grown, first).status_code == 400


def test_a_fork_is_refused_and_kept_as_evidence(witness: Witness) -> None:
    note = witness.note()
    size = note_size(note)
    _cosigned(witness, witness.add(0, note), note)
    other = Checkpoint(
        origin=f"{witness.settings.log_origin_prefix}/{LOG}", size=size, root=bytes(range(32))
    )
    forked = sign_note(other.text(), other.origin, log_signer(witness.settings, LOG))
    refused = witness.add(size, forked)
    assert refused.status_code == 409
    assert refused.headers["content-type"] != SIZE_TYPE
    state = witness.state()
    assert state is not None
    assert (state.tree_size, state.note) == (size, note)  # unmoved
    assert state.conflict is not None
    assert "two roots for size" in verify_evidence(json.loads(state.conflict))


def test_what_a_witness_refuses(witness: Witness) -> None:
    note = witness.note()
    body, _, signature = note.rpartition("\u2014 ")
    name, encoded = signature.split(" ")
    blob = bytearray(base64.b64decode(encoded))
    blob[-1] ^= 1
    forged = f"{body}\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n"
    assert witness.add(0, forged).status_code == 403
    # Signed by another key under the log's name: no key the trust list names signed it.
    text = note.split("\n\n", 1)[0] + "\n"
    stranger = sign_note(text, text.split("\n")[0], log_signer(witness.settings, "CN-JS"))
    assert witness.add(0, stranger).status_code == 403
    # A log this node hosts (Jiangsu's), or no member's: not followed, 404.
    prefix = witness.settings.log_origin_prefix
    for origin, signer in ((f"{prefix}/CN-JS", "CN-JS"), ("elsewhere.example/log", "CN-JS")):
        checkpoint = Checkpoint(origin=origin, size=1, root=bytes(32))
        signed = sign_note(checkpoint.text(), origin, log_signer(witness.settings, signer))
        assert witness.add(0, signed).status_code == 404
    for body_text in (
        b"",
        b"old 01\n\n" + note.encode(),
        b"old 1\nnot base64!\n\n" + note.encode(),
        b"\xff",
    ):
        assert witness.client.post(PATH, content=body_text).status_code == 400
    assert witness.add(note_size(note) + 1, note).status_code == 400
    assert witness.add(0, note, [bytes(32)]).status_code == 422
    assert witness.client.post(PATH, content=b"x" * 20_000).status_code == 413
    assert witness.state() is None  # nothing was cosigned


def test_a_witness_database_does_not_go_below_witnessing(witness: Witness) -> None:
    """Going below migration 0018 would forget what the node cosigned: refused."""
    note = witness.note()
    _cosigned(witness, witness.add(0, note), note)
    with engine_scope(witness.settings.database_url) as engine:
        with pytest.raises(RuntimeError, match="witness"):
            command.downgrade(alembic_config(engine), "0017")
        assert schema_status(engine).at_head

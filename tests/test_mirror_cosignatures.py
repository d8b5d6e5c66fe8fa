"""A mirror keeps the cosignatures the other members' witnesses gave the peer's
checkpoints, from its polls and from the origin's notices, and serves them as the
origin does; the origin sends its notice again when its newest checkpoint gains
cosignatures (``registry.federation.cosigning.keep_note_cosignatures``, ``follower``,
``notices``). On PostgreSQL and SQLite: the peer is the seeded demo node, whose
witness keys of the other members cosign its Jiangsu log's checkpoints here; the
follower is a node with a fresh database of the same kind."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from api import create_app
from registry.authorities import own_signer
from registry.crypto.keys import Ed25519Signer, Signer
from registry.federation.cosigning import witnessed
from registry.federation.follower import follow_once
from registry.federation.notices import Notifier, Outgoing
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Authority, LogCheckpoint, LogCosignature
from registry.tlog.checkpoint import (
    Checkpoint,
    cosign,
    parse_checkpoint,
    sign_note,
    with_cosignatures,
)
from registry.tokens import create_token
from registry.trust.chain import TrustListVersion
from registry.trust.store import current_version
from tests._federation import (
    FOLLOWED,
    fresh_database,
    log_note,
    log_signer,
    peer_client,
    take_trust_list,
)
from tests._support import seed_demo_node

WITNESSES = ("CN-SH", "CN-ZJ", "CN-AH")
"""The members whose witnesses cosign Jiangsu's log."""


class Nodes:
    """The peer (the seeded demo node, hosting Jiangsu's log) and a follower of it."""

    def __init__(
        self, peer: Settings, client: TestClient, tokens: dict[str, str], follower: Settings
    ) -> None:
        self.peer = peer
        self.client = client
        self.tokens = tokens
        self.follower = follower
        # The seeded node's checkpoints are cosigned already: these tests decide who
        # cosigns Jiangsu's, and when.
        with engine_scope(peer.database_url) as engine, session_scope(engine) as session:
            session.execute(
                sa.delete(LogCosignature).where(col(LogCosignature.authority_code) == FOLLOWED)
            )
        with engine_scope(follower.database_url) as engine, session_scope(engine) as session:
            take_trust_list(session, peer)
            trust = current_version(session)
        assert trust is not None
        self.trust: TrustListVersion = trust
        self.names = {
            m.code: m.witness.name for m in trust.content.members if m.witness is not None
        }

    def note(self) -> str:
        """Jiangsu's checkpoint as the peer serves it, cosignatures and all."""
        return log_note(self.client, FOLLOWED)

    def bare(self) -> str:
        """Jiangsu's newest checkpoint as its log signed it."""
        with engine_scope(self.peer.database_url) as engine, session_scope(engine) as session:
            row = session.exec(
                select(LogCheckpoint)
                .where(col(LogCheckpoint.authority_code) == FOLLOWED)
                .order_by(col(LogCheckpoint.tree_size).desc())
            ).first()
            assert row is not None
            return row.note

    def cosignature(
        self, code: str, note: str | None = None, *, signer: Signer | None = None
    ) -> str:
        """A line of ``code``'s witness cosigning ``note`` (the newest checkpoint), with
        the witness key the peer holds for it, or ``signer``."""
        text = (note or self.bare()).split("\n\n", 1)[0] + "\n"
        if signer is None:
            store = IssuingContext.for_node(self.peer).key_store
            with engine_scope(self.peer.database_url) as engine, session_scope(engine) as s:
                signer = own_signer(
                    s, store, code, purpose="witness", credential_type=None, at=datetime.now(UTC)
                ).signer
        return cosign(text, self.names[code], signer, timestamp=int(datetime.now(UTC).timestamp()))

    def serve(self, lines: list[str]) -> None:
        """The peer serves ``lines`` with its newest checkpoint of Jiangsu's log, as
        its cosigner keeps what the witnesses answer."""
        size = _size(self.bare())
        with engine_scope(self.peer.database_url) as engine, session_scope(engine) as session:
            for line in lines:
                session.add(
                    LogCosignature(
                        authority_code=FOLLOWED,
                        tree_size=size,
                        witness=line.split(" ")[1],
                        cosigned_at=datetime.now(UTC),
                        line=line,
                        received_at=datetime.now(UTC),
                    )
                )

    def follow(self) -> Any:
        """One step of following Jiangsu's log, as the follower polls."""
        member = self.trust.content.member(FOLLOWED)
        assert member is not None
        client = peer_client(self.client, self.tokens["federation"])
        with engine_scope(self.follower.database_url) as engine, session_scope(engine) as session:
            state = follow_once(session, member=member, trust=self.trust, client=client)
            session.flush()
            return (state.state, state.tree_size, state.last_error)

    def kept(self) -> dict[str, str]:
        """The cosignature lines the follower keeps of the newest checkpoint, by key."""
        size = _size(self.bare())
        with engine_scope(self.follower.database_url) as engine, session_scope(engine) as s:
            return {
                row.witness: row.line
                for row in s.exec(
                    select(LogCosignature).where(
                        col(LogCosignature.authority_code) == FOLLOWED,
                        col(LogCosignature.tree_size) == size,
                    )
                )
            }


def _size(note: str) -> int:
    return parse_checkpoint(note.split("\n\n", 1)[0] + "\n").size


def _altered(line: str) -> str:
    """The line with the last byte of its signature changed (key ID and time kept)."""
    dash, name, encoded = line.rstrip("\n").split(" ")
    blob = bytearray(base64.b64decode(encoded))
    blob[-1] ^= 1
    return f"{dash} {name} {base64.b64encode(bytes(blob)).decode('ascii')}\n"


@pytest.fixture
def nodes(
    settings: Settings, db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Nodes]:
    tokens = seed_demo_node(settings)
    with (
        fresh_database(db_url, request, tmp_path) as url,
        TestClient(create_app(settings)) as client,
    ):
        follower = settings.model_copy(
            update={"data_dir": tmp_path / "follower", "database_url": url}
        )
        yield Nodes(settings, client, tokens, follower)


def test_a_follower_keeps_the_cosignatures_its_poll_brings_and_serves_them(nodes: Nodes) -> None:
    nodes.serve([nodes.cosignature("CN-SH"), nodes.cosignature("CN-ZJ")])
    assert nodes.follow()[0] == "current"
    assert sorted(nodes.kept()) == sorted(nodes.names[c] for c in ("CN-SH", "CN-ZJ"))
    # A later poll of the same checkpoint brings another witness's: kept as well.
    nodes.serve([nodes.cosignature("CN-AH")])
    assert nodes.follow()[0] == "current"
    assert sorted(nodes.kept()) == sorted(nodes.names[c] for c in WITNESSES)
    # The mirror keeps the note as the log signed it, and serves it with each line once.
    with (
        engine_scope(nodes.follower.database_url) as engine,
        session_scope(engine) as session,
    ):
        held = session.get(LogCheckpoint, (FOLLOWED, _size(nodes.bare())))
        assert held is not None
        assert held.note == nodes.bare()
    with TestClient(create_app(nodes.follower)) as follower:
        served = log_note(follower, FOLLOWED)
    assert served.startswith(nodes.bare())
    assert sorted(served[len(nodes.bare()) :].splitlines(keepends=True)) == sorted(
        nodes.kept().values()
    )
    cosigners, needed = witnessed(nodes.trust.content, FOLLOWED, served)
    assert sorted(cosigners) == sorted(WITNESSES)
    assert len(cosigners) >= needed


def test_a_cosignature_that_does_not_verify_is_not_kept_and_following_goes_on(
    nodes: Nodes, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = Ed25519Signer(Ed25519PrivateKey.generate())
    nodes.serve(
        [
            _altered(nodes.cosignature("CN-SH")),
            # Zhejiang's witness name with a key the trust list does not name.
            nodes.cosignature("CN-ZJ", signer=stranger),
            nodes.cosignature("CN-AH"),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="registry.federation.cosigning"):
        state, size, error = nodes.follow()
    assert (state, size, error) == ("current", _size(nodes.bare()), None)
    assert list(nodes.kept()) == [nodes.names["CN-AH"]]
    (logged,) = [r.getMessage() for r in caplog.records]
    assert logged.startswith(f"{FOLLOWED}'s checkpoint {size}: ")
    assert logged.endswith(f"the cosignature of {nodes.names['CN-SH']} does not verify; not kept")


def test_a_notice_brings_the_cosignatures_of_a_checkpoint_already_held(nodes: Nodes) -> None:
    bare = nodes.bare()
    with engine_scope(nodes.follower.database_url) as engine, session_scope(engine) as session:
        token = create_token(session, "federation", name="peer CN-JS")[1]

    def notice(note: str) -> None:
        answer = follower.post(
            "/v1/federation/notices",
            json={"authority": FOLLOWED, "checkpoint": note},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 202, answer.text

    with TestClient(create_app(nodes.follower)) as follower:
        # Before the mirror holds the checkpoint: nothing to keep them with.
        notice(with_cosignatures(bare, [nodes.cosignature("CN-SH")]))
        assert nodes.kept() == {}
        assert nodes.follow()[0] == "current"
        assert nodes.kept() == {}
        # The same size again, cosigned: kept; then with one more, and one altered.
        notice(with_cosignatures(bare, [nodes.cosignature("CN-SH")]))
        assert list(nodes.kept()) == [nodes.names["CN-SH"]]
        notice(
            with_cosignatures(
                bare,
                [
                    nodes.cosignature("CN-SH"),
                    nodes.cosignature("CN-ZJ"),
                    _altered(nodes.cosignature("CN-AH")),
                ],
            )
        )
        assert sorted(nodes.kept()) == sorted(nodes.names[c] for c in ("CN-SH", "CN-ZJ"))
        # A checkpoint of the size held over another root, cosigned by Anhui's witness:
        # signed by the log key, but not the one held, so its cosignature is not kept.
        held = parse_checkpoint(bare.split("\n\n", 1)[0] + "\n")
        other = Checkpoint(origin=held.origin, size=held.size, root=bytes(32))
        forged = _log_signed(nodes, other)
        notice(with_cosignatures(forged, [nodes.cosignature("CN-AH", forged)]))
        assert sorted(nodes.kept()) == sorted(nodes.names[c] for c in ("CN-SH", "CN-ZJ"))


def _log_signed(nodes: Nodes, checkpoint: Checkpoint) -> str:
    return sign_note(
        checkpoint.text(),
        checkpoint.origin,
        log_signer(nodes.peer, FOLLOWED),
        timestamp=int(datetime.now(UTC).timestamp()),
    )


def test_the_origin_sends_its_notice_again_once_its_newest_checkpoint_is_cosigned(
    nodes: Nodes,
) -> None:
    # Anhui a peer of the node (hosted elsewhere), to be told of the logs it hosts.
    with engine_scope(nodes.peer.database_url) as engine, session_scope(engine) as session:
        session.execute(
            update(Authority).where(col(Authority.code) == "CN-AH").values(hosted=False)
        )
    sent: list[Outgoing] = []

    def send(notice: Outgoing, _token: str) -> None:
        sent.append(notice)

    with (
        engine_scope(nodes.peer.database_url) as engine,
        Notifier(engine, lambda: {"CN-AH": "granted"}, send=send) as notifier,
    ):

        def deliver() -> list[Outgoing]:
            due = notifier.due()
            notifier._deliver("CN-AH", due, "granted")
            return due

        first = {n.authority: n for n in deliver()}
        assert sorted(first) == ["CN-JS", "CN-SH", "CN-ZJ"]
        assert first[FOLLOWED].note == nodes.bare()
        assert first[FOLLOWED].cosigned == 0
        assert notifier.due() == []
        # Jiangsu's newest checkpoint cosigned: told again, with the lines.
        lines = [nodes.cosignature("CN-SH"), nodes.cosignature("CN-ZJ")]
        nodes.serve(lines)
        (again,) = deliver()
        assert (again.authority, again.size, again.cosigned) == (FOLLOWED, first[FOLLOWED].size, 2)
        assert again.note == nodes.note()
        assert again.note == with_cosignatures(nodes.bare(), sorted(lines, key=_name))
        assert notifier.due() == []
    assert len(sent) == 4


def _name(line: str) -> str:
    return line.split(" ")[1]

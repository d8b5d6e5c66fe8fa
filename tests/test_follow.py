"""A following node's check of a peer log, against a real node's API: a checkpoint and
its entries are kept only when the checkpoint verifies with the log key the trust
list names, every entry verifies against the trust list, and the entries hash to the
checkpoint's root from the tree verified before. Two checkpoints of one log that
cannot both be true are a fork (RFC 9162 §2.1; C2SP signed-note and tlog-checkpoint)."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from registry.authorities import own_signer
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.crypto.jcs import canonical_bytes
from registry.errors import FollowError
from registry.federation import (
    Frontier,
    conflict,
    fork_evidence,
    verify_evidence,
    verify_extension,
)
from registry.federation.follow import extend_checked
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_note
from registry.tlog.merkle import leaf_hash, node_hash
from registry.tlog.note import parse_verifier_key
from registry.trust.chain import TrustListVersion
from registry.trust.store import current_version
from tests._federation import log_entries, log_note, log_signer, note_size
from tests._support import run_command, seed_demo_node

AUTHORITY = "CN-JS"


class Peer:
    """A seeded demo node, read as a following node reads a peer: over HTTP."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens
        with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
            trust = current_version(session)
        assert trust is not None
        self.trust: TrustListVersion = trust
        member = next(m for m in trust.content.members if m.code == AUTHORITY)
        self.origin = member.log.origin
        self.log_keys = [parse_verifier_key(member.log.verifier_key)]

    def note(self) -> str:
        return log_note(self.client, AUTHORITY)

    def entries(self, start: int, end: int) -> list[dict[str, Any]]:
        return log_entries(self.client, self.tokens["federation"], AUTHORITY, start, end)

    def follow(
        self, note: str, entries: list[dict[str, Any]], frontier: Frontier | None = None
    ) -> Any:
        return verify_extension(
            authority=AUTHORITY,
            origin=self.origin,
            log_keys=self.log_keys,
            trust=self.trust,
            frontier=frontier or Frontier(),
            note=note,
            entries=entries,
        )

    def log_signer(self) -> Any:
        """The peer's own log key: what a node that rewrites its log signs with."""
        return log_signer(self.settings, AUTHORITY)


@pytest.fixture
def peer(settings: Settings) -> Iterator[Peer]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Peer(settings, client, tokens)


def test_a_peer_log_is_followed_in_steps_to_the_same_root(peer: Peer) -> None:
    """Verified whole, or from a frontier kept at an earlier checkpoint: the same root,
    every credential in log order."""
    note = peer.note()
    size = note_size(note)
    entries = peer.entries(0, size)
    whole = peer.follow(note, entries)
    assert whole.frontier.size == size
    assert whole.frontier.root() == whole.checkpoint.root
    assert [d["id"] for d in whole.documents] == [e["id"] for e in entries]
    # In two steps, the first up to a frontier stored and read back as a node keeps it.
    half = size // 2
    first = Frontier().extend([leaf_hash(canonical_bytes(e)) for e in entries[:half]])
    kept = Frontier.from_json(first.to_json())
    assert kept == first
    second = peer.follow(note, entries[half:], kept)
    assert second.frontier == whole.frontier


def test_a_tampered_batch_is_refused_whole(peer: Peer) -> None:
    """An entry changed after signing, one left out, two swapped, or a checkpoint not
    signed by the log's key: the batch is refused, naming what failed."""
    note = peer.note()
    size = note_size(note)
    entries = peer.entries(0, size)

    changed = copy.deepcopy(entries)
    changed[3]["credentialSubject"]["category"] = "other"
    with pytest.raises(FollowError, match="entry 3 does not verify"):
        peer.follow(note, changed)

    with pytest.raises(FollowError, match="entries given"):
        peer.follow(note, entries[:-1])

    swapped = [entries[1], entries[0], *entries[2:]]
    with pytest.raises(FollowError, match="do not hash to the checkpoint"):
        peer.follow(note, swapped)

    other = next(m for m in peer.trust.content.members if m.code == "CN-SH")
    with pytest.raises(FollowError, match="checkpoint does not verify"):
        verify_extension(
            authority=AUTHORITY,
            origin=peer.origin,
            log_keys=[parse_verifier_key(other.log.verifier_key)],
            trust=peer.trust,
            frontier=Frontier(),
            note=note,
            entries=entries,
        )

    # An entry of another authority's, even correctly signed, is not this log's.
    foreign = peer.client.get(
        "/v1/logs/CN-SH/entries",
        params={"start": 0, "end": 1},
        headers={"Authorization": f"Bearer {peer.tokens['federation']}"},
    ).json()["entries"][0]["leaf"]
    with pytest.raises(FollowError, match="not CN-JS"):
        peer.follow(note, [foreign, *entries[1:]])


def test_a_rewritten_log_is_a_fork(peer: Peer) -> None:
    """The log's own key signing another root for a size already verified (a log
    rewritten and re-signed) cannot be followed: the two checkpoints are a fork."""
    note = peer.note()
    good = peer.follow(note, peer.entries(0, note_size(note)))
    forged = Checkpoint(
        good.checkpoint.origin, good.checkpoint.size, node_hash(b"x" * 32, b"y" * 32)
    )
    forged_note = sign_note(
        forged.text(),
        good.checkpoint.origin,
        peer.log_signer(),
        timestamp=int(datetime.now(UTC).timestamp()),
    )
    assert conflict(good.checkpoint, parse_checkpoint(forged.text())) == (
        f"two roots for size {good.checkpoint.size}"
    )
    with pytest.raises(FollowError, match="do not hash to the checkpoint"):
        peer.follow(forged_note, peer.entries(0, forged.size))
    assert conflict(good.checkpoint, good.checkpoint) is None


def _verify_file(tmp_path: Path, evidence: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "fork.json"
    path.write_text(json.dumps(evidence), encoding="utf-8")
    return run_command(
        ["federation", "evidence", "verify", str(path)],
        {"REGISTRY_DATA_DIR": str(tmp_path / "elsewhere"), "COLUMNS": "200"},
    )


def test_fork_evidence_verifies_without_either_node(peer: Peer, tmp_path: Path) -> None:
    """A fork is kept as a file that proves it to anyone holding the log's verifier key
    (C2SP signed-note; RFC 9162 tree hashes): two roots for one size, or two sizes whose
    larger tree does not begin with the smaller. `registry federation evidence verify`
    confirms it, and refuses a file that proves nothing."""
    note = peer.note()
    size = note_size(note)
    entries = peer.entries(0, size)
    good = peer.follow(note, entries)
    member = next(m for m in peer.trust.content.members if m.code == AUTHORITY)
    stamp = int(datetime.now(UTC).timestamp())

    def signed(checkpoint: Checkpoint) -> str:
        return sign_note(checkpoint.text(), peer.origin, peer.log_signer(), timestamp=stamp)

    # One size, two roots.
    rewritten = Checkpoint(peer.origin, size, node_hash(b"x" * 32, b"y" * 32))
    evidence = fork_evidence(
        origin=peer.origin, verifier_key=member.log.verifier_key, notes=(note, signed(rewritten))
    )
    answer = _verify_file(tmp_path, evidence)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert f"two roots for size {size}" in answer.stdout

    # Two sizes: a longer tree that rewrote entry 0 before appending one more.
    leaves = [leaf_hash(canonical_bytes(e)) for e in entries]
    other = [leaf_hash(b"rewritten"), *leaves[1:], leaf_hash(b"appended")]
    longer = Checkpoint(peer.origin, size + 1, Frontier().extend(other).root())
    evidence = fork_evidence(
        origin=peer.origin,
        verifier_key=member.log.verifier_key,
        notes=(note, signed(longer)),
        leaf_hashes=other,
    )
    assert verify_evidence(json.loads(json.dumps(evidence))).endswith(
        f"does not begin with that of size {size}"
    )
    assert _verify_file(tmp_path, evidence).returncode == 0

    # An honest extension is no fork; nor is a note the key did not sign.
    honest = [*leaves, leaf_hash(b"appended")]
    grown = Checkpoint(peer.origin, size + 1, Frontier().extend(honest).root())
    with pytest.raises(FollowError, match="is a prefix"):
        fork_evidence(
            origin=peer.origin,
            verifier_key=member.log.verifier_key,
            notes=(note, signed(grown)),
            leaf_hashes=honest,
        )
    forged = {**evidence, "checkpoints": [note, signed(longer).replace("— ", "— x", 1)]}
    refused = _verify_file(tmp_path, forged)
    assert refused.returncode == 1
    assert "does not verify" in refused.stdout + refused.stderr
    assert good.checkpoint.size == size


def test_an_entry_signed_outside_its_keys_window_is_refused(peer: Peer) -> None:
    """The peer re-signs an entry with its own issuing key, dated before the trust list
    made that key valid, logs it and signs the checkpoint with its own log key: every
    signature holds, and the batch is still refused, naming the entry."""
    note = peer.note()
    entries = peer.entries(0, note_size(note))
    index = next(i for i, e in enumerate(entries) if "SafetyEngineerQualification" in e["type"])
    before = datetime(2020, 1, 1, tzinfo=UTC)
    unsigned = {k: v for k, v in entries[index].items() if k != "proof"}
    unsigned["validFrom"] = "2020-01-01T00:00:00Z"
    store = IssuingContext.for_node(peer.settings).key_store
    with engine_scope(peer.settings.database_url) as engine, session_scope(engine) as session:
        signer = own_signer(
            session,
            store,
            AUTHORITY,
            purpose="issuing",
            credential_type="SafetyEngineerQualification",
            at=datetime.now(UTC),
        ).signer
    changed = [*entries]
    changed[index] = add_proof(unsigned, signer, created=before)
    root = Frontier().extend([leaf_hash(canonical_bytes(e)) for e in changed]).root()
    resigned = sign_note(
        Checkpoint(peer.origin, len(changed), root).text(),
        peer.origin,
        peer.log_signer(),
        timestamp=int(datetime.now(UTC).timestamp()),
    )
    peer.follow(note, entries)  # the log as it was follows
    with pytest.raises(FollowError, match=rf"entry {index} does not verify: .*not yet valid"):
        peer.follow(resigned, changed)


def test_a_chunk_must_pass_through_every_signed_root_held() -> None:
    """A signed checkpoint held at a size within a chunk (one an earlier chunk was
    proven against): the recomputed tree must give its root there, or the log forked."""
    leaves = [leaf_hash(bytes([n])) for n in range(7)]
    at_three = Frontier().extend(leaves[:3]).root()
    whole = Frontier().extend(leaves)
    start = Frontier().extend(leaves[:1])
    assert extend_checked(start, leaves[1:], {3: at_three, 7: whole.root()}) == whole
    assert extend_checked(start, leaves[1:], {1: b"\0" * 32, 9: b"\0" * 32}) == whole
    with pytest.raises(FollowError, match="checkpoint of size 3 verified before"):
        extend_checked(start, leaves[1:], {3: whole.root()})

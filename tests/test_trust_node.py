"""The node's trust-list workflow and key lifecycle, on PostgreSQL and SQLite."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry.authorities import (
    create_authority,
    create_witness_key,
    keys_of,
    revoke_key,
    rotate_key,
)
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.crypto.keys import KeyStore
from registry.crypto.multikey import decode_public_multikey
from registry.demo import DEMO_AUTHORITIES
from registry.errors import (
    BrokenChain,
    Conflict,
    InvalidInput,
    KeyResolutionError,
    NotFound,
    QuorumNotMet,
    StaleTrustList,
)
from registry.issuing.stored import store_credential
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import SigningKey
from registry.tlog.note import witness_key
from registry.trust.chain import TrustListVersion
from registry.trust.document import Quorum
from registry.trust.proposals import (
    Changes,
    merge_proofs,
    open_proposal,
    proposal_document,
    proposal_report,
    propose,
    publish,
    sign_document,
    sign_proposal,
    withdraw,
)
from registry.trust.store import (
    accept_version,
    current_version,
    get_version,
    member_from_node,
    stored_versions,
)
from tests._support import PROFILE, found_federation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
OTHERS = ("CN-SH", "CN-JS", "CN-AH")  # everyone but CN-ZJ


@pytest.fixture
def federation(engine: Engine, key_store: KeyStore) -> Engine:
    """The four demo authorities, created at T0, with a genesis signed by all four."""
    with session_scope(engine) as session:
        found_federation(session, key_store, now=T0)
    return engine


def _sign_and_publish(
    session: Session, key_store: KeyStore, codes: tuple[str, ...], *, now: datetime
) -> TrustListVersion:
    for code in codes:
        sign_proposal(session, key_store, code, now=now)
    return publish(session, now=now)


def _issuing(session: Session, code: str) -> list[SigningKey]:
    return [k for k in keys_of(session, code) if k.purpose == "issuing"]


def test_genesis_on_the_node(federation: Engine) -> None:
    with session_scope(federation) as session:
        current = current_version(session, at=T0)
        rows = stored_versions(session)
    assert current is not None
    assert current.version == 1
    assert rows[0].digest == current.digest
    assert sorted(current.content.codes) == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]
    member = current.content.member("CN-SH")
    assert member is not None
    assert member.log.origin == "registry.yrd.example/CN-SH"
    assert member.log.verifier_key.startswith("registry.yrd.example/CN-SH+")


def test_a_key_made_within_the_second_of_the_last_is_still_the_newest(
    federation: Engine, key_store: KeyStore
) -> None:
    """Keys are ordered by their start, to the second: two witness keys made within one
    second (a scripted ceremony) must not leave "the newest" to chance."""
    with session_scope(federation) as session:
        made = [create_witness_key(session, key_store, "CN-SH", now=T0) for _ in range(3)]
        witnesses = [k for k in keys_of(session, "CN-SH") if k.purpose == "witness"]
        assert witnesses[-3:] == made
        assert [k.valid_from for k in made] == [T0 + timedelta(seconds=n) for n in (1, 2, 3)]
        member = member_from_node(session, "CN-SH", PROFILE)
    assert member.witness is not None
    newest = decode_public_multikey(made[-1].public_key_multibase)
    assert member.witness.verifier_key == witness_key(member.witness.name, newest)


def test_rotation_end_to_end(federation: Engine, key_store: KeyStore) -> None:
    switch = T0 + 2 * HOUR
    with session_scope(federation) as session:
        (old,), new = rotate_key(session, key_store, "CN-SH", at=switch, now=T0 + HOUR)
        assert old.valid_until == switch
        assert new.valid_from == switch
        propose(
            session,
            Changes(add_keys=(new.verification_method,), retire_keys=(old.verification_method,)),
            profile=PROFILE,
            now=T0 + HOUR,
        )
        sign_proposal(session, key_store, "CN-SH", now=T0 + HOUR)
        sign_proposal(session, key_store, "CN-JS", now=T0 + HOUR)
        with pytest.raises(
            QuorumNotMet,
            match=r"2 of 4 members signed, 3 required; 1 more signature needed, "
            r"from any of CN-AH, CN-ZJ",
        ):
            publish(session, now=T0 + HOUR)
        with pytest.raises(Conflict, match="CN-JS has signed this proposal already"):
            sign_proposal(session, key_store, "CN-JS", now=T0 + HOUR)
    with session_scope(federation) as session:
        sign_proposal(session, key_store, "CN-AH", now=T0 + HOUR)
        version = publish(session, now=T0 + HOUR)
    assert version.version == 2
    listed = {k.verification_method: k for k in version.content.member("CN-SH").keys}  # type: ignore[union-attr]
    assert listed[old.verification_method].valid_until == switch
    assert listed[new.verification_method].valid_from == switch

    # What each key signed, on each side of the switch, as the node stores it.
    def qualification(signer_name: str, signed_at: datetime) -> dict[str, Any]:
        document = new_credential(
            type_="SafetyEngineerQualification",
            issuer_code="CN-SH",
            subject={"name": "张三"},
            valid_from=signed_at,
        )
        return add_proof(document, key_store.load(signer_name), created=signed_at)

    assert old.key_name is not None
    assert new.key_name is not None
    accepted = [
        qualification(old.key_name, switch - SECOND),
        qualification(new.key_name, switch),
    ]
    refused = [
        (qualification(old.key_name, switch), "retired at"),
        (qualification(new.key_name, switch - SECOND), "not yet valid"),
    ]
    for document in accepted:
        with session_scope(federation) as session:
            store_credential(session, document, now=switch + HOUR)
    for document, message in refused:
        with pytest.raises(KeyResolutionError, match=message), session_scope(federation) as s:
            store_credential(s, document, now=switch + HOUR)


def test_compromise_end_to_end(federation: Engine, key_store: KeyStore) -> None:
    since = T0 + HOUR
    with session_scope(federation) as session:
        (key,) = _issuing(session, "CN-ZJ")
        with pytest.raises(InvalidInput, match="cannot start in the future"):
            revoke_key(
                session,
                key.verification_method,
                compromised_since=T0 + 9 * HOUR,
                reason="leaked",
                now=T0 + 2 * HOUR,
            )
        revoke_key(
            session,
            key.public_key_multibase,
            compromised_since=since,
            reason="the key file was copied",
            now=T0 + 2 * HOUR,
        )
    with session_scope(federation) as session:
        with pytest.raises(Conflict, match="can only move earlier"):
            revoke_key(
                session,
                key.verification_method,
                compromised_since=since + SECOND,
                reason="later",
                now=T0 + 2 * HOUR,
            )
        # With its only key revoked here, CN-ZJ can no longer sign; the others carry it.
        propose(
            session,
            Changes(revoke_keys=(key.verification_method,)),
            profile=PROFILE,
            now=T0 + 2 * HOUR,
        )
        with pytest.raises(InvalidInput, match="holds no key of CN-ZJ"):
            sign_proposal(session, key_store, "CN-ZJ", now=T0 + 2 * HOUR)
        version = _sign_and_publish(session, key_store, OTHERS, now=T0 + 2 * HOUR)
    listed = version.content.key(key.verification_method)
    assert listed is not None
    assert listed.compromised_since == since
    assert listed.revocation_reason == "the key file was copied"
    assert key.key_name is not None
    signer = key_store.load(key.key_name)

    def listing(signed_at: datetime) -> dict[str, Any]:
        document = new_credential(
            type_="UntrustworthinessListing", issuer_code="CN-ZJ", subject={}, valid_from=signed_at
        )
        return add_proof(document, signer, created=signed_at)

    with pytest.raises(KeyResolutionError, match="compromised"), session_scope(federation) as s:
        store_credential(s, listing(since), now=T0 + 3 * HOUR)
    # Dated before the compromise but unlogged: only a checkpoint could vouch for it.
    with pytest.raises(KeyResolutionError, match="no checkpoint"), session_scope(federation) as s:
        store_credential(s, listing(since - SECOND), now=T0 + 3 * HOUR)
    # After a rotation, and once the others list the new key, CN-ZJ signs again.
    with session_scope(federation) as session:
        _, new = rotate_key(session, key_store, "CN-ZJ", now=T0 + 3 * HOUR)
        propose(
            session,
            Changes(add_keys=(new.verification_method,)),
            profile=PROFILE,
            now=T0 + 3 * HOUR,
        )
        with pytest.raises(InvalidInput, match="holds no key of CN-ZJ"):
            sign_proposal(session, key_store, "CN-ZJ", now=T0 + 3 * HOUR)
        _sign_and_publish(session, key_store, OTHERS, now=T0 + 3 * HOUR)
        propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + 4 * HOUR)
        report = sign_proposal(session, key_store, "CN-ZJ", now=T0 + 4 * HOUR)
    assert report.signers == ("CN-ZJ",)
    assert report.proofs[0].verification_method == new.verification_method


def test_rotation_refuses_the_past_and_double_scheduling(
    federation: Engine, key_store: KeyStore
) -> None:
    with session_scope(federation) as session:
        with pytest.raises(InvalidInput, match="cannot be retired in the past"):
            rotate_key(session, key_store, "CN-SH", at=T0 + HOUR, now=T0 + 2 * HOUR)
        with pytest.raises(InvalidInput, match="an issuing key may sign"):
            rotate_key(
                session, key_store, "CN-SH", allowed_types=["VerificationReport"], now=T0 + HOUR
            )
        rotate_key(session, key_store, "CN-SH", at=T0 + 5 * HOUR, now=T0 + HOUR)
        with pytest.raises(Conflict, match="already has a key scheduled"):
            rotate_key(session, key_store, "CN-SH", at=T0 + 6 * HOUR, now=T0 + 2 * HOUR)
        with pytest.raises(NotFound):
            rotate_key(session, key_store, "CN-GD", now=T0 + HOUR)


def test_proposal_rules(federation: Engine, key_store: KeyStore) -> None:
    with session_scope(federation) as session:
        with pytest.raises(InvalidInput, match="changes nothing"):
            propose(session, Changes(), profile=PROFILE, now=T0 + HOUR)
        with pytest.raises(InvalidInput, match="CN-GD is not a member"):
            propose(session, Changes(remove_members=("CN-GD",)), profile=PROFILE, now=T0)
        with pytest.raises(InvalidInput, match="strict majority"):
            propose(session, Changes(quorum=Quorum(count=2)), profile=PROFILE, now=T0)
        (key,) = _issuing(session, "CN-SH")
        with pytest.raises(InvalidInput, match="not retired here"):
            propose(session, Changes(retire_keys=(key.verification_method,)), profile=PROFILE)
        propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + HOUR)
        with pytest.raises(Conflict, match="a proposal is open already"):
            propose(session, Changes(remove_members=("CN-AH",)), profile=PROFILE)
        withdraw(session, now=T0 + HOUR)
        with pytest.raises(NotFound, match="no proposal is open"):
            open_proposal(session)


def test_membership_changes_and_joining(federation: Engine, key_store: KeyStore) -> None:
    # Fujian joins from its own node: its entry arrives as JSON, like `authority export`.
    with session_scope(federation) as session:
        create_authority(
            session,
            key_store,
            code="CN-FJ",
            name_zh="福建省应急管理厅",
            name_en="Fujian Provincial Department of Emergency Management",
            now=T0,
        )
        entry = json.loads(json.dumps(member_from_node(session, "CN-FJ", PROFILE).to_json()))
    with session_scope(federation) as session:
        row = propose(
            session,
            Changes(add_member_entries=(entry,), remove_members=("CN-AH",)),
            profile=PROFILE,
            now=T0 + HOUR,
        )
        with pytest.raises(InvalidInput, match="CN-FJ is not a member of the version"):
            sign_proposal(session, key_store, "CN-FJ", now=T0 + HOUR)
        # A member being removed still has its say on the change.
        for code in ("CN-AH", "CN-JS", "CN-ZJ"):
            sign_proposal(session, key_store, code, now=T0 + HOUR)
        assert proposal_report(session, row, at=T0 + HOUR).met
        version = publish(session, now=T0 + HOUR)
    assert version.content.codes == ("CN-JS", "CN-SH", "CN-ZJ", "CN-FJ")
    # Now Fujian signs the next version, and Anhui no longer may.
    with session_scope(federation) as session:
        propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + 2 * HOUR)
        with pytest.raises(InvalidInput, match="CN-AH is not a member"):
            sign_proposal(session, key_store, "CN-AH", now=T0 + 2 * HOUR)
        report = sign_proposal(session, key_store, "CN-FJ", now=T0 + 2 * HOUR)
    assert report.signers == ("CN-FJ",)


def test_import_pins_the_genesis_and_refuses_replays(
    federation: Engine, key_store: KeyStore, tmp_path: Path
) -> None:
    with session_scope(federation) as session:
        propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + HOUR)
        _sign_and_publish(session, key_store, ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH"), now=T0 + HOUR)
        documents = [json.loads(row.canonical) for row in stored_versions(session)]
        genesis = get_version(session, 1).digest
    # Another node, with its own database.
    other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    with engine_scope(other_url) as other:
        upgrade(other)
        with session_scope(other) as session, pytest.raises(InvalidInput, match="pin the"):
            accept_version(session, documents[0], now=T0 + 2 * HOUR)
        with session_scope(other) as session:
            accept_version(session, documents[0], genesis_digest=genesis, now=T0 + 2 * HOUR)
            accept_version(session, documents[1], now=T0 + 2 * HOUR)
        with pytest.raises(StaleTrustList, match="not newer"), session_scope(other) as session:
            accept_version(session, documents[0], now=T0 + 2 * HOUR)
        with session_scope(other) as session:
            assert [row.version for row in stored_versions(session)] == [1, 2]
            current = current_version(session)
            assert current is not None
            assert current.version == 2


def test_members_signing_at_once_both_count(
    pg_url: str, key_store: KeyStore, tmp_path: Path
) -> None:
    with engine_scope(pg_url) as engine:
        with session_scope(engine) as session:
            found_federation(session, key_store, now=T0)
            propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + HOUR)
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def sign(code: str) -> None:
            try:
                barrier.wait()
                with session_scope(engine) as session:
                    sign_proposal(session, key_store, code, now=T0 + HOUR)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sign, args=(c,)) for c, _, _ in DEMO_AUTHORITIES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with session_scope(engine) as session:
            report = proposal_report(session, open_proposal(session), at=T0 + HOUR)
        assert sorted(report.signers) == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]

        # Two proposals at once: one opens, the other is told why not.
        with session_scope(engine) as session:
            withdraw(session, now=T0 + HOUR)
        outcomes: list[str] = []

        def open_one(count: int) -> None:
            barrier.wait()
            try:
                with session_scope(engine) as session:
                    propose(session, Changes(quorum=Quorum(count=count)), profile=PROFILE)
                outcomes.append("opened")
            except Conflict as exc:
                outcomes.append(exc.message)

        barrier = threading.Barrier(2)
        racers = [threading.Thread(target=open_one, args=(n,)) for n in (3, 4)]
        for thread in racers:
            thread.start()
        for thread in racers:
            thread.join()
        assert sorted(outcomes)[-1] == "opened"
        assert "open" in sorted(outcomes)[0]
        assert sorted(outcomes)[0] != "opened"


def test_import_keeps_only_proofs_that_count_and_its_own_genesis(
    federation: Engine, key_store: KeyStore, tmp_path: Path
) -> None:
    with session_scope(federation) as session:
        genesis = json.loads(get_version(session, 1).canonical)
        digest = get_version(session, 1).digest
    junk = {**genesis["proof"][0], "verificationMethod": "did:key:z6Mkx#z6Mkx"}
    relayed = {**genesis, "proof": [*genesis["proof"], junk]}
    with engine_scope(f"sqlite:///{tmp_path / 'other.sqlite3'}") as other:
        upgrade(other)
        with session_scope(other) as session:
            accept_version(session, relayed, genesis_digest=digest, now=T0 + HOUR)
        with session_scope(other) as session:
            stored = json.loads(get_version(session, 1).canonical)
            assert stored == genesis
            with pytest.raises(BrokenChain, match="starts at genesis"):
                accept_version(session, relayed, genesis_digest="0" * 64, now=T0 + HOUR)


def test_members_on_other_nodes_sign_by_file(
    engine: Engine, key_store: KeyStore, tmp_path: Path
) -> None:
    """Node A hosts Shanghai and Jiangsu; Zhejiang signs on its own node B."""
    names = {code: (zh, en) for code, zh, en in DEMO_AUTHORITIES}
    b_keys = KeyStore(tmp_path / "b-keys", passphrase=b"node b passphrase")
    with engine_scope(f"sqlite:///{tmp_path / 'b.sqlite3'}") as node_b:
        upgrade(node_b)
        with session_scope(node_b) as b:
            zh, en = names["CN-ZJ"]
            create_authority(b, b_keys, code="CN-ZJ", name_zh=zh, name_en=en, now=T0)
            entry = json.loads(json.dumps(member_from_node(b, "CN-ZJ", PROFILE).to_json()))
        with session_scope(engine) as a:
            for code in ("CN-SH", "CN-JS"):
                create_authority(
                    a, key_store, code=code, name_zh=names[code][0], name_en=names[code][1], now=T0
                )
            row = propose(a, Changes(add_member_entries=(entry,)), profile=PROFILE, now=T0)
            sign_proposal(a, key_store, "CN-SH", now=T0)
            sign_proposal(a, key_store, "CN-JS", now=T0)
            with pytest.raises(InvalidInput, match="holds no key of CN-ZJ"):
                sign_proposal(a, key_store, "CN-ZJ", now=T0)
            sent = proposal_document(row)
        with session_scope(node_b) as b:
            signed, report = sign_document(b, b_keys, sent, "CN-ZJ", now=T0 + HOUR)
        assert report.met  # A's two proofs travelled with the file; B added its own
        assert report.signers == ("CN-JS", "CN-SH", "CN-ZJ")
        with session_scope(engine) as a:
            junk = {**signed, "credentialSubject": {**signed["credentialSubject"], "version": 9}}
            with pytest.raises(InvalidInput, match="something else"):
                merge_proofs(a, junk, now=T0 + HOUR)
            merged = merge_proofs(a, signed, now=T0 + HOUR)
            assert merged.signers == ("CN-JS", "CN-SH", "CN-ZJ")
            genesis = publish(a, now=T0 + HOUR)
        # B signs the next version from a file again, once it follows the chain.
        with session_scope(engine) as a:
            row = propose(a, Changes(remove_members=("CN-JS",)), profile=PROFILE, now=T0 + 2 * HOUR)
            sent = proposal_document(row)
        with session_scope(node_b) as b:
            with pytest.raises(InvalidInput, match="this node has no trust list"):
                sign_document(b, b_keys, sent, "CN-ZJ", now=T0 + 2 * HOUR)
            accept_version(b, genesis.document, genesis_digest=genesis.digest, now=T0 + HOUR)
            signed, _ = sign_document(b, b_keys, sent, "CN-ZJ", now=T0 + 2 * HOUR)
        with session_scope(engine) as a:
            sign_proposal(a, key_store, "CN-SH", now=T0 + 2 * HOUR)
            merge_proofs(a, signed, now=T0 + 2 * HOUR)
            assert publish(a, now=T0 + 2 * HOUR).content.codes == ("CN-SH", "CN-ZJ")


def test_merging_keeps_the_proposal_publishable(federation: Engine, key_store: KeyStore) -> None:
    with session_scope(federation) as session:
        row = propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + HOUR)
        copy, _ = sign_document(session, key_store, proposal_document(row), "CN-SH", now=T0 + HOUR)
        sign_proposal(session, key_store, "CN-SH", now=T0 + HOUR + SECOND)
        # Shanghai's second proof, from the copy, is not kept: it would not count.
        report = merge_proofs(session, copy, now=T0 + HOUR)
        assert [p.counted for p in report.proofs] == [True]
        version = _sign_and_publish(session, key_store, ("CN-JS", "CN-ZJ"), now=T0 + HOUR)
    assert len(version.report.proofs) == 3


def test_a_proof_that_would_not_count_is_not_made(engine: Engine, key_store: KeyStore) -> None:
    with session_scope(engine) as session:
        found_federation(session, key_store, now=T0, genesis=False)
        # The genesis takes effect four minutes after it is signed (within clock skew).
        propose(session, Changes(valid_from=T0 + 4 * 60 * SECOND), profile=PROFILE, now=T0)
        _sign_and_publish(session, key_store, ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH"), now=T0)
        propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + SECOND)
        with pytest.raises(InvalidInput, match=r"proof would not count: .*before the version"):
            sign_proposal(session, key_store, "CN-SH", now=T0 + SECOND)
        assert proposal_report(session, open_proposal(session), at=T0 + SECOND).proofs == ()


def test_no_signature_is_lost_on_sqlite(sqlite_url: str, key_store: KeyStore) -> None:
    with engine_scope(sqlite_url) as engine:
        with session_scope(engine) as session:
            found_federation(session, key_store, now=T0)
            propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=T0 + HOUR)
        barrier = threading.Barrier(4)
        retries: list[str] = []

        def sign(code: str) -> None:
            barrier.wait()
            while True:
                try:
                    with session_scope(engine) as session:
                        sign_proposal(session, key_store, code, now=T0 + HOUR)
                    return
                except Conflict:
                    retries.append(code)  # told to sign again: nothing was lost

        threads = [threading.Thread(target=sign, args=(c,)) for c, _, _ in DEMO_AUTHORITIES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with session_scope(engine) as session:
            report = proposal_report(session, open_proposal(session), at=T0 + HOUR)
    assert sorted(report.signers) == ["CN-AH", "CN-JS", "CN-SH", "CN-ZJ"]

"""Signing, storing and logging in one transaction."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from registry.authorities import (
    HeldKey,
    create_node_key,
    database_keys,
    held_signer,
    keys_of,
    revoke_key,
    rotate_key,
)
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import resolve_did_key, verify_proof
from registry.crypto.keys import KeyStore
from registry.errors import InvalidInput, KeyStoreError
from registry.ids import LookupSecrets
from registry.issuing.signing import sign_and_log
from registry.storage.db import session_scope
from registry.storage.models import LogEntry, SigningKey, StoredCredential
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tlog.reader import inclusion, root_at
from registry.trust.document import Quorum
from registry.trust.proposals import Changes, propose, seed_genesis, sign_proposal
from registry.verification import EngineerVerifier
from tests._support import PROFILE, TEST_PASSPHRASE, found_federation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PREFIX = PROFILE.log_origin_prefix


@pytest.fixture
def federation(engine: Engine, key_store: KeyStore) -> Engine:
    with session_scope(engine) as session:
        found_federation(session, key_store, now=T0)
    return engine


def _unsigned(issuer: str = "CN-SH", kind: str = "SafetyEngineerQualification") -> dict[str, Any]:
    return new_credential(type_=kind, issuer_code=issuer, subject={"name": "王五"}, valid_from=T0)


def test_issued_credentials_are_signed_stored_and_logged(
    federation: Engine, key_store: KeyStore
) -> None:
    documents = [_unsigned(), _unsigned(kind="ContinuingEducationCredit"), _unsigned()]
    with session_scope(federation) as session:
        issued = sign_and_log(session, key_store, documents, origin_prefix=PREFIX, now=T0)
        assert (issued.log.first_index, issued.log.size) == (0, 3)
        for index, row in enumerate(issued.credentials):
            leaf = row.canonical.encode()
            found, proof = inclusion(session, "CN-SH", leaf_hash(leaf), 3)
            assert found == index
            verify_inclusion(leaf_hash(leaf), index, 3, proof, root_at(session, "CN-SH", 3))
    for row in issued.credentials:
        # Any eddsa-jcs-2022 verifier accepts it (the did:key names the key).
        verify_proof(json.loads(row.canonical), resolve_key=resolve_did_key)


def test_credential_ids_are_time_ordered_uuids_of_version_7(
    federation: Engine, key_store: KeyStore
) -> None:
    # Time-ordered: the indexes keyed by credential id grow at their end.
    with session_scope(federation) as session:
        first = sign_and_log(session, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0)
    time.sleep(0.002)  # ids a millisecond apart are ordered by their time alone
    with session_scope(federation) as session:
        later = [_unsigned() for _ in range(200)]
        sign_and_log(session, key_store, later, origin_prefix=PREFIX, now=T0)
    ids = [first.credentials[0].id, *(d["id"] for d in later)]
    parsed = [uuid.UUID(i.removeprefix("urn:uuid:")) for i in ids]
    assert all(i.startswith("urn:uuid:") for i in ids)
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert len(set(parsed)) == len(parsed)
    assert all(parsed[0] < u for u in parsed[1:])
    # The first 48 bits are the time in milliseconds: now, not a fixed or guessed value.
    assert abs((parsed[0].int >> 80) - time.time() * 1000) < 60_000
    # 74 random bits: two ids of one millisecond still differ in them.
    assert len({u.int & ((1 << 62) - 1) for u in parsed}) == len(parsed)


def test_a_failing_batch_writes_nothing(federation: Engine, key_store: KeyStore) -> None:
    bad = [_unsigned(), _unsigned("CN-JS")]
    with pytest.raises(InvalidInput, match="one authority"), session_scope(federation) as s:
        sign_and_log(s, key_store, bad, origin_prefix=PREFIX, now=T0)
    with pytest.raises(InvalidInput), session_scope(federation) as s:
        sign_and_log(s, key_store, [_unsigned(), {**_unsigned(), "type": ["VerifiableCredential"]}],
              origin_prefix=PREFIX, now=T0)  # fmt: skip
    with session_scope(federation) as session:
        for table in (StoredCredential, LogEntry):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_the_current_key_signs(federation: Engine, key_store: KeyStore) -> None:
    with session_scope(federation) as session:
        old, new = rotate_key(session, key_store, "CN-SH", at=T0 + timedelta(hours=1), now=T0)
    with session_scope(federation) as session:
        before = sign_and_log(session, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0)
        after = sign_and_log(
            session, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0 + timedelta(hours=2)
        )
    assert before.credentials[0].verification_method == old[0].verification_method
    assert after.credentials[0].verification_method == new.verification_method
    with session_scope(federation) as session:
        revoke_key(
            session, new.verification_method, compromised_since=T0 + timedelta(hours=3),
            reason="lost", now=T0 + timedelta(hours=4),
        )  # fmt: skip
    with (
        pytest.raises(KeyStoreError, match="no issuing key of CN-SH"),
        session_scope(federation) as s,
    ):
        sign_and_log(s, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0 + timedelta(hours=5))


def _swap_file(victim: SigningKey, other: SigningKey, keys: Path) -> None:
    # The file named for one key now holds another key, as after a restore to the
    # wrong place: the row and the file disagree.
    assert victim.key_name is not None
    assert other.key_name is not None
    shutil.copyfile(keys / f"{other.key_name}.pem", keys / f"{victim.key_name}.pem")


def _report_signer(session: Session, key_store: KeyStore, at: datetime) -> object:
    verifier = EngineerVerifier(key_store=key_store, lookup=LookupSecrets((b"n" * 32,)))
    return verifier.node_signer(session, at=at)


def _trust_list_signer(session: Session, key_store: KeyStore, at: datetime) -> object:
    propose(session, Changes(quorum=Quorum(count=4)), profile=PROFILE, now=at)
    return sign_proposal(session, key_store, "CN-SH", now=at)


def _issued(session: Session, key_store: KeyStore, at: datetime) -> object:
    return sign_and_log(session, key_store, [_unsigned()], origin_prefix=PREFIX, now=at)


_SIGNING_PATHS: dict[str, tuple[str, Callable[[Session, KeyStore, datetime], object]]] = {
    # (whose file is swapped, the path a user takes that signs with it)
    "issuing": ("issuing", _issued),
    # Signed with the right issuing key, so only the log key's file is wrong.
    "log": ("log", _issued),
    "trust list": ("issuing", _trust_list_signer),
    "node report": ("node", _report_signer),
}


@pytest.mark.parametrize("path", sorted(_SIGNING_PATHS))
def test_every_signing_path_refuses_a_key_file_that_holds_another_key(
    engine: Engine, key_store: KeyStore, tmp_path: Path, path: str
) -> None:
    with session_scope(engine) as session:
        found_federation(session, key_store, now=T0, genesis=False)
        create_node_key(session, key_store, "CN-SH", now=T0)  # listed in the genesis
        seed_genesis(session, key_store, profile=PROFILE, now=T0)
    with session_scope(engine) as session:
        mine = {k.purpose: k for k in keys_of(session, "CN-SH")}
        other = next(k for k in keys_of(session, "CN-JS") if k.purpose == "issuing")
        purpose, sign = _SIGNING_PATHS[path]
        _swap_file(mine[purpose], other, tmp_path / "keys")
    fresh = KeyStore(tmp_path / "keys", passphrase=TEST_PASSPHRASE)  # nothing cached
    at = T0 + timedelta(minutes=1)
    with (
        session_scope(engine) as session,
        pytest.raises(KeyStoreError, match="does not hold the key of"),
    ):
        sign(session, fresh, at)


def test_the_signer_is_the_newest_valid_key_of_its_purpose(
    federation: Engine, key_store: KeyStore
) -> None:
    with session_scope(federation) as session:
        old = next(k for k in keys_of(session, "CN-SH") if k.purpose == "issuing")
        _, new = rotate_key(session, key_store, "CN-SH", now=T0 + timedelta(hours=1))
    with session_scope(federation) as session:

        def pick(credential_type: str, at: datetime) -> HeldKey | None:
            return held_signer(
                session,
                key_store,
                directory=database_keys(session),
                credential_type=credential_type,
                at=at,
                authority="CN-SH",
                purpose="issuing",
            )

        before = pick("SafetyEngineerQualification", T0 + timedelta(minutes=30))
        after = pick("SafetyEngineerQualification", T0 + timedelta(hours=2))
        nothing = pick("VerificationReport", T0 + timedelta(hours=2))
    assert before is not None
    assert before.verification_method == old.verification_method
    assert after is not None
    assert after.verification_method == new.verification_method
    assert after.authority == "CN-SH"
    assert nothing is None

"""Signing, storing and logging in one transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from registry.authorities import revoke_key, rotate_key
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import resolve_did_key, verify_proof
from registry.crypto.keys import KeyStore
from registry.errors import InvalidInput, KeyStoreError
from registry.issuance import issue
from registry.storage.db import session_scope
from registry.storage.models import LogEntry, StoredCredential
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tlog.reader import inclusion, root_at
from tests._support import PROFILE, found_federation

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
        issued = issue(session, key_store, documents, origin_prefix=PREFIX, now=T0)
        assert (issued.log.first_index, issued.log.size) == (0, 3)
        for index, row in enumerate(issued.credentials):
            leaf = row.canonical.encode()
            found, proof = inclusion(session, "CN-SH", leaf_hash(leaf), 3)
            assert found == index
            verify_inclusion(leaf_hash(leaf), index, 3, proof, root_at(session, "CN-SH", 3))
    for row in issued.credentials:
        # Any eddsa-jcs-2022 verifier accepts it (the did:key names the key).
        verify_proof(json.loads(row.canonical), resolve_key=resolve_did_key)


def test_a_failing_batch_writes_nothing(federation: Engine, key_store: KeyStore) -> None:
    bad = [_unsigned(), _unsigned("CN-JS")]
    with pytest.raises(InvalidInput, match="one authority"), session_scope(federation) as s:
        issue(s, key_store, bad, origin_prefix=PREFIX, now=T0)
    with pytest.raises(InvalidInput), session_scope(federation) as s:
        issue(s, key_store, [_unsigned(), {**_unsigned(), "type": ["VerifiableCredential"]}],
              origin_prefix=PREFIX, now=T0)  # fmt: skip
    with session_scope(federation) as session:
        for table in (StoredCredential, LogEntry):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_the_current_key_signs(federation: Engine, key_store: KeyStore) -> None:
    with session_scope(federation) as session:
        old, new = rotate_key(session, key_store, "CN-SH", at=T0 + timedelta(hours=1), now=T0)
    with session_scope(federation) as session:
        before = issue(session, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0)
        after = issue(
            session, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0 + timedelta(hours=2)
        )
    assert before.credentials[0].verification_method == old[0].verification_method
    assert after.credentials[0].verification_method == new.verification_method
    with session_scope(federation) as session:
        revoke_key(
            session, new.verification_method, compromised_since=T0 + timedelta(hours=3),
            reason="lost", now=T0 + timedelta(hours=4),
        )  # fmt: skip
    with pytest.raises(KeyStoreError, match="no key of CN-SH"), session_scope(federation) as s:
        issue(s, key_store, [_unsigned()], origin_prefix=PREFIX, now=T0 + timedelta(hours=5))

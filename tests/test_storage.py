"""Storage on a real PostgreSQL and on SQLite, schema built by the migrations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError

from registry.authorities import create_authority, get_authority, keys_of, list_authorities
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof, verify_proof
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.crypto.keys import Ed25519Signer, KeyStore
from registry.demo import DEMO_AUTHORITIES, seed_demo
from registry.errors import Conflict, InvalidInput, InvalidProvinceCode, NotFound
from registry.ids import lookup_key
from registry.storage.credentials import document_of, get_credential, store_credential
from registry.storage.db import schema_drift, schema_status, session_scope
from registry.storage.models import Authority, SigningKey

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.fixture
def key_store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys", passphrase=b"test passphrase")


def _shanghai(engine: Engine, key_store: KeyStore) -> Ed25519Signer:
    with session_scope(engine) as session:
        create_authority(
            session,
            key_store,
            code="CN-SH",
            name_zh="上海市应急管理局",
            name_en="Shanghai Municipal Emergency Management Bureau",
            now=NOW,
        )
    with session_scope(engine) as session:
        issuing = next(k for k in keys_of(session, "CN-SH") if k.purpose == "issuing")
        assert issuing.key_name is not None
        return key_store.load(issuing.key_name)


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert schema_drift(engine) == []
    assert schema_status(engine).at_head


def test_authority_gets_an_issuing_and_a_log_key(engine: Engine, key_store: KeyStore) -> None:
    signer = _shanghai(engine, key_store)
    with session_scope(engine) as session:
        authority = get_authority(session, "310000")
        assert (authority.code, authority.gb_code) == ("CN-SH", "310000")
        keys = keys_of(session, "CN-SH")
    assert sorted(k.purpose for k in keys) == ["issuing", "log"]
    issuing = next(k for k in keys if k.purpose == "issuing")
    assert issuing.verification_method == signer.verification_method
    assert issuing.public_key_multibase.startswith("z6Mk")
    assert "SafetyEngineerQualification" in issuing.allowed_types
    assert issuing.valid_from == NOW
    assert issuing.valid_from.tzinfo is not None


def test_duplicate_and_invalid_authorities(engine: Engine, key_store: KeyStore) -> None:
    _shanghai(engine, key_store)
    with pytest.raises(Conflict, match="already exists"), session_scope(engine) as session:
        create_authority(session, key_store, code="CN-SH", name_zh="x", name_en="y")
    with pytest.raises(InvalidProvinceCode), session_scope(engine) as session:
        create_authority(session, key_store, code="CN-XX", name_zh="x", name_en="y")
    with pytest.raises(InvalidInput, match="ISO 3166-2"), session_scope(engine) as session:
        create_authority(session, key_store, code="320000", name_zh="x", name_en="y")
    with pytest.raises(NotFound), session_scope(engine) as session:
        get_authority(session, "CN-JS")
    with session_scope(engine) as session:
        assert [a.code for a in list_authorities(session)] == ["CN-SH"]


def test_store_and_read_back_a_signed_credential(engine: Engine, key_store: KeyStore) -> None:
    signer = _shanghai(engine, key_store)
    subject_key = lookup_key("11010519491231002X", node_secret=b"s" * 32)
    document = add_proof(
        new_credential(
            type_="SafetyEngineerQualification",
            issuer_code="CN-SH",
            subject={"name": "张三", "category": "chemical"},
            valid_from=NOW,
        ),
        signer,
        created=NOW,
    )
    with session_scope(engine) as session:
        row = store_credential(session, document, subject_lookup=subject_key, now=NOW)
        assert row.digest == sha256_hex(canonical_bytes(document))
    with session_scope(engine) as session:
        stored = get_credential(session, document["id"])
    assert stored.type == "SafetyEngineerQualification"
    assert stored.issuer_code == "CN-SH"
    assert stored.subject_lookup == subject_key
    assert stored.signed_at == NOW
    assert stored.canonical.encode() == canonical_bytes(document)
    read = document_of(stored)
    assert read == document
    verify_proof(read)


def test_store_rejects_what_it_must(engine: Engine, key_store: KeyStore) -> None:
    signer = _shanghai(engine, key_store)
    unsigned = new_credential(type_="StatusChange", issuer_code="CN-SH", subject={}, valid_from=NOW)
    signed = add_proof(unsigned, signer, created=NOW)
    stranger = add_proof(unsigned, Ed25519Signer.generate(), created=NOW)
    other_issuer = add_proof(
        new_credential(type_="StatusChange", issuer_code="CN-AH", subject={}, valid_from=NOW),
        signer,
        created=NOW,
    )
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="exactly one proof"):
            store_credential(session, unsigned)
        with pytest.raises(InvalidInput, match="does not know"):
            store_credential(session, stranger)
        with pytest.raises(InvalidInput, match="not a known authority"):
            store_credential(session, other_issuer)
        store_credential(session, signed)
    with pytest.raises(Conflict, match="already stored"), session_scope(engine) as session:
        store_credential(session, signed)
    with pytest.raises(NotFound), session_scope(engine) as session:
        get_credential(session, "urn:uuid:00000000-0000-0000-0000-000000000000")


def test_constraints_hold_in_the_database(engine: Engine, key_store: KeyStore) -> None:
    _shanghai(engine, key_store)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            Authority(code="SH", gb_code="310000", name_zh="x", name_en="y", created_at=NOW)
        )
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            SigningKey(
                verification_method="did:key:x#x",
                authority_code="CN-SH",
                purpose="wrong",
                public_key_multibase="z6Mkx",
                allowed_types=[],
                valid_from=NOW,
                created_at=NOW,
            )
        )
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.execute(
            text(
                "INSERT INTO credential (id, type, issuer_code, verification_method, digest, "
                "canonical, signed_at, recorded_at) VALUES ('x', 't', 'CN-SH', 'nope', 'short', "
                "'{}', :now, :now)"
            ),
            {"now": NOW},
        )


def test_timestamps_are_aware_and_utc(engine: Engine) -> None:
    shanghai_time = timezone(timedelta(hours=8))
    with session_scope(engine) as session:
        session.add(
            Authority(
                code="CN-JS",
                gb_code="320000",
                name_zh="江苏",
                name_en="Jiangsu",
                created_at=datetime(2026, 11, 21, 17, 30, tzinfo=shanghai_time),
            )
        )
    with session_scope(engine) as session:
        stored = session.get(Authority, "CN-JS")
        assert stored is not None
        assert stored.created_at == NOW
        assert stored.created_at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive datetime"), session_scope(engine) as session:
        session.add(
            Authority(
                code="CN-AH",
                gb_code="340000",
                name_zh="安徽",
                name_en="Anhui",
                created_at=datetime(2026, 11, 21, 9, 30),  # noqa: DTZ001
            )
        )


def test_demo_seed_runs_once(engine: Engine, key_store: KeyStore) -> None:
    with session_scope(engine) as session:
        assert seed_demo(session, key_store, now=NOW)
    with session_scope(engine) as session:
        assert not seed_demo(session, key_store, now=NOW)
        codes = [a.code for a in list_authorities(session)]
        keys = [key for code in codes for key in keys_of(session, code)]
    assert codes == sorted(code for code, _, _ in DEMO_AUTHORITIES)
    assert len(keys) == 8
    assert len({k.public_key_multibase for k in keys}) == 8
    for key in keys:
        assert key.key_name is not None
        assert key_store.load(key.key_name).public_key_multibase == key.public_key_multibase

"""Storage on a real PostgreSQL and on SQLite, schema built by the migrations."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import col, func, select

from registry.authorities import create_authority, get_authority, keys_of, list_authorities
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof, resolve_did_key, verify_proof
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.crypto.keys import Ed25519Signer, KeyStore
from registry.demo import DEMO_AUTHORITIES, seed_demo, seed_demo_records
from registry.errors import (
    Conflict,
    InvalidInput,
    InvalidProvinceCode,
    KeyResolutionError,
    NotFound,
    SignatureMismatch,
)
from registry.ids import lookup_key
from registry.issuing import IssuingContext
from registry.issuing.receipts import Issuer, record_receipt
from registry.issuing.stored import store_credential
from registry.settings import Settings
from registry.storage import db
from registry.storage.credentials import document_of, get_credential
from registry.storage.db import (
    PREPARED,
    alembic_config,
    begin_snapshot,
    engine_scope,
    make_engine,
    read_scope,
    schema_drift,
    schema_status,
    session_scope,
)
from registry.storage.models import (
    ApiToken,
    Authority,
    Disclosure,
    LogEntry,
    LogHead,
    LogNode,
    Receipt,
    ReceiptRow,
    Record,
    RecordParty,
    SigningKey,
    StoredCredential,
)
from registry.tokens import create_token
from registry.trust.store import stored_versions
from tests._support import PROFILE

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


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


def test_authority_gets_an_issuing_a_log_and_a_witness_key(
    engine: Engine, key_store: KeyStore
) -> None:
    signer = _shanghai(engine, key_store)
    with session_scope(engine) as session:
        authority = get_authority(session, "310000")
        assert (authority.code, authority.gb_code) == ("CN-SH", "310000")
        keys = keys_of(session, "CN-SH")
    assert sorted(k.purpose for k in keys) == ["issuing", "log", "witness"]
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
    subject_key = lookup_key("11010519491231002X", secret=b"s" * 32)
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
    verify_proof(read, resolve_key=resolve_did_key)


def _qualification(issuer: str = "CN-SH") -> dict[str, Any]:
    return new_credential(
        type_="SafetyEngineerQualification",
        issuer_code=issuer,
        subject={"name": "张三"},
        valid_from=NOW,
    )


def test_store_rejects_what_it_must(engine: Engine, key_store: KeyStore) -> None:
    signer = _shanghai(engine, key_store)
    signed = add_proof(_qualification(), signer, created=NOW)
    with session_scope(engine) as session:
        log_key = next(k for k in keys_of(session, "CN-SH") if k.purpose == "log")
        assert log_key.key_name is not None
    log_signer = key_store.load(log_key.key_name)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["name"] = "李四"
    report = new_credential(
        type_="VerificationReport", issuer_code="CN-SH", subject={}, valid_from=NOW
    )
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        (_qualification(), InvalidInput, "exactly one proof"),
        ({**signed, "id": "x" * 129}, InvalidInput, "id of 1 to 128"),
        ({**signed, "issuer": "urn:yrd-registry:authority:310000"}, InvalidInput, "not a registry"),
        (tampered, SignatureMismatch, "does not match"),
        (
            add_proof(_qualification(), Ed25519Signer.generate(), created=NOW),
            KeyResolutionError,
            "not a known signing key",
        ),
        (
            add_proof(_qualification(), log_signer, created=NOW),
            KeyResolutionError,
            "may not sign SafetyEngineerQualification",
        ),
        (
            add_proof(_qualification("CN-AH"), signer, created=NOW),
            KeyResolutionError,
            "is a key of CN-SH, not of CN-AH",
        ),
        (
            add_proof(_qualification(), signer, created=NOW - timedelta(days=1)),
            KeyResolutionError,
            "was not yet valid at",
        ),
        (add_proof(report, signer, created=NOW), KeyResolutionError, "may not sign"),
    ]
    for document, error, message in cases:
        with pytest.raises(error, match=message), session_scope(engine) as session:
            store_credential(session, document)
    with session_scope(engine) as session:
        store_credential(session, signed)
        assert session.exec(select(func.count()).select_from(StoredCredential)).one() == 1
    with pytest.raises(Conflict, match="already stored"), session_scope(engine) as session:
        store_credential(session, signed)
    with pytest.raises(NotFound), session_scope(engine) as session:
        get_credential(session, "urn:uuid:00000000-0000-0000-0000-000000000000")


def test_a_compromised_key_vouches_for_nothing_new(engine: Engine, key_store: KeyStore) -> None:
    signer = _shanghai(engine, key_store)
    with session_scope(engine) as session:
        key = session.get(SigningKey, signer.verification_method)
        assert key is not None
        key.compromised_since = NOW + timedelta(hours=1)
        key.revocation_reason = "the key file was copied"
    after = add_proof(_qualification(), signer, created=NOW + timedelta(hours=2))
    with pytest.raises(KeyResolutionError, match="compromised"), session_scope(engine) as session:
        store_credential(session, after, now=NOW + timedelta(hours=3))
    # Dated before the compromise, but never logged before it: the date is the key
    # holder's word, so it is refused too.
    before = add_proof(_qualification(), signer, created=NOW)
    with (
        pytest.raises(KeyResolutionError, match="no checkpoint shown to predate it"),
        session_scope(engine) as session,
    ):
        store_credential(session, before, now=NOW + timedelta(hours=3))


_KEY_COLUMNS = (
    "INSERT INTO signing_key (verification_method, authority_code, purpose, "
    "public_key_multibase, allowed_types, valid_from, created_at) "
)
_CREDENTIAL_COLUMNS = (
    "INSERT INTO credential (id, type, issuer_code, verification_method, subject_lookup, "
    "digest, canonical, signed_at, recorded_at) "
)


@pytest.mark.parametrize(
    ("statement", "violated"),
    [
        (
            "INSERT INTO authority (code, gb_code, name_zh, name_en, created_at) "
            "VALUES ('SH', '999999', 'x', 'y', :now)",
            "code_format",
        ),
        (
            "INSERT INTO authority (code, gb_code, name_zh, name_en, created_at) "
            "VALUES ('CN-JS', '32', 'x', 'y', :now)",
            "gb_code_length",
        ),
        (
            _KEY_COLUMNS + "VALUES ('m', 'CN-SH', 'wrong', 'z6Mkx', '[]', :now, :now)",
            "purpose_known",
        ),
        (
            _KEY_COLUMNS + "VALUES ('m', 'CN-SH', 'log', 'zQ3s', '[]', :now, :now)",
            "multikey_ed25519",
        ),
        (
            _CREDENTIAL_COLUMNS
            + "VALUES ('x', 't', 'CN-SH', :method, NULL, 'short', '{}', :now, :now)",
            "digest_sha256_hex",
        ),
        (
            _CREDENTIAL_COLUMNS
            + "VALUES ('x', 't', 'CN-SH', :method, 'short', :digest, '{}', :now, :now)",
            "subject_lookup_hmac_hex",
        ),
        (
            _CREDENTIAL_COLUMNS
            + "VALUES ('x', 't', 'CN-SH', 'unknown-key', NULL, :digest, '{}', :now, :now)",
            "fk_credential_signing_key",
        ),
        (  # a known key, but another authority's
            _CREDENTIAL_COLUMNS
            + "VALUES ('x', 't', 'CN-JS', :method, NULL, :digest, '{}', :now, :now)",
            "fk_credential_signing_key",
        ),
    ],
)
def test_each_constraint_holds_in_the_database(
    engine: Engine, key_store: KeyStore, statement: str, violated: str
) -> None:
    signer = _shanghai(engine, key_store)
    parameters = {"now": NOW, "method": signer.verification_method, "digest": "0" * 64}
    with pytest.raises(IntegrityError) as caught, session_scope(engine) as session:
        session.execute(text(statement), parameters)
    # PostgreSQL names every constraint; SQLite names CHECK constraints but only
    # says "FOREIGN KEY constraint failed" for foreign keys.
    message = str(caught.value.orig)
    if engine.dialect.name == "postgresql" or not violated.startswith("fk_"):
        assert violated in message
    else:
        assert "FOREIGN KEY constraint failed" in message


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
        assert seed_demo(session, key_store, profile=PROFILE, now=NOW)
    with session_scope(engine) as session:
        assert not seed_demo(session, key_store, profile=PROFILE, now=NOW)
        assert [row.version for row in stored_versions(session)] == [1]
        codes = [a.code for a in list_authorities(session)]
        keys = [key for code in codes for key in keys_of(session, code)]
    assert codes == sorted(code for code, _, _ in DEMO_AUTHORITIES)
    # An issuing, a log and a witness key per authority, and the node's report key.
    assert len(keys) == 13
    assert len({k.public_key_multibase for k in keys}) == 13
    assert [(k.authority_code, k.allowed_types) for k in keys if k.purpose == "node"] == [
        ("CN-SH", ["VerificationReport"])
    ]
    for key in keys:
        assert key.key_name is not None
        assert key_store.load(key.key_name).public_key_multibase == key.public_key_multibase


def test_the_newest_migrations_go_down_and_up_again_losing_nothing(
    engine: Engine, settings: Settings
) -> None:
    context = IssuingContext.for_node(settings)
    with session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=PROFILE)
        seed_demo_records(session, context)
    tables = (StoredCredential, LogEntry, LogNode, Record, RecordParty, SigningKey, Disclosure)

    def counts() -> dict[str, int]:
        with session_scope(engine) as session:
            return {
                model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in tables
            }

    def versions() -> list[tuple[str, int, str | None]]:
        with session_scope(engine) as session:
            return [
                (p.credential_id, p.position, p.lookup_version)
                for p in session.exec(
                    select(RecordParty).order_by(
                        col(RecordParty.credential_id), col(RecordParty.position)
                    )
                )
            ]

    def course_keys() -> dict[str, str | None]:
        with session_scope(engine) as session:
            return {
                r.credential_id: r.course_key
                for r in session.exec(
                    select(Record).where(col(Record.type) == "ContinuingEducationCredit")
                )
            }

    before, held, keys = counts(), versions(), course_keys()
    assert before["LogEntry"] > 50
    assert before["Disclosure"] > 20
    assert keys
    assert None not in keys.values()
    config = alembic_config(engine)
    command.downgrade(config, "0012")  # through the migrations after it, losing nothing
    assert counts() == before
    assert schema_status(engine).current == ("0012",)
    # 0012: going down would destroy the receipts of imports, which exist nowhere else.
    with session_scope(engine) as session:
        record_receipt(
            session,
            kind="import",
            authority="CN-SH",
            issuer=Issuer(None, "cli", "cli"),
            rows=[(2, next(iter(keys)))],
            file_name="学时.xlsx",
            now=datetime.now(UTC),
        )
    with pytest.raises(RuntimeError, match="receipt"):
        command.downgrade(config, "0011")
    assert schema_status(engine).current == ("0012",)
    with session_scope(engine) as session:
        session.execute(sa.delete(ReceiptRow))
        session.execute(sa.delete(Receipt))
    command.downgrade(config, "0011")
    # 0011: going down would destroy the disclosures, which exist nowhere else: refused.
    with pytest.raises(RuntimeError, match="disclosure"):
        command.downgrade(config, "0010")
    assert counts() == before
    # Without them (the records a node mirrors from other authorities have none), the
    # way down and up again keeps everything, each person's key version read back
    # from their credential, each CE credit's course key computed again from it.
    with session_scope(engine) as session:
        session.execute(sa.delete(Disclosure))
    command.downgrade(config, "0010")
    assert not schema_status(engine).at_head
    command.upgrade(config, "head")
    assert schema_status(engine).at_head
    assert counts() == {**before, "Disclosure": 0}
    assert versions() == held
    assert course_keys() == keys


def test_the_scheduled_changes_migration_goes_down_only_without_scheduled_changes(
    engine: Engine, settings: Settings
) -> None:
    context = IssuingContext.for_node(settings)
    with session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=PROFILE)
        seed_demo_records(session, context)
        record = session.exec(select(Record)).first()
        assert record is not None
        record.scheduled_change_id = "urn:uuid:00000000-0000-4000-8000-000000000000"
        session.add(record)
    config = alembic_config(engine)
    with pytest.raises(RuntimeError, match="1 scheduled and 0 cancelled"):
        command.downgrade(config, "0012")
    assert schema_status(engine).at_head
    with session_scope(engine) as session:
        session.execute(sa.update(Record).values(scheduled_change_id=None))
    command.downgrade(config, "0012")
    assert schema_status(engine).current == ("0012",)
    command.upgrade(config, "head")
    assert schema_status(engine).at_head


def test_the_superseded_migration_goes_down_only_without_superseded_records(
    engine: Engine, settings: Settings
) -> None:
    context = IssuingContext.for_node(settings)
    with session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=PROFILE)
        seed_demo_records(session, context)
        record = session.exec(select(Record)).first()
        assert record is not None
        kept, credential_id = record.state, record.credential_id
        record.state = "superseded"  # the database takes the new state
        session.add(record)
    config = alembic_config(engine)
    with pytest.raises(RuntimeError, match="1 superseded records are kept"):
        command.downgrade(config, "0013")
    assert schema_status(engine).at_head
    with session_scope(engine) as session:
        session.execute(
            sa.update(Record).where(col(Record.credential_id) == credential_id).values(state=kept)
        )
    command.downgrade(config, "0013")
    assert schema_status(engine).current == ("0013",)
    command.upgrade(config, "head")
    assert schema_status(engine).at_head


QUALIFICATION = "SafetyEngineerQualification"


def test_records_of_the_earlier_credential_form_stop_the_migration_with_what_to_do(
    engine: Engine, settings: Settings
) -> None:
    context = IssuingContext.for_node(settings)
    with session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=PROFILE)
        seed_demo_records(session, context)
        session.execute(sa.delete(Disclosure))
    config = alembic_config(engine)
    command.downgrade(config, "0010")
    # A holder named the earlier way: a salt beside the digest.
    with session_scope(engine) as session:
        row = session.exec(
            select(StoredCredential).where(
                col(StoredCredential.type) == "SafetyEngineerQualification"
            )
        ).first()
        assert row is not None
        document = json.loads(row.canonical)
        document["credentialSubject"]["holder"]["identifier"] = {
            "type": "SaltedSha256ResidentId",
            "masked": "1101**********002X",
            "salt": "00" * 16,
            "digest": "0" * 64,
        }
        row.canonical = json.dumps(document)
        session.add(row)
    with pytest.raises(RuntimeError, match="earlier credential form"):
        command.upgrade(config, "head")
    assert not schema_status(engine).at_head


def test_an_idle_pooled_connection_the_server_closed_is_replaced_not_used(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg_url, pool_size=1)
    try:
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        # The server ends the pooled connection (a restart, an idle timeout).
        with engine_scope(pg_url) as admin, admin.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        monkeypatch.setattr(db, "_IDLE_SECONDS", 0.0)  # it has been idle long enough
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    finally:
        engine.dispose()


def test_a_statement_that_asks_is_prepared_once_per_connection(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1)
    heads = select(LogHead.authority_code).execution_options(**PREPARED)
    names = []
    try:
        for _ in range(3):
            with engine.begin() as connection:  # committed: a rollback forgets them
                connection.execute(heads).all()
                names.append(
                    connection.exec_driver_sql("SELECT name FROM pg_prepared_statements").all()
                )
        assert names[0] == names[1] == names[2]  # prepared once, used three times
        assert len(names[0]) == 1
        with engine.begin() as connection:
            connection.execute(select(LogHead.size)).all()  # not asking: not prepared
            assert (
                connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_prepared_statements"
                ).scalar_one()
                == 1
            )
    finally:
        engine.dispose()


def test_a_snapshot_sees_the_database_as_its_first_read_did(db_url: str) -> None:
    with engine_scope(db_url) as engine:
        with session_scope(engine) as session:
            begin_snapshot(session)
            before = session.exec(select(func.count()).select_from(ApiToken)).one()
            with session_scope(engine) as other:
                create_token(other, "verifier", name="made meanwhile")
            assert session.exec(select(func.count()).select_from(ApiToken)).one() == before
        with session_scope(engine) as session:
            session.exec(select(func.count()).select_from(ApiToken)).one()
            with pytest.raises(RuntimeError, match="begin"):
                begin_snapshot(session)


def _refused_read(engine: Engine, statement: Any, names: list[Any]) -> None:
    with read_scope(engine) as session:
        begin_snapshot(session)
        session.connection().execute(statement).all()
        prepared = session.connection().exec_driver_sql("SELECT name FROM pg_prepared_statements")
        names.append(prepared.all())
        raise InvalidInput("a refused request")


def test_a_read_scope_ends_with_a_commit_even_when_refused(pg_url: str) -> None:
    # A rollback would make psycopg forget the connection's prepared statements.
    engine = make_engine(pg_url, pool_size=1)
    heads = select(LogHead.authority_code).execution_options(**PREPARED)
    names: list[Any] = []
    try:
        for _ in range(2):
            with pytest.raises(InvalidInput):
                _refused_read(engine, heads, names)
        assert names[0] == names[1]
        assert len(names[0]) == 1
    finally:
        engine.dispose()

"""The transparency log on PostgreSQL and SQLite: appends, proofs, checkpoints."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, col

from registry.authorities import keys_of, revoke_key
from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.crypto.keys import KeyStore
from registry.errors import (
    InvalidInput,
    KeyResolutionError,
    LogProofError,
    NotFound,
    OutOfRange,
)
from registry.issuing.stored import store_credential, verify_stored
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogCheckpoint, LogEntry, LogHead, LogNode, StoredCredential
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from registry.tlog.note import parse_verifier_key
from registry.tlog.reader import (
    checkpoint_at,
    consistency,
    entries,
    inclusion,
    latest_checkpoint,
    root_at,
)
from registry.tlog.sequencer import append
from registry.trust.proposals import Changes, propose, publish, sign_proposal
from registry.trust.store import current_version
from registry.verification.log_audit import audit_log
from tests._support import PROFILE, TEST_PASSPHRASE, found_federation
from tests.test_merkle import Reference

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PREFIX = PROFILE.log_origin_prefix
HOUR = timedelta(hours=1)


def _federation(engine: Engine, key_store: KeyStore) -> None:
    with session_scope(engine) as session:
        found_federation(session, key_store, now=T0)


def _credentials(
    session: Session, key_store: KeyStore, count: int, *, signed_at: datetime = T0
) -> list[tuple[str, bytes]]:
    (key,) = [k for k in keys_of(session, "CN-SH") if k.purpose == "issuing"]
    assert key.key_name is not None
    signer = key_store.load(key.key_name)
    made = []
    for n in range(count):
        document = new_credential(
            type_="SafetyEngineerQualification",
            issuer_code="CN-SH",
            subject={"name": f"张{n}"},
            valid_from=signed_at,
        )
        signed = add_proof(document, signer, created=signed_at)
        row = store_credential(session, signed, now=signed_at)
        made.append((row.id, row.canonical.encode("utf-8")))
    return made


@pytest.fixture
def log(engine: Engine, key_store: KeyStore) -> Engine:
    _federation(engine, key_store)
    return engine


def test_appends_checkpoints_and_proofs(log: Engine, key_store: KeyStore) -> None:
    batches = [1, 1, 5, 1, 17, 3]
    leaves: list[bytes] = []
    with session_scope(log) as session:
        for size in batches:
            made = _credentials(session, key_store, size)
            result = append(session, key_store, "CN-SH", made, origin_prefix=PREFIX, now=T0)
            assert result.first_index == len(leaves)
            leaves += [leaf for _, leaf in made]
            assert result.size == len(leaves)
    reference = Reference(leaves)
    with session_scope(log) as session:
        trust = current_version(session, at=T0 + timedelta(days=1))
        assert trust is not None
        member = trust.content.member("CN-SH")
        assert member is not None
        verifier = parse_verifier_key(member.log.verifier_key)
        # Every append signed one checkpoint, all kept, each consistent with the last.
        rows = session.scalars(select(LogCheckpoint).order_by(col(LogCheckpoint.tree_size)))
        sizes = [row.tree_size for row in rows]
        assert sizes == [1, 2, 7, 8, 25, 28]
        for size in sizes:
            note = checkpoint_at(session, "CN-SH", size).note
            checkpoint = parse_checkpoint(open_note(note, [verifier]).text)
            assert checkpoint.origin == "registry.yrd.example/CN-SH"
            assert checkpoint.root == reference.mth(0, size) == root_at(session, "CN-SH", size)
        latest = parse_checkpoint(
            open_note(latest_checkpoint(session, "CN-SH").note, [verifier]).text
        )
        assert latest.size == 28
        for index in (0, 6, 27):
            found, proof = inclusion(session, "CN-SH", leaf_hash(leaves[index]), 28)
            assert found == index
            verify_inclusion(leaf_hash(leaves[index]), index, 28, proof, latest.root)
        for first in (1, 7, 8, 25, 28):
            proof = consistency(session, "CN-SH", first, 28)
            verify_consistency(first, 28, reference.mth(0, first), latest.root, proof)
        page = entries(session, "CN-SH", 5, 9)
        assert [e.leaf_index for e in page] == [5, 6, 7, 8]
        assert session.scalar(select(func.count()).select_from(LogNode)) == sum(
            28 >> level for level in range(6)
        )


def test_out_of_range_and_unknown(log: Engine, key_store: KeyStore) -> None:
    with session_scope(log) as session:
        made = _credentials(session, key_store, 3)
        append(session, key_store, "CN-SH", made, origin_prefix=PREFIX, now=T0)
        for call in (
            lambda: root_at(session, "CN-SH", 4),
            lambda: inclusion(session, "CN-SH", leaf_hash(made[0][1]), 4),
            lambda: consistency(session, "CN-SH", 3, 2),
            lambda: consistency(session, "CN-SH", 1, 4),
            lambda: entries(session, "CN-SH", 0, 4),
            lambda: entries(session, "CN-SH", 2, 2),
        ):
            with pytest.raises(OutOfRange):
                call()
        with pytest.raises(NotFound):
            inclusion(session, "CN-SH", leaf_hash(b"nothing"), 3)
        with pytest.raises(NotFound):
            inclusion(session, "CN-SH", leaf_hash(made[2][1]), 2)
        with pytest.raises(NotFound):
            latest_checkpoint(session, "CN-JS")
        with pytest.raises(InvalidInput):
            append(session, key_store, "CN-SH", [], origin_prefix=PREFIX)


def test_an_append_rolls_back_with_its_transaction(log: Engine, key_store: KeyStore) -> None:
    def failing_request() -> None:
        with session_scope(log) as session:
            made = _credentials(session, key_store, 2)
            append(session, key_store, "CN-SH", made, origin_prefix=PREFIX, now=T0)
            raise RuntimeError("the request failed after logging")

    with pytest.raises(RuntimeError):
        failing_request()
    with session_scope(log) as session:
        for table in (LogEntry, LogNode, LogCheckpoint, LogHead):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_a_rolled_back_log_is_never_signed_past(log: Engine, key_store: KeyStore) -> None:
    """Rows removed behind the log's back would make it sign a fork: it refuses."""
    _audited(log, key_store)
    with log.begin() as connection:
        for statement in (
            "DELETE FROM log_node WHERE level = 0 AND node_index >= 6",
            "DELETE FROM log_node WHERE level = 1 AND node_index >= 3",
            "DELETE FROM log_node WHERE level = 2 AND node_index >= 1",
            "DELETE FROM log_entry WHERE leaf_index >= 6",
            "UPDATE log_head SET size = 6, "
            "root = (SELECT root FROM log_checkpoint WHERE tree_size = 6)",
        ):
            connection.execute(text(statement))

    def append_six_more() -> None:
        with session_scope(log) as session:
            made = _credentials(session, key_store, 6)
            append(session, key_store, "CN-SH", made, origin_prefix=PREFIX, now=T0)

    with pytest.raises(LogProofError, match="no longer matches its last signed checkpoint"):
        append_six_more()


def test_checkpoint_times_never_go_backwards(log: Engine, key_store: KeyStore) -> None:
    with session_scope(log) as session:
        first = _credentials(session, key_store, 1)
        append(session, key_store, "CN-SH", first, origin_prefix=PREFIX, now=T0 + HOUR)
        second = _credentials(session, key_store, 1)
        append(session, key_store, "CN-SH", second, origin_prefix=PREFIX, now=T0)
        times = [checkpoint_at(session, "CN-SH", n).signed_at for n in (1, 2)]
    assert times == [T0 + HOUR, T0 + HOUR]


@pytest.mark.parametrize("case", ["another authority's", "not stored", "twice"])
def test_only_the_issuers_stored_credentials_go_into_its_log_once(
    log: Engine, key_store: KeyStore, case: str
) -> None:
    """The database refuses them (a composite foreign key, a unique credential id),
    and the whole transaction writes nothing."""

    def append_one() -> None:
        with session_scope(log) as session:
            made = _credentials(session, key_store, 1)
            if case == "another authority's":
                append(session, key_store, "CN-JS", made, origin_prefix=PREFIX, now=T0)
            elif case == "not stored":
                stray = [("urn:uuid:00000000-0000-4000-8000-000000000000", b"{}")]
                append(session, key_store, "CN-SH", stray, origin_prefix=PREFIX, now=T0)
            else:
                append(session, key_store, "CN-SH", made + made, origin_prefix=PREFIX, now=T0)

    with pytest.raises(InvalidInput, match="only credentials stored and issued by CN-"):
        append_one()
    with session_scope(log) as session:
        for table in (StoredCredential, LogEntry, LogNode, LogCheckpoint):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_processes_appending_at_once(pg_url: str, key_store: KeyStore, tmp_path: Path) -> None:
    with engine_scope(pg_url) as engine:
        _federation(engine, key_store)
        with session_scope(engine) as session:
            made = _credentials(session, key_store, 60)
    ids = [credential_id for credential_id, _ in made]
    context = multiprocessing.get_context("spawn")
    from tests._log_worker import append_each  # noqa: PLC0415 - picklable by module

    with context.Pool(4) as pool:
        done = pool.starmap(
            append_each,
            [(pg_url, str(tmp_path / "keys"), TEST_PASSPHRASE, ids[n::4]) for n in range(4)],
        )
    assert sum(done) == 60
    with engine_scope(pg_url) as engine, session_scope(engine) as session:
        rows = list(session.scalars(select(LogEntry).order_by(col(LogEntry.leaf_index))))
        assert [row.leaf_index for row in rows] == list(range(60))
        by_id = dict(made)
        leaves = [by_id[row.credential_id] for row in rows]
        head = session.get(LogHead, "CN-SH")
        assert head is not None
        assert head.size == 60
        assert bytes(head.root) == Reference(leaves).mth(0, 60) == root_at(session, "CN-SH", 60)
        assert session.scalar(select(func.count()).select_from(LogCheckpoint)) == 60


def _audited(log: Engine, key_store: KeyStore) -> list[tuple[str, bytes]]:
    made: list[tuple[str, bytes]] = []
    with session_scope(log) as session:
        for size in (5, 1, 6):
            batch = _credentials(session, key_store, size)
            append(session, key_store, "CN-SH", batch, origin_prefix=PREFIX, now=T0)
            made += batch
    with session_scope(log) as session:
        report = audit_log(session, "CN-SH", at=T0 + timedelta(days=1), projections=False)
    assert report.holds, report.findings
    assert (report.entries, report.nodes, report.checkpoints) == (12, 12 + 6 + 3 + 1, 3)
    return made


@pytest.mark.parametrize(
    ("statement", "where", "problem"),
    [
        (
            "UPDATE credential SET canonical = replace(canonical, '张', '李') "
            "WHERE id = (SELECT credential_id FROM log_entry WHERE leaf_index = 7)",
            "entry 7",
            "leaf hash is not the hash of its credential",
        ),
        (
            "UPDATE log_node SET hash = (SELECT hash FROM log_node WHERE level = 0 AND "
            "node_index = 2) WHERE level = 0 AND node_index = 3",
            "entry 3",
            "subtree hash (level 0) is wrong",
        ),
        (
            "UPDATE log_node SET hash = (SELECT hash FROM log_node WHERE level = 0 AND "
            "node_index = 0) WHERE level = 2 AND node_index = 1",
            "entries 4-7",
            "level-2 subtree hash is not that of the entries below it",
        ),
        (
            "DELETE FROM log_node WHERE level = 1 AND node_index = 5",
            "entries 10-11",
            "level-1 subtree hash is missing",
        ),
        (
            "DELETE FROM log_node WHERE level = 1 AND node_index = 2",
            "entries 4-5",
            "level-1 subtree hash is missing",
        ),
        (
            "UPDATE log_checkpoint SET note = replace(note, '\n6\n', '\n7\n') WHERE tree_size = 6",
            "checkpoint at size 6",
            "signature does not hold",
        ),
    ],
)
def test_a_row_altered_in_the_database_fails_the_audit(
    log: Engine, key_store: KeyStore, statement: str, where: str, problem: str
) -> None:
    _audited(log, key_store)
    with log.begin() as connection:
        connection.execute(text(statement))
    with session_scope(log) as session:
        report = audit_log(session, "CN-SH", at=T0 + timedelta(days=1), projections=False)
    # The one row changed is named, once: the two values that agree decide each leaf
    # and every subtree above it, so nothing that merely rests on the row is named too.
    assert [(f.where, problem in f.problem) for f in report.findings] == [(where, True)]


def test_after_a_compromise_the_log_decides(log: Engine, key_store: KeyStore) -> None:
    minute = timedelta(minutes=1)
    with session_scope(log) as session:
        (early,) = _credentials(session, key_store, 1, signed_at=T0 + 10 * minute)
        append(session, key_store, "CN-SH", [early], origin_prefix=PREFIX, now=T0 + 10 * minute)
    with session_scope(log) as session:
        # Signed "before" the compromise, logged only after it.
        (late,) = _credentials(session, key_store, 1, signed_at=T0 + 50 * minute)
        append(session, key_store, "CN-SH", [late], origin_prefix=PREFIX, now=T0 + 90 * minute)
    with session_scope(log) as session:
        (key,) = [k for k in keys_of(session, "CN-SH") if k.purpose == "issuing"]
        revoke_key(
            session, key.verification_method, compromised_since=T0 + 60 * minute,
            reason="the key file was copied", now=T0 + 120 * minute,
        )  # fmt: skip
    at = T0 + 130 * minute
    with session_scope(log) as session:
        verify_stored(session, early[0], at=at)
        with pytest.raises(KeyResolutionError, match="no checkpoint shown to predate it"):
            verify_stored(session, late[0], at=at)
        # The trust list learns of it; the audit then names the entry.
        propose(session, Changes(revoke_keys=(key.verification_method,)), profile=PROFILE, now=at)
        for code in ("CN-JS", "CN-ZJ", "CN-AH"):
            sign_proposal(session, key_store, code, now=at)
        publish(session, now=at)
    with session_scope(log) as session:
        report = audit_log(session, "CN-SH", at=at + minute, projections=False)
    (finding,) = report.findings
    assert finding.where == "entry 1"
    assert "no checkpoint shown to predate it" in finding.problem

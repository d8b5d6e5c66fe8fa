"""The log audit on the whole demo federation: each of the four logs holds; every row
changed behind the registry's back is named (table, key, what differs), the audit
going on after each; the projections are rebuilt from the signed log, never trusted."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import Engine, delete, func, text, update
from sqlmodel import Session, col, select

from api import create_app
from registry.authorities import keys_of
from registry.calendar import china_today
from registry.credentials import CredentialType, new_credential
from registry.credentials.lifecycle import Action, State
from registry.credentials.records import RecordIn
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.datadir import DataDir
from registry.demo import (
    DEMO_AUTHORITIES,
    credit_code,
    resident_id,
)
from registry.demo.agreements import DEMO_AGREEMENTS
from registry.demo.startup import seed_node
from registry.issuing import IssuingContext, issue_records
from registry.issuing.changes import status_change_document
from registry.issuing.signing import sign_and_log
from registry.issuing.stored import store_credential
from registry.recognition.agreements import terminate
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import (
    Disclosure,
    LogCheckpoint,
    LogEntry,
    LogHead,
    RecognitionAgreementRow,
    Record,
    RecordParty,
    StatusChangeRow,
    StatusListRow,
    StoredCredential,
)
from registry.verification.log_audit import AuditReport, audit_log
from tests._support import run_command, seed_demo_node

RECORD: TypeAdapter[RecordIn] = TypeAdapter(RecordIn)
CODES = [code for code, _, _ in DEMO_AUTHORITIES]
Expected = list[tuple[str, str]]
"""Each finding the audit must make, as (where, a part of the problem): no other."""


@dataclass
class Demo:
    """The demo federation seeded as ``registry serve --demo`` seeds it."""

    settings: Settings
    engine: Engine

    def audit(self, code: str, **options: Any) -> AuditReport:
        with session_scope(self.engine) as session:
            return audit_log(session, code, **options)

    def session(self) -> Session:
        return Session(self.engine)


@pytest.fixture
def demo(settings: Settings) -> Iterator[Demo]:
    seed_demo_node(settings)
    with engine_scope(settings.database_url) as engine:
        yield Demo(settings, engine)


def _named(reports: list[AuditReport], expected: Expected) -> None:
    """The reports name exactly the expected findings (in any order), nothing else."""
    found = sorted((f.where, f.problem) for report in reports for f in report.findings)
    assert sum(report.problems for report in reports) == len(found) == len(expected), found
    for where, part in sorted(expected):
        match = [f for f in found if f[0] == where and part in f[1]]
        assert match, (where, part, found)
        found.remove(match[0])


def test_the_whole_demo_holds(demo: Demo) -> None:
    with demo.session() as session:
        sizes = {row.authority_code: row.size for row in session.exec(select(LogHead))}
    reports = {code: demo.audit(code) for code in CODES}
    for code, report in reports.items():
        assert report.holds, (code, report.findings)
        assert report.entries == sizes[code] > 0
        assert report.checkpoints > 0
        assert report.rows["credential"] == report.entries
        assert report.rows["record"] > 0
        assert report.rows["status_list"] == 2
    # The agreements are multi-signed (a proof by every party): each proposer's log
    # holds one, verified proof by proof against the trust list.
    for proposer, _ in DEMO_AGREEMENTS:
        assert reports[proposer].rows["recognition_agreement"] == 1
    # Jiangsu suspended a registration and lifted a listing; Zhejiang withdrew one.
    assert reports["CN-JS"].rows["status_change"] == 2
    assert reports["CN-ZJ"].rows["status_change"] == 1


# -- item 1: every problem named, the audit going on after each ------------------------


def _more_credits(demo: Demo, batches: int, size: int) -> None:
    """Grow Jiangsu's log by ``batches`` appends of ``size`` CE credits."""
    context = IssuingContext.for_node(demo.settings)
    today = china_today()
    for batch in range(batches):
        items = [
            RECORD.validate_python(
                {
                    "type": "ContinuingEducationCredit",
                    "authority": "CN-JS",
                    "holder": {
                        "name": "周平",
                        "id_number": resident_id("320106", "19850312", "021"),
                    },
                    "course_title": f"安全生产专题 {batch}-{n}",
                    "provider": {
                        "name": "江苏省安全生产培训中心",
                        "credit_code": credit_code("12320000MB1A20009"),
                    },
                    "hours": 2,
                    "kind": "professional",
                    "completed_on": (today - timedelta(days=1 + n)).isoformat(),
                }
            )
            for n in range(size)
        ]
        with session_scope(demo.engine) as session:
            issue_records(session, context, items)


def test_a_log_changed_in_many_places_has_each_named(demo: Demo) -> None:
    _more_credits(demo, batches=3, size=100)
    assert demo.audit("CN-JS").holds
    with demo.session() as session:
        head = session.get(LogHead, "CN-JS")
        assert head is not None
        assert head.size == 320
        checkpoints = sorted(
            session.exec(
                select(col(LogCheckpoint.tree_size)).where(
                    col(LogCheckpoint.authority_code) == "CN-JS"
                )
            )
        )
        suspended = _suspended(session)
    middle = checkpoints[-2]  # the checkpoint of the second batch of credits
    with demo.engine.begin() as connection:
        # A credential deep in the log: one trailing space more (still JSON).
        connection.execute(
            text(
                "UPDATE credential SET canonical = canonical || ' ' WHERE id = "
                "(SELECT credential_id FROM log_entry WHERE authority_code = 'CN-JS' "
                "AND leaf_index = 250)"
            )
        )
        # A subtree hash: entries 40-47 given the hash of entries 48-55.
        connection.execute(
            text(
                "UPDATE log_node SET hash = (SELECT hash FROM log_node WHERE authority_code = "
                "'CN-JS' AND level = 3 AND node_index = 6) WHERE authority_code = 'CN-JS' "
                "AND level = 3 AND node_index = 5"
            )
        )
        # A checkpoint's signed note, its size changed.
        connection.execute(
            update(LogCheckpoint)
            .where(
                col(LogCheckpoint.authority_code) == "CN-JS",
                col(LogCheckpoint.tree_size) == middle,
            )
            .values(note=func.replace(LogCheckpoint.note, f"\n{middle}\n", f"\n{middle + 1}\n"))
        )
        # And a projection: the suspended registration reads as active.
        connection.execute(
            update(Record).where(col(Record.credential_id) == suspended).values(state="active")
        )
    _named(
        [demo.audit("CN-JS")],
        [
            (
                "entry 250",
                "its leaf hash is not the hash of its credential: the credential changed",
            ),
            ("entries 40-47", "its level-3 subtree hash is not that of the entries below it"),
            (f"checkpoint at size {middle}", "its signature does not hold"),
            (f"record {suspended}", "state is 'active'; the log says 'suspended'"),
        ],
    )
    # The other logs are untouched.
    assert all(demo.audit(code).holds for code in CODES if code != "CN-JS")


def test_findings_past_the_cap_are_counted(demo: Demo) -> None:
    with demo.engine.begin() as connection:
        connection.execute(
            update(StoredCredential)
            .where(col(StoredCredential.issuer_code) == "CN-JS")
            .values(digest=func.upper(StoredCredential.digest))
        )
    report = demo.audit("CN-JS", keep=3)
    full = demo.audit("CN-JS")
    assert report.problems == full.problems == full.rows["credential"]
    assert len(report.findings) == 3
    assert report.omitted == report.problems - 3
    assert report.findings == full.findings[:3]


# -- item 2: the projections are rebuilt from the log --------------------------------------


def _one(session: Session, statement: Any) -> Any:
    return session.exec(statement).one()


def _document(session: Session, credential_id: str) -> dict[str, Any]:
    canonical = _one(
        session,
        select(col(StoredCredential.canonical)).where(col(StoredCredential.id) == credential_id),
    )
    value: dict[str, Any] = json.loads(canonical)
    return value


def _suspended(session: Session) -> str:
    return str(
        _one(session, select(col(Record.credential_id)).where(col(Record.state) == "suspended"))
    )


def _leaf(session: Session, credential_id: str) -> int:
    return int(
        _one(
            session,
            select(col(LogEntry.leaf_index)).where(col(LogEntry.credential_id) == credential_id),
        )
    )


def _record_state(session: Session) -> Expected:
    record = _suspended(session)
    session.execute(
        update(Record).where(col(Record.credential_id) == record).values(state="active")
    )
    return [
        (
            f"record {record}",
            "state is 'active'; the log says 'suspended' (its credential and 1 signed change)",
        )
    ]


def _status_change_deleted(session: Session) -> Expected:
    record = _suspended(session)
    change = _one(
        session,
        select(col(StatusChangeRow.credential_id)).where(col(StatusChangeRow.target_id) == record),
    )
    session.execute(delete(StatusChangeRow).where(col(StatusChangeRow.credential_id) == change))
    return [
        (
            f"status_change {change}",
            f"missing: the log holds this StatusChange (entry {_leaf(session, change)})",
        )
    ]


def _status_change_edited(session: Session) -> Expected:
    record = _suspended(session)
    change = _one(session, select(StatusChangeRow).where(col(StatusChangeRow.target_id) == record))
    change_id, effective_on, recorded_at = (
        change.credential_id,
        change.effective_on,
        change.recorded_at,
    )
    session.execute(
        update(StatusChangeRow)
        .where(col(StatusChangeRow.credential_id) == change_id)
        .values(
            effective_on=effective_on - timedelta(days=1),
            recorded_at=recorded_at + timedelta(hours=1),
        )
    )
    return [
        (
            f"status_change {change_id}",
            f"effective_on is {effective_on - timedelta(days=1)}; the log says {effective_on}",
        ),
        (
            f"status_change {change_id}",
            f"recorded_at is {(recorded_at + timedelta(hours=1)).isoformat()}; "
            f"the log says {recorded_at.isoformat()}",
        ),
    ]


def _digest(session: Session) -> Expected:
    record = _suspended(session)
    right = _one(
        session, select(col(StoredCredential.digest)).where(col(StoredCredential.id) == record)
    )
    session.execute(
        update(StoredCredential).where(col(StoredCredential.id) == record).values(digest="f" * 64)
    )
    return [
        (f"credential {record}", f"digest is {'f' * 64!r}; the canonical bytes hash to {right!r}")
    ]


def _status_list_bit(session: Session) -> Expected:
    record = session.get(Record, _suspended(session))
    assert record is not None
    assert record.suspension_index is not None
    row = session.get(StatusListRow, ("CN-JS", "suspension"))
    assert row is not None
    bits = bytearray(row.bits)
    bits[record.suspension_index // 8] ^= 0x80 >> (record.suspension_index % 8)
    session.execute(
        update(StatusListRow)
        .where(
            col(StatusListRow.authority_code) == "CN-JS", col(StatusListRow.purpose) == "suspension"
        )
        .values(bits=bytes(bits))
    )
    return [
        (
            "status_list CN-JS suspension",
            f"bits differ from the signed version {row.version} "
            f"(entry {_leaf(session, row.credential_id)}) "
            f"at 1 entries: {record.suspension_index} (1 signed)",
        )
    ]


def _listed(session: Session, code: str) -> str:
    return str(
        _one(
            session,
            select(col(Record.credential_id)).where(
                col(Record.authority_code) == code, col(Record.type) == CredentialType.LISTING
            ),
        )
    )


def _listing_party(session: Session) -> Expected:
    listing = _listed(session, "CN-SH")
    right = _one(
        session,
        select(col(RecordParty.credit_code)).where(
            col(RecordParty.credential_id) == listing, col(RecordParty.position) == 0
        ),
    )
    session.execute(
        update(RecordParty)
        .where(col(RecordParty.credential_id) == listing, col(RecordParty.position) == 0)
        .values(credit_code="91310115MA1H900290", name_key="别的公司")
    )
    return [
        (
            f"record_party {listing} #0",
            f"credit_code is '91310115MA1H900290'; the log says {right!r}",
        ),
        (f"record_party {listing} #0", "name_key is '别的公司'; the log says"),
    ]


def _listing_record(session: Session) -> Expected:
    listing = _listed(session, "CN-AH")
    earliest = _one(
        session, select(col(Record.earliest_removal_on)).where(col(Record.credential_id) == listing)
    )
    session.execute(
        update(Record)
        .where(col(Record.credential_id) == listing)
        .values(earliest_removal_on=earliest - timedelta(days=200), number="皖应急失信〔2020〕1号")
    )
    return [
        (
            f"record {listing}",
            f"earliest_removal_on is {earliest - timedelta(days=200)}; the log says {earliest}",
        ),
        (f"record {listing}", "number is '皖应急失信〔2020〕1号'; the log says"),
    ]


def _lookup_key(session: Session) -> Expected:
    registration = _suspended(session)
    qualification = _document(session, registration)["credentialSubject"]["qualification"]
    session.execute(
        update(RecordParty)
        .where(col(RecordParty.credential_id) == qualification, col(RecordParty.position) == 0)
        .values(lookup_key="ab" * 32)
    )
    return [
        (f"record_party {qualification} #0", f"lookup_key is '{'ab' * 32}'; the log says"),
        (
            f"record_party {registration} #0",
            "lookup_key is not that of the holder of the qualification it rests on "
            f"(record_party {qualification} #0)",
        ),
    ]


def _record_deleted(session: Session) -> Expected:
    credit = str(
        _one(
            session,
            select(col(Record.credential_id))
            .where(
                col(Record.type) == CredentialType.CE_CREDIT, col(Record.authority_code) == "CN-ZJ"
            )
            .limit(1),
        )
    )
    session.execute(delete(Disclosure).where(col(Disclosure.credential_id) == credit))
    session.execute(delete(RecordParty).where(col(RecordParty.credential_id) == credit))
    session.execute(delete(Record).where(col(Record.credential_id) == credit))
    leaf = _leaf(session, credit)
    return [
        (f"record {credit}", f"missing: the log holds its credential (entry {leaf})"),
        (f"record_party {credit} #0", f"missing: its credential (entry {leaf}) names them"),
        (f"record_party {credit} #1", f"missing: its credential (entry {leaf}) names them"),
        # Nothing else: its entry in the revocation list stays allocated in the log.
    ]


def _agreement_days(session: Session) -> Expected:
    ((_, agreement),) = [(p, a) for p, a in DEMO_AGREEMENTS if p == "CN-AH"]
    session.execute(
        update(RecognitionAgreementRow)
        .where(col(RecognitionAgreementRow.credential_id) == agreement.id)
        .values(effective_until=date(2029, 6, 30))
    )
    return [
        (
            f"recognition_agreement {agreement.id}",
            "effective_until is 2029-06-30; the log says 2028-06-30",
        )
    ]


def _agreement_terminated(session: Session) -> Expected:
    ((_, agreement),) = [(p, a) for p, a in DEMO_AGREEMENTS if p == "CN-SH"]
    other = _suspended(session)
    session.execute(
        update(RecognitionAgreementRow)
        .where(col(RecognitionAgreementRow.credential_id) == agreement.id)
        .values(terminated_on=date(2030, 1, 1), termination_id=other)
    )
    return [
        (
            f"recognition_agreement {agreement.id}",
            f"termination_id names {other}, which is not a StatusChange of this agreement",
        )
    ]


EDITS: dict[str, Callable[[Session], Expected]] = {
    "record state": _record_state,
    "status change deleted": _status_change_deleted,
    "status change edited": _status_change_edited,
    "stored digest": _digest,
    "status-list bit": _status_list_bit,
    "listing party": _listing_party,
    "listing record": _listing_record,
    "lookup key": _lookup_key,
    "record deleted": _record_deleted,
    "agreement days": _agreement_days,
    "agreement terminated": _agreement_terminated,
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_projection_edited_is_named(demo: Demo, edit: str) -> None:
    with session_scope(demo.engine) as session:
        expected = EDITS[edit](session)
    # Every log is audited: the findings are exactly these, in whichever log they are.
    _named([demo.audit(code) for code in CODES], expected)


def test_a_credential_stored_but_never_logged_is_named(demo: Demo) -> None:
    key_store = IssuingContext.for_node(demo.settings).key_store
    with session_scope(demo.engine) as session:
        (key,) = [k for k in keys_of(session, "CN-ZJ") if k.purpose == "issuing"]
        assert key.key_name is not None
        now = datetime.now(UTC)
        document = new_credential(
            type_="StatusChange", issuer_code="CN-ZJ", subject={"id": "urn:uuid:x"}, valid_from=now
        )
        row = store_credential(
            session, add_proof(document, key_store.load(key.key_name), created=now)
        )
    _named(
        [demo.audit("CN-ZJ")], [(f"credential {row.id}", "its credential is in no log of CN-ZJ")]
    )


def test_what_the_api_reads_from_an_edited_projection_is_what_the_audit_names(
    demo: Demo,
) -> None:
    """``GET /v1/credentials/{id}`` answers from the projections: an edited record state
    and a deleted status change reach the client, and the audit names exactly them."""
    with session_scope(demo.engine) as session:
        record = _suspended(session)
        expected = _status_change_deleted(session) + _record_state(session)
    with TestClient(create_app(demo.settings)) as client:
        answer = client.get(f"/v1/credentials/{record}").json()
    assert (answer["state"], answer["changes"]) == ("active", [])
    _named([demo.audit(code) for code in CODES], expected)


def test_the_command_audits_the_demo_as_make_run_seeds_it(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        demo=True,
    )
    with engine_scope(settings.database_url) as engine:
        upgrade(engine)
        assert seed_node(settings, engine, DataDir(settings))
        with session_scope(engine) as session:
            record = _suspended(session)
    env = {
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
    }

    def audit(code: str) -> subprocess.CompletedProcess[str]:
        return run_command(["log", "audit", code], env)

    for code in CODES:
        held = audit(code)
        assert held.returncode == 0, held.stderr
        assert f"the log of {code} holds" in held.stdout
        assert "rows rebuilt from it and compared:" in held.stdout
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        expected = _status_list_bit(session) + _record_state(session)
    broken = audit("CN-JS")
    assert broken.returncode == 1
    for where, part in expected:
        assert f"✗ {where}: {part}" in broken.stderr
    assert f"✗ record {record}: state is 'active'" in broken.stderr
    assert "the log of CN-JS does not hold: 2 problems" in broken.stderr


def test_a_termination_is_audited_from_the_log_of_the_party_that_signed_it(demo: Demo) -> None:
    ((proposer, agreement),) = [(p, a) for p, a in DEMO_AGREEMENTS if p == "CN-AH"]
    context = IssuingContext.for_node(demo.settings)
    with session_scope(demo.engine) as session:
        ended = terminate(
            session,
            context,
            agreement.id,
            by="CN-SH",  # a party, not the proposer: the change is in Shanghai's log
            effective_on=china_today(),
            reason="演示：协议终止",
            decision_number="沪应急〔2026〕9号",
        )
    assert ended.termination_id is not None
    assert all(demo.audit(code).holds for code in CODES)
    with demo.engine.begin() as connection:
        connection.execute(
            update(RecognitionAgreementRow)
            .where(col(RecognitionAgreementRow.credential_id) == agreement.id)
            .values(terminated_on=None, termination_id=None)
        )
    # Anhui's log holds the agreement, which no longer names a termination; Shanghai's
    # holds the termination, which the row no longer records.
    assert demo.audit(proposer).holds
    _named(
        [demo.audit("CN-SH")],
        [
            (
                f"recognition_agreement {agreement.id}",
                f"termination_id is NULL; the log says {ended.termination_id!r}",
            ),
            (f"recognition_agreement {agreement.id}", "terminated_on is NULL; the log says"),
        ],
    )


def test_a_signed_change_that_does_not_follow_is_named(demo: Demo) -> None:
    """A StatusChange signed and logged past the checks of ``change_status``: the replay
    names it, and the record, status change and status list it leaves out of step."""
    context = IssuingContext.for_node(demo.settings)
    with session_scope(demo.engine) as session:
        record = session.get(Record, _suspended(session))
        assert record is not None
        document = status_change_document(
            record,
            action=Action.REINSTATE,
            before=State.ACTIVE,  # it is suspended
            after=State.ACTIVE,
            reason="forged",
            decision_number=None,
            effective_on=china_today(),
            valid_from=datetime.now(UTC).replace(microsecond=0),
        )
        issued = sign_and_log(
            session, context.key_store, [document], origin_prefix=context.origin_prefix
        )
        change = issued.credentials[0].id
        lists = session.get(StatusListRow, ("CN-JS", "suspension"))
        assert lists is not None
        leaf, list_leaf = _leaf(session, change), _leaf(session, lists.credential_id)
    _named(
        [demo.audit(code) for code in CODES],
        [
            (f"entry {leaf}", f"says {record.credential_id} was active, but the changes"),
            (f"entry {leaf}", "is not one the rules allow"),
            (f"status_change {change}", f"missing: the log holds this StatusChange (entry {leaf})"),
            (f"record {record.credential_id}", "state is 'suspended'; the log says 'active'"),
            (
                f"entry {list_leaf}",
                f"has entry {record.suspension_index} set, but record {record.credential_id} "
                "is active",
            ),
        ],
    )

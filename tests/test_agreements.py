"""Recognition agreements as signed records: every party signs, any party terminates,
and what is in force on a day is what verification uses."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from api import create_app
from registry.authorities import create_authority, database_keys
from registry.calendar import china_today
from registry.errors import AgreementError, Conflict, InvalidInput, NotFound, SignatureMismatch
from registry.issuing import IssuingContext
from registry.recognition import Agreement, Direction, RecordKind, recognise
from registry.recognition import agreements as workflow
from registry.recognition.document import parse_agreement, verify_agreement
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, RecognitionAgreementRow, StoredCredential
from registry.tlog.reader import proof_bundle

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = china_today(NOW)
NAMES = {
    "CN-SH": ("上海市应急管理局", "Shanghai"),
    "CN-JS": ("江苏省应急管理厅", "Jiangsu"),
    "CN-ZJ": ("浙江省应急管理厅", "Zhejiang"),
}


def _agreement(**changes: object) -> Agreement:
    base = Agreement(
        id="urn:uuid:0b6f5c1e-2a4d-4c8e-9f00-000000000001",
        parties=frozenset({"CN-JS", "CN-SH"}),
        direction=Direction.ONE_WAY,
        source="CN-JS",
        target="CN-SH",
        kinds=frozenset({RecordKind.QUALIFICATION}),
        levels=frozenset({"junior"}),
        valid_from=date(2024, 1, 1),
        valid_until=date(2030, 12, 31),
        basis_number="沪苏应急〔2024〕2号",
        basis_title="沪苏初级注册安全工程师职业资格认可协议",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def node(settings: Settings) -> tuple[Settings, IssuingContext]:
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        for code, (zh, en) in NAMES.items():
            create_authority(session, context.key_store, code=code, name_zh=zh, name_en=en, now=NOW)
    return settings, context


def test_it_takes_effect_only_when_every_party_has_signed(
    node: tuple[Settings, IssuingContext],
) -> None:
    settings, context = node
    agreement = _agreement()
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            workflow.propose(session, agreement, proposer="CN-JS", now=NOW)
            assert workflow.sign(session, context.key_store, agreement.id, "CN-JS", now=NOW) == [
                "CN-JS"
            ]
            with pytest.raises(Conflict, match="signed the agreement already"):
                workflow.sign(session, context.key_store, agreement.id, "CN-JS", now=NOW)
            with pytest.raises(InvalidInput, match="CN-ZJ is not a party"):
                workflow.sign(session, context.key_store, agreement.id, "CN-ZJ", now=NOW)
        with pytest.raises(AgreementError, match="missing CN-SH"), session_scope(engine) as s:
            workflow.publish(s, context, agreement.id, now=NOW)
        with session_scope(engine) as session:
            assert not session.scalar(select(func.count()).select_from(RecognitionAgreementRow))
            workflow.sign(session, context.key_store, agreement.id, "CN-SH", now=NOW)
            published = workflow.publish(session, context, agreement.id, now=NOW)
        with session_scope(engine) as session:
            assert published.agreement == agreement
            document = published.credential
            assert [p["verificationMethod"][:8] for p in document["proof"]] == ["did:key:"] * 2
            stored = session.get(StoredCredential, agreement.id)
            assert stored is not None
            assert stored.issuer_code == "CN-JS"
            bundle = proof_bundle(session, agreement.id)
            assert bundle.authority == "CN-JS"
            again = verify_agreement(document, directory=database_keys(session), at=NOW)
            assert again == agreement
            with pytest.raises(Conflict, match="is published, not open"):
                workflow.sign(session, context.key_store, agreement.id, "CN-SH", now=NOW)


def test_a_proof_set_with_a_party_missing_or_a_field_changed_fails(
    node: tuple[Settings, IssuingContext],
) -> None:
    settings, context = node
    agreement = _agreement()
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        workflow.propose(session, agreement, proposer="CN-SH", now=NOW)
        workflow.sign(session, context.key_store, agreement.id, "CN-SH", now=NOW)
        workflow.sign(session, context.key_store, agreement.id, "CN-JS", now=NOW)
        document = workflow.proposal_document(workflow.get_proposal(session, agreement.id))
        directory = database_keys(session)
        assert verify_agreement(document, directory=directory, at=NOW) == agreement
        one = copy.deepcopy(document)
        one["proof"] = one["proof"][:1]
        with pytest.raises(AgreementError, match="missing CN-JS"):
            verify_agreement(one, directory=directory, at=NOW)
        widened = copy.deepcopy(document)
        widened["credentialSubject"]["scope"]["kinds"].append("registration")
        with pytest.raises(SignatureMismatch, match="proof 1"):
            verify_agreement(widened, directory=directory, at=NOW)
        twice = copy.deepcopy(document)
        twice["proof"] = [document["proof"][0], document["proof"][0]]
        with pytest.raises(AgreementError, match="twice"):
            verify_agreement(twice, directory=directory, at=NOW)
        unknown = copy.deepcopy(document)
        unknown["credentialSubject"]["extra"] = 1
        with pytest.raises(AgreementError, match="unknown fields"):
            parse_agreement(unknown)


def test_proposals_are_checked(node: tuple[Settings, IssuingContext]) -> None:
    settings, _ = node
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="only agreements it is a party to"):
            workflow.propose(session, _agreement(), proposer="CN-ZJ", now=NOW)
        with pytest.raises(NotFound, match="CN-AH"):
            workflow.propose(
                session,
                _agreement(parties=frozenset({"CN-AH", "CN-SH"}), source="CN-AH"),
                proposer="CN-SH",
                now=NOW,
            )
        with pytest.raises(InvalidInput, match="legal basis"):
            workflow.propose(session, _agreement(basis_number=" "), proposer="CN-SH", now=NOW)
        workflow.propose(session, _agreement(), proposer="CN-SH", now=NOW)
        with pytest.raises(Conflict, match="exists already"):
            workflow.propose(session, _agreement(), proposer="CN-JS", now=NOW)


def _published(settings: Settings, context: IssuingContext, agreement: Agreement) -> None:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        workflow.propose(session, agreement, proposer=sorted(agreement.parties)[0], now=NOW)
        for party in sorted(agreement.parties):
            workflow.sign(session, context.key_store, agreement.id, party, now=NOW)
        workflow.publish(session, context, agreement.id, now=NOW)


def test_a_demonstration_agreement_is_published_only_by_a_node_running_the_demo(
    node: tuple[Settings, IssuingContext],
) -> None:
    """The demo's agreements cite synthetic documents: marked ``"demonstration": true``,
    published only where the demo runs (Settings.demo), and a real agreement's form is
    as it always was."""
    settings, context = node
    assert context.demo  # the tests' node runs the demo
    demonstration = _agreement(demonstration=True)
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            workflow.propose(session, demonstration, proposer="CN-JS", now=NOW)
            for party in ("CN-JS", "CN-SH"):
                workflow.sign(session, context.key_store, demonstration.id, party, now=NOW)
        off = dataclasses.replace(context, demo=False)
        with pytest.raises(Conflict, match="is a demonstration"), session_scope(engine) as s:
            workflow.publish(s, off, demonstration.id, now=NOW)
        with session_scope(engine) as session:
            assert not session.scalar(select(func.count()).select_from(RecognitionAgreementRow))
            published = workflow.publish(session, context, demonstration.id, now=NOW)
    assert published.credential["credentialSubject"]["demonstration"] is True
    assert parse_agreement(published.credential).demonstration
    real = _agreement(id="urn:uuid:0b6f5c1e-2a4d-4c8e-9f00-000000000003")
    _published(settings, dataclasses.replace(context, demo=False), real)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        stored = workflow.get_agreement(session, real.id)
    assert "demonstration" not in stored.credential["credentialSubject"]
    assert not stored.agreement.demonstration
    marked_false = copy.deepcopy(published.credential)
    marked_false["credentialSubject"]["demonstration"] = False
    with pytest.raises(AgreementError, match="demonstration is true where present"):
        parse_agreement(marked_false)


def test_termination_by_a_party_from_a_day_on(node: tuple[Settings, IssuingContext]) -> None:
    settings, context = node
    agreement = _agreement()
    _published(settings, context, agreement)
    ends = TODAY + timedelta(days=30)
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            kwargs = {"reason": "协议到期前提前终止", "decision_number": "沪应急〔2026〕5号"}
            kwargs_any: dict[str, Any] = kwargs
            with pytest.raises(InvalidInput, match="only a party"):
                workflow.terminate(
                    session, context, agreement.id, by="CN-ZJ", effective_on=ends, **kwargs_any
                )
            with pytest.raises(InvalidInput, match="cannot take effect"):
                workflow.terminate(
                    session,
                    context,
                    agreement.id,
                    by="CN-SH",
                    effective_on=TODAY - timedelta(days=1),
                    **kwargs_any,
                )
            ended = workflow.terminate(
                session, context, agreement.id, by="CN-SH", effective_on=ends, **kwargs_any
            )
            assert ended.agreement.terminated_on == ends
            with pytest.raises(Conflict, match="terminated already"):
                workflow.terminate(
                    session, context, agreement.id, by="CN-JS", effective_on=ends, **kwargs_any
                )
        with session_scope(engine) as session:
            change = session.get(StoredCredential, ended.termination_id)
            assert change is not None
            assert change.type == "StatusChange"
            assert change.issuer_code == "CN-SH"
            entry = session.exec(
                select(LogEntry).where(col(LogEntry.credential_id) == ended.termination_id)
            ).one()
            assert entry.authority_code == "CN-SH"
            loaded = workflow.load_agreements(session)
    assert [a.agreement.id for a in workflow.in_force(loaded, ends - timedelta(days=1))] == [
        agreement.id
    ]
    assert workflow.in_force(loaded, ends) == []

    # What verification asks: before and after the day the termination takes effect.
    def counts(on: date) -> bool:
        return recognise(
            [a.agreement for a in loaded],
            issuer="CN-JS",
            region="CN-SH",
            kind=RecordKind.QUALIFICATION,
            category=None,
            level="junior",
            on=on,
        ).recognised

    assert counts(ends - timedelta(days=1))
    assert not counts(ends)


def test_the_api_lists_what_is_in_force_on_a_day(node: tuple[Settings, IssuingContext]) -> None:
    settings, context = node
    _published(settings, context, _agreement())
    later = _agreement(
        id="urn:uuid:0b6f5c1e-2a4d-4c8e-9f00-000000000002",
        direction=Direction.MUTUAL,
        source=None,
        target=None,
        parties=frozenset({"CN-JS", "CN-SH", "CN-ZJ"}),
        kinds=frozenset({RecordKind.CONTINUING_EDUCATION}),
        valid_from=date(2031, 1, 1),
        valid_until=None,
    )
    _published(settings, context, later)
    with TestClient(create_app(settings)) as client:

        def ids(day: str) -> list[str]:
            response = client.get("/v1/recognition", params={"date": day})
            assert response.status_code == 200
            return [a["id"] for a in response.json()["agreements"]]

        assert ids("2023-12-31") == []
        assert ids("2024-01-01") == [_agreement().id]
        assert ids("2031-06-01") == [later.id]
        first = client.get("/v1/recognition", params={"date": "2025-01-01"}).json()
        entry = first["agreements"][0]
        assert entry["direction"] == "one-way"
        assert (entry["source"], entry["target"]) == ("CN-JS", "CN-SH")
        assert entry["categories"] is None
        assert len(entry["credential"]["proof"]) == 2
        assert client.get("/v1/recognition", params={"date": "2025-13-01"}).status_code == 422

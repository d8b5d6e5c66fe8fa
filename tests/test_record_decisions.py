"""What the console rests on below the pages: a status change checked before it is
signed (``plan_change``: what ``change_status`` would do, writing nothing), a decision
sealed between the form and its confirmation (``registry.issuing.pending``), and the
authority's records found by words within a name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, func, select

from registry.calendar import china_today
from registry.credentials.lifecycle import Action, State, StatusChangeIn
from registry.errors import Conflict, InvalidInput
from registry.issuing import IssuingContext, change_once, change_status
from registry.issuing.changes import plan_change
from registry.issuing.pending import PENDING_MINUTES, PendingSeal
from registry.issuing.search import MAX_WORDS, RecordQuery, audited_criteria, search_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, Record, StatusChangeRow
from tests._support import seed_demo_node

TODAY = china_today()
NUMBER = "SH-REG-1001"  # 王立新's registration, of Shanghai
NOW = datetime.now(UTC)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        yield session


@pytest.fixture
def seeded(settings: Settings) -> tuple[Settings, str]:
    seed_demo_node(settings)
    with _session(settings) as session:
        record = session.exec(select(Record.credential_id).where(col(Record.number) == NUMBER))
        return settings, record.one()


def _decision(action: Action, days: int = 0) -> StatusChangeIn:
    return StatusChangeIn(
        action=action,
        reason="未按规定参加继续教育",
        decision_number="沪应急注〔2026〕7号",
        effective_on=TODAY + timedelta(days=days),
    )


def _leaves(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(LogEntry)).one())


def test_a_change_checked_before_signing_is_what_signing_does(seeded: tuple[Settings, str]) -> None:
    settings, record = seeded
    with _session(settings) as session:
        leaves = _leaves(session)
        plan = plan_change(session, record, _decision(Action.SUSPEND, 10), today=TODAY)
        assert (plan.before, plan.after, plan.scheduled) == (
            State.ACTIVE,
            State.SUSPENDED,
            True,
        )
        assert _leaves(session) == leaves  # nothing signed, nothing logged
        assert session.get(Record, record).scheduled_change_id is None  # type: ignore[union-attr]
        # What the rules refuse is refused before signing, as signing refuses it.
        for refused, error in (
            (_decision(Action.REINSTATE), Conflict),  # lifting an active registration
            (_decision(Action.LIFT), Conflict),  # a listing's action
            (_decision(Action.SUSPEND, 400), InvalidInput),  # more than a year ahead
            (_decision(Action.CANCEL_SCHEDULED), Conflict),  # nothing scheduled
            (_decision(Action.SUSPEND, -4000), InvalidInput),  # before the record began
        ):
            with pytest.raises(error):
                plan_change(session, record, refused, today=TODAY)
            with pytest.raises(error):
                change_status(session, IssuingContext.for_node(settings), record, refused)
            session.rollback()


def test_with_a_change_scheduled_only_its_cancellation_is_planned(
    seeded: tuple[Settings, str],
) -> None:
    settings, record = seeded
    context = IssuingContext.for_node(settings)
    with _session(settings) as session:
        change_status(session, context, record, _decision(Action.SUSPEND, 10))
    with _session(settings) as session:
        with pytest.raises(Conflict, match="has a change scheduled for"):
            plan_change(session, record, _decision(Action.REVOKE), today=TODAY)
        plan = plan_change(session, record, _decision(Action.CANCEL_SCHEDULED), today=TODAY)
        assert plan.cancels is not None
        assert plan.extra == {"cancels": plan.cancels.credential_id}
        assert (plan.before, plan.after, plan.scheduled) == (State.ACTIVE, State.ACTIVE, False)
        # On the change's day it is in effect: the state planned from is the new one,
        # and nothing is left to cancel.
        later = TODAY + timedelta(days=10)
        plan = plan_change(session, record, _decision(Action.REINSTATE, 10), today=later)
        assert (plan.before, plan.after) == (State.SUSPENDED, State.ACTIVE)
        with pytest.raises(Conflict, match="can no longer be cancelled"):
            plan_change(session, record, _decision(Action.CANCEL_SCHEDULED, 10), today=later)


def test_a_confirmation_repeated_signs_once(seeded: tuple[Settings, str]) -> None:
    settings, record = seeded
    context = IssuingContext.for_node(settings)
    seal = PendingSeal(context.node_secret)
    decision = _decision(Action.REVOKE)
    terms = {"id": record, **decision.model_dump(mode="json")}
    pending = seal.open(
        seal.seal("change", terms, role="issuer:CN-SH", now=NOW),
        kind="change",
        role="issuer:CN-SH",
        now=NOW,
    )
    answers = []
    for _ in range(2):
        with _session(settings) as session:
            answers.append(
                change_once(
                    session,
                    context,
                    record,
                    StatusChangeIn.model_validate({k: v for k, v in terms.items() if k != "id"}),
                    role="issuer:CN-SH",
                    idempotency_key=pending.key,
                    scope="console",
                    body_json=pending.terms,
                )
            )
    assert answers[0].credential_id == answers[1].credential_id
    assert (answers[0].replayed, answers[1].replayed) == (False, True)
    with _session(settings) as session:
        changes = session.exec(
            select(StatusChangeRow).where(col(StatusChangeRow.target_id) == record)
        ).all()
        assert [c.action for c in changes] == ["revoke"]


def test_a_sealed_decision_opens_only_unaltered_for_its_role_kind_and_time() -> None:
    seal = PendingSeal(b"s" * 32)
    text = seal.seal("issue", {"id_number": "110101199003070016"}, role="issuer:CN-SH", now=NOW)
    assert "110101199003070016" not in text
    opened = seal.open(text, kind="issue", role="issuer:CN-SH", now=NOW)
    assert opened.terms == {"id_number": "110101199003070016"}
    again = seal.seal("issue", {}, role="issuer:CN-SH", now=NOW)
    assert seal.open(again, kind="issue", role="issuer:CN-SH", now=NOW).key != opened.key
    altered = text[:-6] + ("AAAAAA" if not text.endswith("AAAAAA") else "BBBBBB")
    late = NOW + timedelta(minutes=PENDING_MINUTES + 1)
    for attempt, kwargs in (
        (text, {"kind": "issue", "role": "issuer:CN-JS", "now": NOW}),  # another authority
        (text, {"kind": "change", "role": "issuer:CN-SH", "now": NOW}),  # another step
        (altered, {"kind": "issue", "role": "issuer:CN-SH", "now": NOW}),
        ("not base64 at all!", {"kind": "issue", "role": "issuer:CN-SH", "now": NOW}),
        (text, {"kind": "issue", "role": "issuer:CN-SH", "now": late}),
    ):
        with pytest.raises(InvalidInput) as refused:
            seal.open(attempt, **kwargs)  # type: ignore[arg-type]
        assert refused.value.errors[0].field == "pending"
    with pytest.raises(InvalidInput):
        PendingSeal(b"t" * 32).open(text, kind="issue", role="issuer:CN-SH", now=NOW)


def test_records_are_found_by_words_within_a_name(settings: Settings) -> None:
    seed_demo_node(settings)
    context = IssuingContext.for_node(settings)
    with _session(settings) as session:

        def names(*words: str, **more: str) -> set[str | None]:
            query = RecordQuery(words=words, **more)  # type: ignore[arg-type]
            found = search_records(session, query, authority="CN-SH", lookup=context.lookup)
            return {r.name for r in found.records}

        assert names("立新") == {"王立新"}
        assert names("王", "新") == {"王立新"}
        assert names("王", "洋") == set()  # every word must hold
        assert names("立新", number=NUMBER) == {"王立新"}
        assert names("100%_") == set()  # a wildcard is a character like any other
        assert names("  ") == names()  # an empty word asks nothing
        with pytest.raises(InvalidInput, match="at most"):
            names(*["字"] * (MAX_WORDS + 1))
    # A search by words names someone: it goes in the access audit, hashed.
    audited = audited_criteria(RecordQuery(words=("立新",)), node_secret=b"n" * 32)
    assert audited == {"by": "records", "words": "立新"}

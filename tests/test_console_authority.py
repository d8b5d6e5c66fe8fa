"""What the authority's console reads: its own listings with the days that matter and
the actions the law allows on each; what a trust-list proposal changes, in items;
the recognition agreements open for signatures; how far its own log is witnessed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from api.examples import record_examples
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.credentials.records import ListingIn
from registry.demo import DEMO_LISTED_ORGANISATIONS, credit_code
from registry.enforcement.own_listings import listing_actions, own_listing, own_listings
from registry.enforcement.timeline import ListingStatus
from registry.errors import InvalidInput, NotFound
from registry.federation.own_log import log_witnessing
from registry.issuing import IssuingContext, change_status, issue_records
from registry.recognition import Agreement, Direction, RecordKind
from registry.recognition import agreements as workflow
from registry.recognition.pending import pending_agreement, pending_agreements
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import RecordParty
from registry.trust.differences import Difference, differences
from registry.trust.document import Quorum, TrustListContent
from registry.trust.store import current_version
from tests._support import seed_demo_node

EARLIEST = date(2025, 3, 11)
OLD_CODE = credit_code("91310117MA1J30027")


def _in(status: str, since: date = date(2024, 3, 10)) -> ListingStatus:
    return ListingStatus(status, since)


@pytest.mark.parametrize(
    ("status", "on", "expected"),
    [
        # Before the earliest removal date: correction (or withdrawal) only.
        ("in-force", EARLIEST - timedelta(days=1), ("correct", "withdraw")),
        ("not-yet-in-force", EARLIEST - timedelta(days=400), ("correct", "withdraw")),
        # From it, credit repair may lift it early.
        ("in-force", EARLIEST, ("lift", "correct", "withdraw")),
        ("lifted", EARLIEST, ("reverse-lift", "withdraw")),
        # Expired by itself, or ended for good: nothing.
        ("expired", date(2027, 3, 11), ()),
        ("withdrawn", EARLIEST, ()),
        ("revoked", EARLIEST, ()),
        ("superseded", EARLIEST, ()),
    ],
)
def test_the_actions_the_law_allows_on_a_day(
    status: str, on: date, expected: tuple[str, ...]
) -> None:
    assert listing_actions(_in(status), earliest_removal_on=EARLIEST, on=on) == expected


def _old_listing(settings: Settings, today: date) -> str:
    body = record_examples(today)["listing"]["value"]
    body["listed"] = {
        "kind": "organisation",
        "name": "上海某老化工有限公司",
        "credit_code": OLD_CODE,
    }
    body["listed_on"] = (today - timedelta(days=400)).isoformat()
    body["listing_decision_number"] = f"沪应急失信〔{today.year}〕77号"
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        issue_records(session, IssuingContext.for_node(settings), [ListingIn.model_validate(body)])
        found: str = session.exec(
            select(RecordParty.credential_id).where(RecordParty.credit_code == OLD_CODE)
        ).one()
    return found


def test_an_authority_reads_its_own_listings_with_their_days_and_actions(
    settings: Settings,
) -> None:
    seed_demo_node(settings)
    today = china_today(datetime.now(UTC))
    old = _old_listing(settings, today)
    name, code = DEMO_LISTED_ORGANISATIONS["CN-SH"]
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        every = own_listings(session, "CN-SH", on=today)
        assert every.total == 2
        assert [x.listed["name"] for x in every.entries] == [name, "上海某老化工有限公司"]
        recent, older = every.entries
        # 200 days listed: credit repair not yet; 400 days: from its earliest removal date.
        assert recent.actions == ("correct", "withdraw")
        assert recent.earliest_removal_on > today
        assert older.actions == ("lift", "correct", "withdraw")
        assert older.earliest_removal_on <= today < older.expires_on
        assert recent.identifier == code
        # By words of a name (the listed party's or a related person's), by credit code.
        assert own_listings(session, "CN-SH", on=today, words=["老化工"]).total == 1
        assert own_listings(session, "CN-SH", on=today, words=["孙某"]).total == 1
        assert own_listings(session, "CN-SH", on=today, words=["老化工", "孙某"]).total == 0
        assert own_listings(session, "CN-SH", on=today, credit_code=code).entries == [recent]
        # Paged, newest listing first; past the last page, the last.
        second = own_listings(session, "CN-SH", on=today, per_page=1, page=5)
        assert (second.page, second.pages, second.entries) == (2, 2, [older])
        # Another authority's listings are not the console's.
        assert own_listings(session, "CN-JS", on=today).total == 2
        with pytest.raises(NotFound):
            own_listing(session, "CN-JS", old, on=today)
        with pytest.raises(InvalidInput) as refused:
            own_listings(session, "CN-SH", on=today, state="gone", page=0, credit_code="12")
        assert {e.field for e in refused.value.errors} == {"state", "page", "q"}

    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        change_status(
            session,
            IssuingContext.for_node(settings),
            old,
            StatusChangeIn(
                action=Action.LIFT,
                reason="信用修复",
                decision_number="沪应急修〔2026〕3号",
                effective_on=today,
            ),
        )
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        assert own_listings(session, "CN-SH", on=today, state="in-force").total == 1
        [lifted] = own_listings(session, "CN-SH", on=today, state="ended").entries
        assert lifted.status.status == "lifted"
        assert lifted.actions == ("reverse-lift", "withdraw")
        detail = own_listing(session, "CN-SH", old, on=today)
        [change] = detail.changes
        assert (change.action, change.reason, change.decision_number) == (
            "lift",
            "信用修复",
            "沪应急修〔2026〕3号",
        )
        # The day before the lift, it was in force.
        assert own_listing(session, "CN-SH", old, on=today - timedelta(days=1)).status.in_force


def _content(session: Session) -> TrustListContent:
    current = current_version(session)
    assert current is not None
    return current.content


def test_what_a_proposal_changes_in_items(settings: Settings) -> None:
    seed_demo_node(settings, records=False)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        now = _content(session)
    assert differences(now, now) == ()
    assert [d.kind for d in differences(None, now)] == ["founder"] * len(now.members)
    shanghai = now.member("CN-SH")
    jiangsu = now.member("CN-JS")
    assert shanghai is not None
    assert jiangsu is not None
    key = shanghai.keys[0]
    until = datetime(2030, 1, 1, tzinfo=UTC)
    new_key = dataclasses.replace(key, verification_method=key.verification_method + "-2")
    members = tuple(
        dataclasses.replace(
            m, keys=(dataclasses.replace(key, valid_until=until), new_key), witness=None
        )
        if m.code == "CN-SH"
        else dataclasses.replace(
            m,
            keys=tuple(
                dataclasses.replace(k, compromised_since=until, revocation_reason="key lost")
                for k in m.keys
            ),
        )
        if m.code == "CN-JS"
        else m
        for m in now.members
        if m.code != "CN-AH"
    )
    proposed = dataclasses.replace(
        now, version=now.version + 1, previous="0" * 64, members=members, quorum=Quorum(count=2)
    )
    found = differences(now, proposed)
    assert Difference("key-retired", "CN-SH", key.verification_method, until) in found
    assert Difference("key-added", "CN-SH", new_key.verification_method, key.valid_from) in found
    assert Difference("key-revoked", "CN-JS", jiangsu.keys[0].verification_method, until) in found
    assert any(d.kind == "witness-removed" and d.member == "CN-SH" for d in found)
    assert Difference("member-leaves", "CN-AH", "安徽省应急管理厅") in found
    assert found[-1] == Difference("quorum-changed", detail="2")
    # And the other way: the member joins, the witness is added.
    back = {d.kind for d in differences(proposed, now)}
    assert {"member-joins", "witness-added", "quorum-changed"} <= back


def test_agreements_open_for_signatures_say_who_has_signed(settings: Settings) -> None:
    seed_demo_node(settings, records=False)
    context = IssuingContext.for_node(settings)
    at = datetime.now(UTC)
    agreement = Agreement(
        id="urn:uuid:0b6f5c1e-2a4d-4c8e-9f00-00000000c0de",
        parties=frozenset({"CN-JS", "CN-SH", "CN-ZJ"}),
        direction=Direction.MUTUAL,
        kinds=frozenset({RecordKind.REGISTRATION}),
        levels=frozenset({"junior"}),
        valid_from=date(2027, 1, 1),
        basis_number="沪苏浙应急〔2026〕5号",
        basis_title="沪苏浙初级注册安全工程师注册互认协议",
    )
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        assert pending_agreements(session, at=at) == []
        workflow.propose(session, agreement, proposer="CN-SH")
        workflow.sign(session, context.key_store, agreement.id, "CN-ZJ")
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        [pending] = pending_agreements(session, at=datetime.now(UTC))
        assert pending.agreement == agreement
        assert (pending.proposer, pending.signers, pending.missing) == (
            "CN-SH",
            ("CN-ZJ",),
            ("CN-JS", "CN-SH"),
        )
        assert not pending.complete
        for party in ("CN-SH", "CN-JS"):
            workflow.sign(session, context.key_store, agreement.id, party)
        assert pending_agreement(session, agreement.id, at=datetime.now(UTC)).complete
        workflow.publish(session, context, agreement.id)
        assert pending_agreements(session, at=datetime.now(UTC)) == []
        with pytest.raises(NotFound):
            pending_agreement(session, agreement.id, at=datetime.now(UTC))


@pytest.mark.parametrize("witnessed", [True, False])
def test_how_far_an_own_log_is_witnessed(sqlite_url: str, tmp_path: Path, witnessed: bool) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, demo=True)
    seed_demo_node(settings, witnessed=witnessed)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        trust = _content(session)
        found = log_witnessing(session, "CN-SH", trust)
        assert found is not None
        assert found.size > 0
        assert found.required == 2  # a majority of the three others
        assert found.witnessed is witnessed
        if witnessed:
            assert set(found.cosigners) <= {"CN-JS", "CN-ZJ", "CN-AH"}
            assert found.witnessed_size == found.size
        else:
            assert (found.cosigners, found.witnessed_size) == ({}, None)
        assert log_witnessing(session, "CN-SH", None) is not None
        assert log_witnessing(session, "CN-XX", trust) is None

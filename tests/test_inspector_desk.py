"""What the inspector's desk asks of the domain, on SQLite and PostgreSQL: a search by
words within a name, a listing's file and the check exported from it, lists of
companies checked, and companies followed with the changes about them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.app import create_app
from registry.accounts import create_user
from registry.calendar import china_today
from registry.crypto.jcs import canonical_bytes
from registry.demo import DEMO_LISTED_ORGANISATIONS
from registry.demo.records import DEMO_LISTED_ENGINEER
from registry.demo.synthetic import credit_code
from registry.enforcement.company_lists import (
    check_rows,
    company_rows,
    inspection_check,
    keep_check,
    row_answers,
)
from registry.enforcement.follows import (
    cancel_follow,
    follow_company,
    followed_changes,
    follows_of,
    mark_read,
)
from registry.enforcement.inspection import CheckQuery, check_audited
from registry.enforcement.listing_file import CHECK_TYPE, check_document, listing_file
from registry.errors import InvalidInput, NotFound
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.spreadsheets import xlsx_bytes
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import AccessAudit, RecordParty, StoredCredential, UserAccount
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tokens import Caller
from tests._support import seed_demo_node

AH_NAME, AH_CODE = DEMO_LISTED_ORGANISATIONS["CN-AH"]  # 安徽淮北某矿业有限公司
ZJ_MINE = DEMO_LISTED_ENGINEER[1]  # 浙江丽水某矿业有限公司
CLEAN = credit_code("91310115MA1H80021")  # a company no listing names
MISTYPED = CLEAN[:-1] + ("0" if CLEAN[-1] != "0" else "1")


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _bearer(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _inspectors(settings: Settings) -> tuple[UserAccount, UserAccount]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        one, _ = create_user(session, "insp-one", role="enforcement", password="x" * 16)
        two, _ = create_user(session, "insp-two", role="enforcement", password="x" * 16)
        return one, two


def _issue_listing(client: TestClient, tokens: dict[str, str], name: str, code: str) -> str:
    today = china_today(datetime.now(UTC))
    body = {
        "type": "UntrustworthinessListing",
        "authority": "CN-SH",
        "listed": {"kind": "organisation", "name": name, "credit_code": code},
        "legal_basis": "《安全生产严重失信主体名单管理办法》（应急管理部令第11号）第六条",
        "penalty_decision_number": f"沪应急罚〔{today.year}〕99号",
        "listing_decision_number": f"沪应急失信〔{today.year}〕19号",
        "listed_on": (today - timedelta(days=1)).isoformat(),
        "measures": ["依法依规实施联合惩戒"],
    }
    answer = client.post("/v1/credentials", json=body, headers=_bearer(tokens, "issuer:CN-SH"))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["credential"]["id"])


def test_a_name_is_searched_by_the_words_within_it_as_possible_matches_only(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = node
    inspector = _bearer(tokens, "enforcement")

    def names(body: dict[str, str]) -> tuple[list[str], list[str]]:
        answer = client.post("/v1/blacklist/search", json=body, headers=inspector)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        return (
            [x["listed"]["name"] for x in found["listings"]],
            sorted(x["listed"]["name"] for x in found["possibleMatches"]),
        )

    assert names({"name": "矿业"}) == ([], sorted([AH_NAME, ZJ_MINE]))
    assert names({"name": "淮北 矿业"}) == ([], [AH_NAME])
    assert names({"name": "淮北 化工"}) == ([], [])
    # One character tells nothing apart: only the same or a near name is looked for.
    assert names({"name": "某"}) == ([], [])
    assert names({"name": AH_NAME}) == ([], [AH_NAME])
    assert names({"credit_code": AH_CODE}) == ([AH_NAME], [])


def test_a_listing_file_carries_its_status_history_and_a_proof_that_verifies(
    node: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    today = china_today(datetime.now(UTC))
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        listing_id = session.exec(
            select(RecordParty.credential_id).where(col(RecordParty.credit_code) == AH_CODE)
        ).one()
        file = listing_file(session, listing_id, on=today)
        assert file.found.authority == "CN-AH"
        assert file.found.matched_name == AH_NAME
        assert file.found.status is not None
        assert file.found.status.in_force
        assert file.subject["listed"]["creditCode"] == AH_CODE
        assert file.proof is not None
        checkpoint = file.proof.head
        assert checkpoint.size == file.proof.tree_size
        verify_inclusion(
            leaf_hash(canonical_bytes(file.found.document)),
            file.proof.leaf_index,
            file.proof.tree_size,
            file.proof.hashes,
            checkpoint.root,
        )
        at = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
        check = check_document(file, checked_by="检查员", username="insp", node="http://n", at=at)
        assert check["type"] == CHECK_TYPE
        assert check["checkedBy"] == {"name": "检查员", "account": "insp"}
        assert check["status"]["status"] == "in-force"
        assert check["credential"]["id"] == listing_id
        assert check["proof"]["treeSize"] == file.proof.tree_size
        assert [base64.b64decode(h) for h in check["proof"]["inclusionProof"]] == file.proof.hashes
        json.dumps(check)  # it is JSON throughout
        other = session.exec(
            select(StoredCredential.id).where(col(StoredCredential.type) == "Qualification")
        ).first()
        for missing in ("urn:uuid:no-such-thing", other):
            with pytest.raises(NotFound):
                listing_file(session, str(missing), on=today)


def test_a_list_of_companies_is_answered_failures_first_and_audited(
    node: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    text = (
        "统一社会信用代码,单位名称\n"
        "91310115MA1H9001,上海某公司\n"  # not a credit code
        f"{CLEAN},上海某清白公司\n"
        f"{AH_CODE},{AH_NAME}\n"
        f"{CLEAN},{ZJ_MINE}\n"  # the same name as a listed company
        ",没有代码的公司\n"
        f"{MISTYPED},上海某另一公司\n"
    )
    rows = company_rows(text.encode("gb18030"), kind="csv")
    assert [r.name for r in rows][:2] == ["上海某公司", "上海某清白公司"]
    for bad in ("名称\n某公司\n", "统一社会信用代码,电话\n1,2\n", "统一社会信用代码\n"):
        with pytest.raises(InvalidInput):
            company_rows(bad.encode(), kind="csv")
    one, _ = _inspectors(settings)
    caller = Caller(one.token_id, one.username, one.role)
    now = datetime.now(UTC)
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            before = len(session.exec(select(AccessAudit)).all())
            result = check_audited(
                session,
                CheckQuery(check_rows(rows)),
                caller=caller,
                lookup=IssuingContext.for_node(settings).lookup,
                node_secret=IssuingContext.for_node(settings).node_secret,
                now=now,
            )
            answers = row_answers(session, rows, result)
            kept = keep_check(
                session, one.id or 0, name="list.csv", answers=answers, result=result, now=now
            )
        with session_scope(engine) as session:
            assert len(session.exec(select(AccessAudit)).all()) == before + 1
            again = inspection_check(session, one.id or 0, kept.id or 0)
            with pytest.raises(NotFound):
                inspection_check(session, (one.id or 0) + 1, kept.id or 0)
    assert [(a["row"], a["outcome"], a["why"]) for a in answers] == [
        (3, "listed", "listed"),
        (4, "possible", "same-name"),
        (6, "possible", "check-character"),
        (1, "error", "a unified social credit code has 18 characters, not 16"),
        (5, "error", "no credit code"),
        (2, "clear", "clear"),
    ]
    assert answers[0]["listings"][0]["decidedBy"] == "CN-AH"
    assert (again.rows, again.listed) == (6, 1)
    assert json.loads(again.document) == answers


def test_an_inspector_follows_companies_sees_what_changes_and_no_one_else_does(
    node: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = node
    one, two = _inspectors(settings)
    assert one.id is not None
    assert two.id is not None
    now = datetime.now(UTC)
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            followed = follow_company(
                session, one.id, credit_code=AH_CODE.lower(), name=" 淮北 ", note="复查", now=now
            )
            for wrong, field in ((AH_CODE, "credit_code"), ("12", "credit_code")):
                with pytest.raises(InvalidInput) as refused:
                    follow_company(session, one.id, credit_code=wrong, now=now)
                assert [e.field for e in refused.value.errors] == [field]
        with session_scope(engine) as session:
            [kept] = follows_of(session, one.id)
            assert (kept.credit_code, kept.name, kept.note) == (AH_CODE, "淮北", "复查")
            assert follows_of(session, two.id) == []
            # The demo's listing of the company was there before: read, not new.
            seen = followed_changes(session, one.id)
            assert [(c.kind, c.new) for c in seen.changes] == [("listing", False)]
            assert followed_changes(session, two.id).changes == []
        new_id = _issue_listing(client, tokens, AH_NAME, AH_CODE)
        _issue_listing(client, tokens, "上海某无关公司", CLEAN)
        with session_scope(engine) as session:
            changes = followed_changes(session, one.id).changes
            assert next((c.credential_id, c.new, c.company) for c in changes) == (
                new_id,
                True,
                AH_NAME,
            )
            assert [c.new for c in changes] == [True, False]
            assert changes[0].effective_on == china_today(now) - timedelta(days=1)
            mark_read(session, one.id, now=now)
        withdrawn = client.post(
            f"/v1/credentials/{new_id}/status",
            json={
                "action": "withdraw",
                "reason": "行政处罚决定被撤销",
                "decision_number": "复〔2026〕3号",
                "effective_on": china_today(now).isoformat(),
            },
            headers=_bearer(tokens, "issuer:CN-SH"),
        )
        assert withdrawn.status_code in (200, 201), withdrawn.text
        with session_scope(engine) as session:
            changes = followed_changes(session, one.id).changes
            assert next((c.kind, c.action, c.listing_id, c.new) for c in changes) == (
                "listing-change",
                "withdraw",
                new_id,
                True,
            )
            assert changes[0].decision_number == "复〔2026〕3号"
            assert [c.new for c in changes[1:]] == [False, False]
            with pytest.raises(NotFound):
                cancel_follow(session, two.id, followed.id or 0, now=now)
            cancel_follow(session, one.id, followed.id or 0, now=now)
        with session_scope(engine) as session:
            assert follows_of(session, one.id) == []
            assert followed_changes(session, one.id).changes == []
            with pytest.raises(NotFound):
                cancel_follow(session, one.id, followed.id or 0, now=now)
            # Followed again after a cancellation: a new follow.
            follow_company(session, one.id, credit_code=AH_CODE, now=now)


def test_a_list_of_companies_reads_from_a_workbook_too() -> None:
    body = xlsx_bytes(
        "企业",
        ["单位名称", "统一社会信用代码"],
        [[AH_NAME, AH_CODE], ["", ""], ["上海某清白公司", CLEAN]],
    )
    rows = company_rows(body, kind="xlsx")
    assert [(r.credit_code, r.name) for r in rows] == [
        (AH_CODE, AH_NAME),
        (CLEAN, "上海某清白公司"),
    ]
    with pytest.raises(InvalidInput):
        company_rows(b"not a workbook", kind="xlsx")

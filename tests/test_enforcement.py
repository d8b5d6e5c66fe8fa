"""The untrustworthiness list for inspectors: the date rules on each boundary day."""

from __future__ import annotations

import base64
import csv
import hmac
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from api import create_app
from api.examples import blacklist_check_examples, blacklist_search_examples, record_examples
from api.schemas.common import LogProofOut, ProofBundleOut
from api.schemas.enforcement import (
    AccessTrailOut,
    CheckOut,
    DeliveriesOut,
    FeedPageOut,
    ListingOut,
    PublicListOut,
    SearchOut,
    SubscriptionOut,
)
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.credentials.records import ListingIn
from registry.demo import (
    DEMO_LISTED_ENGINEER,
    DEMO_LISTED_ORGANISATIONS,
    DEMO_LISTED_PERSON,
    resident_id,
    seed_demo_tokens,
)
from registry.enforcement import TERMS, listing_status, restricts_practice
from registry.enforcement.audit import criteria_hash
from registry.enforcement.dispatcher import dispatch
from registry.enforcement.inspection import CheckQuery, check_audited, search_audited
from registry.enforcement.search import CheckRow, ListingQuery, SearchResult, search_listings
from registry.enforcement.webhooks import KINDS, signature
from registry.errors import InvalidInput, RegistryError
from registry.issuing import IssuingContext, change_status, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import AccessAudit, ApiToken, RecordParty
from registry.tlog.checkpoint import parse_checkpoint
from registry.tlog.merkle import leaf_hash, verify_inclusion
from registry.tokens import Caller
from tests._support import LOOPBACK, seed_demo_node

LISTED = date(2024, 3, 10)
# 民法典第二百零一条、第二百零二条: 12 months run through 2025-03-10, 3 years through
# 2027-03-10; each date is the first day after.
EARLIEST = date(2025, 3, 11)  # the first day credit repair may lift it
EXPIRES = date(2027, 3, 11)  # the first day it is no longer in force
DAY = timedelta(days=1)


def _status(on: date, *changes: tuple[date, str]) -> str:
    return listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=changes, on=on).status


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (LISTED - DAY, "not-yet-in-force"),
        (LISTED, "in-force"),
        (EXPIRES - DAY, "in-force"),
        (EXPIRES, "expired"),
        (date(2040, 1, 1), "expired"),
    ],
)
def test_in_force_from_the_listing_date_until_the_day_before_expiry(
    on: date, expected: str
) -> None:
    assert _status(on) == expected
    assert listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=(), on=on).in_force == (
        expected == "in-force"
    )


def test_a_lift_takes_effect_on_its_day_and_expiry_still_comes() -> None:
    lift = (EARLIEST, "lifted")
    assert _status(EARLIEST - DAY, lift) == "in-force"
    assert _status(EARLIEST, lift) == "lifted"
    assert _status(EXPIRES - DAY, lift) == "lifted"
    assert _status(EXPIRES, lift) == "expired"
    found = listing_status(listed_on=LISTED, expires_on=EXPIRES, changes=[lift], on=EARLIEST)
    assert found.since == EARLIEST


def test_a_reversed_lift_restores_the_listing_from_its_day() -> None:
    lift, reversal = (EARLIEST, "lifted"), (date(2025, 6, 1), "listed")
    assert _status(date(2025, 5, 31), lift, reversal) == "lifted"
    assert _status(date(2025, 6, 1), lift, reversal) == "in-force"
    assert _status(EXPIRES - DAY, lift, reversal) == "in-force"
    assert _status(EXPIRES, lift, reversal) == "expired"
    # Reversed from the lift's own day: as if it had never been lifted.
    void = (EARLIEST, "listed")
    assert _status(EARLIEST, lift, void) == "in-force"


def test_a_withdrawal_removes_it_from_its_day_as_if_never_in_force() -> None:
    withdrawal = (date(2025, 1, 1), "withdrawn")
    assert _status(date(2024, 12, 31), withdrawal) == "in-force"
    assert _status(date(2025, 1, 1), withdrawal) == "withdrawn"
    assert _status(EXPIRES, withdrawal) == "withdrawn"  # not "expired": it was undone
    # Dated on the listing date, the decision was overturned entirely.
    voided = (LISTED, "withdrawn")
    assert _status(LISTED, voided) == "withdrawn"
    assert not listing_status(
        listed_on=LISTED, expires_on=EXPIRES, changes=[voided], on=LISTED + DAY
    ).in_force
    # A lifted listing can still be withdrawn.
    assert _status(date(2026, 1, 1), (EARLIEST, "lifted"), (date(2026, 1, 1), "withdrawn")) == (
        "withdrawn"
    )


def test_changes_apply_in_the_order_recorded_each_from_its_day() -> None:
    # Recorded: a lift, then its reversal dated back to the lift's day, then a
    # second lift. On each day, the last change in force by then decides.
    changes = ((EARLIEST, "lifted"), (EARLIEST, "listed"), (date(2026, 1, 1), "lifted"))
    assert _status(EARLIEST, *changes) == "in-force"
    assert _status(date(2025, 12, 31), *changes) == "in-force"
    assert _status(date(2026, 1, 1), *changes) == "lifted"


# -- searching the federation's listings ------------------------------------------------


@pytest.fixture
def seeded(settings: Settings) -> Iterator[tuple[Session, IssuingContext]]:
    seed_demo_node(settings)
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        yield session, context


def _search(seeded: tuple[Session, IssuingContext], **asked: Any) -> SearchResult:
    session, context = seeded
    return search_listings(
        session,
        ListingQuery(**asked),
        lookup=context.lookup,
        node_secret=context.node_secret,
        today=china_today(datetime.now(UTC)),
    )


def test_a_listing_by_one_province_is_found_from_every_province(
    seeded: tuple[Session, IssuingContext],
) -> None:
    _name, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
    for region in ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH"):
        found = _search(seeded, credit_code=code, region=region)
        assert [(f.authority, f.role) for f in found.matches] == [("CN-AH", "listed")]
        assert found.query == {
            "by": "credit-code",
            "creditCode": code,
            "region": region,
            "date": found.on.isoformat(),
        }
        assert found.possible == []
    assert _search(seeded, credit_code=code, decided_by="CN-JS").matches == []
    assert len(_search(seeded, credit_code=code, decided_by="CN-AH").matches) == 1


def test_each_listing_found_has_a_proof_that_verifies(
    seeded: tuple[Session, IssuingContext],
) -> None:
    _person_name, person_id = DEMO_LISTED_PERSON
    found = _search(seeded, id_number=person_id)
    assert found.query["residentIdMasked"].startswith(person_id[:4])
    assert person_id not in json.dumps(found.query)
    [listing] = found.matches
    assert listing.authority == "CN-JS"
    assert listing.status is not None
    assert listing.status.in_force
    index, size, hashes = found.proofs[listing.credential_id]
    root = parse_checkpoint(found.checkpoints["CN-JS"].split("\n\n")[0] + "\n").root
    verify_inclusion(leaf_hash(listing.canonical.encode()), index, size, hashes, root)


def test_a_related_person_is_found_in_the_role_the_listing_gives(
    seeded: tuple[Session, IssuingContext],
) -> None:
    found = _search(seeded, id_number=resident_id("310115", "19700822", "017"))
    assert [(f.authority, f.role) for f in found.matches] == [("CN-SH", "principal")]


def test_a_name_found_is_a_possible_match_never_a_match(
    seeded: tuple[Session, IssuingContext],
) -> None:
    """A name identifies no one (the same names are common): by name, the same name
    and a near one are possible matches only; the credit code's hit is a match."""
    name, code = DEMO_LISTED_ORGANISATIONS["CN-SH"]
    same = _search(seeded, name=f" {name[:4]} {name[4:]} ")  # spacing aside
    assert same.matches == []
    assert [(f.authority, f.matched_name) for f in same.possible] == [("CN-SH", name)]
    near = _search(seeded, name=name.replace("有限公司", "股份有限公司"))
    assert near.matches == []
    assert [f.matched_name for f in near.possible] == [name]
    assert [f.authority for f in _search(seeded, credit_code=code).matches] == ["CN-SH"]
    person, number = DEMO_LISTED_PERSON
    assert _search(seeded, name=person).matches == []
    assert [f.role for f in _search(seeded, name=person).possible] == ["listed"]
    assert [f.role for f in _search(seeded, id_number=number).matches] == ["listed"]


def test_the_day_asked_decides_what_is_in_force(
    seeded: tuple[Session, IssuingContext],
) -> None:
    _, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]  # listed 30 days ago
    today = china_today(datetime.now(UTC))
    assert _search(seeded, credit_code=code, on=today - timedelta(days=31)).matches == []
    assert len(_search(seeded, credit_code=code, on=today - timedelta(days=30)).matches) == 1
    far = today + timedelta(days=3 * 366)
    assert _search(seeded, credit_code=code, on=far).matches == []  # expired by then


@pytest.mark.parametrize(
    "asked",
    [
        {},
        {"credit_code": "91320900MA1Q50011X", "name": "某公司"},
        {"credit_code": "not a code"},
        {"id_number": "110101199003071234"},
        {"name": "（）"},
        {"name": "某公司", "region": "CN-XX"},
    ],
)
def test_bad_searches_are_refused(seeded: tuple[Session, IssuingContext], asked: Any) -> None:
    with pytest.raises(RegistryError):
        _search(seeded, **asked)


def test_a_lifted_listing_and_a_withdrawn_one_as_the_demo_has_them(
    seeded: tuple[Session, IssuingContext],
) -> None:
    today = china_today(datetime.now(UTC))
    _, lifted = DEMO_LISTED_ORGANISATIONS["CN-JS"]  # lifted by credit repair 10 days ago
    assert _search(seeded, credit_code=lifted).matches == []
    [before] = _search(seeded, credit_code=lifted, on=today - timedelta(days=11)).matches
    assert [(c.action, c.state_after, c.effective_on) for c in before.changes] == [
        ("lift", "lifted", today - timedelta(days=10))
    ]
    assert before.changes[0].decision_number == "苏应急修复〔2026〕3号"
    _, withdrawn = DEMO_LISTED_ORGANISATIONS["CN-ZJ"]  # withdrawn 15 days ago
    assert _search(seeded, credit_code=withdrawn).matches == []
    assert len(_search(seeded, credit_code=withdrawn, on=today - timedelta(days=16)).matches) == 1


# -- POST /v1/blacklist/search ----------------------------------------------------------


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def test_every_example_in_the_api_finds_what_it_says(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    answers = {
        name: client.post("/v1/blacklist/search", json=example["value"], headers=headers)
        for name, example in blacklist_search_examples().items()
    }
    assert all(a.status_code == 200 for a in answers.values()), answers
    found = {name: a.json() for name, a in answers.items()}
    assert [x["decidedBy"] for x in found["organisation"]["listings"]] == ["CN-AH"]
    assert [x["decidedBy"] for x in found["person-elsewhere"]["listings"]] == ["CN-JS"]
    assert found["by-name"]["listings"] == []
    assert [x["decidedBy"] for x in found["by-name"]["possibleMatches"]] == ["CN-SH"]
    assert found["possible-match"]["listings"] == []
    assert [x["decidedBy"] for x in found["possible-match"]["possibleMatches"]] == ["CN-SH"]
    listing = found["organisation"]["listings"][0]
    assert listing["status"]["status"] == "in-force"
    assert listing["proof"]["checkpoint"].startswith("registry.yrd.example/CN-AH\n")
    # The ID number asked about is not in the answer, masked or otherwise.
    person = blacklist_search_examples()["person-elsewhere"]["value"]["id_number"]
    assert person not in answers["person-elsewhere"].text


def test_two_people_of_one_name_are_each_a_possible_match_and_neither_a_match(
    settings: Settings, api: tuple[TestClient, dict[str, str]]
) -> None:
    """A person found by name alone is a possible match, never an exact one (the same
    names are common); their ID number finds them exactly."""
    client, tokens = api
    person, _number = DEMO_LISTED_PERSON
    other = resident_id("320902", "19820611", "013")  # someone else of the same name
    body = record_examples(china_today())["listing"]["value"]
    body["related_persons"] = [{"name": person, "id_number": other, "role": "principal"}]
    issuer = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    assert client.post("/v1/credentials", json=body, headers=issuer).status_code == 201
    inspector = {"Authorization": f"Bearer {tokens['enforcement']}"}
    by_name = client.post("/v1/blacklist/search", json={"name": person}, headers=inspector)
    assert by_name.status_code == 200
    answer = SearchOut.model_validate(by_name.json())
    assert answer.listings == []
    assert sorted((x.decided_by, x.matched_as) for x in answer.possible_matches) == [
        ("CN-JS", "listed"),
        ("CN-SH", "principal"),
    ]
    by_id = client.post("/v1/blacklist/search", json={"id_number": other}, headers=inspector)
    found = SearchOut.model_validate(by_id.json())
    assert [(x.decided_by, x.matched_as) for x in found.listings] == [("CN-SH", "principal")]
    assert found.possible_matches == []


def test_only_enforcement_searches_and_bad_questions_are_refused(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    asked = {"credit_code": DEMO_LISTED_ORGANISATIONS["CN-AH"][1]}
    assert client.post("/v1/blacklist/search", json=asked).status_code == 401
    for role in ("verifier", "admin"):
        refused = client.post(
            "/v1/blacklist/search",
            json=asked,
            headers={"Authorization": f"Bearer {tokens[role]}"},
        )
        assert refused.status_code == 403, role
    assert client.get("/v1/blacklist/search").status_code == 405
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    for bad in (
        {},
        {**asked, "name": "某公司"},
        {"id_number": "110101199003071234"},
        {"credit_code": "bad"},
        {**asked, "region": "CN-XX"},
        {**asked, "surprise": 1},
    ):
        answer = client.post("/v1/blacklist/search", json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert "110101199003071234" not in answer.text


# -- the access audit -------------------------------------------------------------------


def test_each_search_is_audited_without_its_criteria_in_clear(
    api: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = api
    enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    person = DEMO_LISTED_PERSON[1]
    _, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
    for body in ({"id_number": person}, {"credit_code": code}, {"credit_code": code}):
        assert client.post("/v1/blacklist/search", json=body, headers=enforcement).is_success
    # A refused search is not a search: nothing is recorded.
    bad = client.post("/v1/blacklist/search", json={"credit_code": "bad"}, headers=enforcement)
    assert bad.status_code == 422
    trail = client.get("/v1/audit/access", headers=admin)
    assert trail.status_code == 200
    entries = trail.json()["entries"]
    assert [(e["action"], e["role"], e["results"]) for e in entries] == [
        ("blacklist-search", "enforcement", 1)
    ] * 3
    assert person not in trail.text
    assert code not in trail.text
    # The same criteria give the same keyed hash; the holder of the node secret can
    # tell what was asked about, by asking the same.
    newest, middle, oldest = entries
    assert newest["criteriaHash"] == middle["criteriaHash"] != oldest["criteriaHash"]
    context = IssuingContext.for_node(settings)
    today = china_today(datetime.now(UTC)).isoformat()
    expected = criteria_hash(
        {"by": "credit-code", "creditCode": code, "date": today},
        node_secret=context.node_secret,
    )
    assert newest["criteriaHash"] == expected
    # Paging, and only administrators read the trail.
    first = client.get("/v1/audit/access?limit=2", headers=admin).json()
    assert len(first["entries"]) == 2
    rest = client.get(f"/v1/audit/access?before={first['next']}", headers=admin).json()
    assert [e["id"] for e in rest["entries"]] == [oldest["id"]]
    assert client.get("/v1/audit/access", headers=enforcement).status_code == 403


def test_the_audit_trail_cannot_be_changed_or_deleted(
    api: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = api
    body = {"credit_code": DEMO_LISTED_ORGANISATIONS["CN-AH"][1]}
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    assert client.post("/v1/blacklist/search", json=body, headers=headers).is_success
    with engine_scope(settings.database_url) as engine:
        for statement in (
            "UPDATE access_audit SET results = 0",
            "DELETE FROM access_audit",
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.exec_driver_sql(statement)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT results FROM access_audit").all() == [(1,)]


# -- POST /v1/blacklist/check -----------------------------------------------------------


def test_a_bulk_check_answers_every_row_in_order_as_json_and_csv(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    example = blacklist_check_examples()["mixed"]["value"]
    rows = [*example["rows"], {"id_number": "110101199003071234"}, {"surprise": "x"}]
    answer = client.post("/v1/blacklist/check", json={**example, "rows": rows}, headers=headers)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["row"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert [r.get("listed") for r in results[:3]] == [True, True, False]
    assert [x["decidedBy"] for x in results[0]["listings"]] == ["CN-AH"]
    assert [x["decidedBy"] for x in results[1]["listings"]] == ["CN-JS"]
    # Coded measures, with their labels (the demo codes Jiangsu's listing of a person).
    assert results[0]["listings"][0]["measureCodes"] == []
    assert results[1]["listings"][0]["measureCodes"] == ["key-supervision", "restrict-practice"]
    assert results[1]["listings"][0]["measureLabels"][1] == "依法限制或禁止从事相关职业（执业）"
    assert all("error" in r for r in results[3:])
    person = DEMO_LISTED_PERSON[1]
    assert person not in answer.text
    assert results[1]["party"] == f"{person[:4]}{'*' * 10}{person[-4:]}"
    # The same as CSV in and out, the settings as query parameters.
    body = "credit_code,id_number\n" + "".join(
        f"{r.get('credit_code', '')},{r.get('id_number', '')}\n" for r in example["rows"]
    )
    as_csv = client.post(
        "/v1/blacklist/check?region=CN-SH",
        content=body.encode(),
        headers={**headers, "content-type": "text/csv", "accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.content.startswith("\ufeff".encode())
    lines = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [line["listed"] for line in lines] == ["yes", "yes", "no", ""]
    assert lines[3]["error"]


def test_a_bulk_check_is_audited_and_its_limits_hold(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    example = blacklist_check_examples()["mixed"]["value"]
    assert client.post("/v1/blacklist/check", json=example, headers=headers).is_success
    trail = client.get(
        "/v1/audit/access", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ).json()["entries"]
    assert [(e["action"], e["rows"], e["results"]) for e in trail] == [("blacklist-check", 4, 2)]
    code = DEMO_LISTED_ORGANISATIONS["CN-AH"][1]
    too_many = {"rows": [{"credit_code": code}] * 10_001}
    assert client.post("/v1/blacklist/check", json=too_many, headers=headers).status_code == 422
    assert client.post("/v1/blacklist/check", json={"rows": []}, headers=headers).status_code == 422
    bad_csv = client.post(
        "/v1/blacklist/check",
        content=b"name\nx\n",
        headers={**headers, "content-type": "text/csv"},
    )
    assert bad_csv.status_code == 422
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    assert client.post("/v1/blacklist/check", json=example, headers=verifier).status_code == 403


# -- GET /v1/blacklist/public -----------------------------------------------------------


def test_the_public_list_shows_what_is_in_force_with_ids_masked(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = api
    answer = client.get("/v1/blacklist/public")  # no token
    assert answer.status_code == 200
    entries = answer.json()["entries"]
    shown = {(e["decidedBy"], e["name"]) for e in entries}
    assert shown == {
        ("CN-SH", DEMO_LISTED_ORGANISATIONS["CN-SH"][0]),
        ("CN-AH", DEMO_LISTED_ORGANISATIONS["CN-AH"][0]),
        ("CN-JS", DEMO_LISTED_PERSON[0]),
        ("CN-ZJ", DEMO_LISTED_ENGINEER[1]),
    }  # Jiangsu's lifted company and Zhejiang's withdrawn one are not in it
    principal = resident_id("310115", "19700822", "017")
    person = DEMO_LISTED_PERSON[1]
    for format_ in ("json", "csv", "xlsx"):
        body = client.get(f"/v1/blacklist/public?format={format_}").content
        for number in (person, principal):
            assert number.encode() not in body, format_
    [listed_person] = [e for e in entries if e["kind"] == "person"]
    assert listed_person["identifier"] == f"{person[:4]}{'*' * 10}{person[-4:]}"
    [shanghai] = [e for e in entries if e["decidedBy"] == "CN-SH"]
    assert shanghai["identifier"] == DEMO_LISTED_ORGANISATIONS["CN-SH"][1]
    assert shanghai["relatedPersons"][0]["residentIdMasked"].startswith(principal[:4])
    only = client.get("/v1/blacklist/public?region=cn-ah").json()
    assert only["region"] == "CN-AH"
    assert [e["decidedBy"] for e in only["entries"]] == ["CN-AH"]
    assert client.get("/v1/blacklist/public?region=CN-XX").status_code == 422
    assert client.get("/v1/blacklist/public?format=pdf").status_code == 422


def test_roles_outside_order_11_are_refused_yet_stored_ones_still_show(
    settings: Settings, api: tuple[TestClient, dict[str, str]]
) -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): a listing names 主要负责人,
    有关责任人员, 直接责任人员, 其他负有责任的人员; 法定代表人 is refused on input, and a
    credential issued before with it still shows it on the public list."""
    client, tokens = api
    body = record_examples(china_today())["listing"]["value"]
    body["related_persons"][0]["role"] = "法定代表人"
    issuer = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    refused = client.post("/v1/credentials", json=body, headers=issuer)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert "related_persons" in error["field"]
    assert "应急管理部令第11号" in error["message"]
    assert "其他负有责任的人员" in error["message"]
    body["related_persons"][0]["role"] = "其他负有责任的人员"
    assert client.post("/v1/credentials", json=body, headers=issuer).status_code == 201
    # A credential signed before, with a role the Order does not name.
    item = ListingIn.model_validate({**body, "listing_decision_number": "沪应急失信〔2023〕9号"})
    legacy = item.related_persons[0].model_copy(update={"role": "legal-representative"})
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        issue_records(
            session,
            IssuingContext.for_node(settings),
            [item.model_copy(update={"related_persons": [legacy]})],
        )
    shown = client.get("/v1/blacklist/public?format=csv").content.decode("utf-8-sig")
    assert "法定代表人 马某" in shown
    assert "其他负有责任的人员 马某" in shown


def test_coded_measures_show_with_their_labels_and_say_whether_practice_is_barred(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): the measures a listing
    takes, coded (措施代码), shown with their labels in the search answer and on the
    public list; restricts_practice reads the code restrict-practice."""
    client, tokens = api
    body = record_examples(china_today())["listing"]["value"]
    body["measure_codes"] = ["依法限制或禁止从事相关职业（执业）", "key-supervision"]
    issuer = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}"}
    issued = client.post("/v1/credentials", json=body, headers=issuer)
    assert issued.status_code == 201, issued.text
    subject = issued.json()["credential"]["credentialSubject"]
    assert subject["measureCodes"] == ["restrict-practice", "key-supervision"]
    assert restricts_practice(subject)
    inspector = {"Authorization": f"Bearer {tokens['enforcement']}"}
    asked = {"credit_code": body["listed"]["credit_code"]}
    [found] = client.post("/v1/blacklist/search", json=asked, headers=inspector).json()["listings"]
    assert found["measureCodes"] == ["restrict-practice", "key-supervision"]
    assert found["measureLabels"] == [
        "依法限制或禁止从事相关职业（执业）",
        "列为重点监管对象，加大执法检查频次",
    ]
    # A listing without codes: none in its credential, none in the answer.
    plain = {"credit_code": DEMO_LISTED_ORGANISATIONS["CN-AH"][1]}
    [older] = client.post("/v1/blacklist/search", json=plain, headers=inspector).json()["listings"]
    assert "measureCodes" not in older["credential"]["credentialSubject"]
    assert (older["measureCodes"], older["measureLabels"]) == ([], [])
    assert not restricts_practice(older["credential"]["credentialSubject"])
    public = client.get("/v1/blacklist/public").json()
    [entry] = [e for e in public["entries"] if e["id"] == found["id"]]
    assert entry["measureLabels"] == found["measureLabels"]
    assert public["columns"]["measureLabels"] == "惩戒措施类别"
    table = client.get("/v1/blacklist/public?format=csv").content.decode("utf-8-sig")
    assert "依法限制或禁止从事相关职业（执业）；列为重点监管对象，加大执法检查频次" in table


def test_the_public_list_as_csv_and_xlsx_has_chinese_headers(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = api
    as_csv = client.get("/v1/blacklist/public?format=csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["决定机关", "主体类型", "名称或姓名"]
    assert len(rows) == 5
    as_xlsx = client.get("/v1/blacklist/public?format=xlsx")
    assert as_xlsx.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in as_xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
    sheet = book["失信主体名单"]
    cells = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]  # empty: None
    assert cells[0][:3] == ["决定机关", "主体类型", "名称或姓名"]
    assert cells == rows


def test_no_exported_cell_is_a_formula(api: tuple[TestClient, dict[str, str]]) -> None:
    # Text an issuer typed that a spreadsheet would run: a link, a sum, a command. (A
    # name cannot start one: it holds no "=", registry.text.)
    client, tokens = api
    link = '=HYPERLINK("http://127.0.0.1/x","点击查看")'
    listing = record_examples(china_today())["listing"]["value"] | {
        "legal_basis": link,
        "penalty_decision_number": "=2+5",
        "measures": ["+1", "@SUM(A1)", "-1", "\t=1"],
    }
    issued = client.post(
        "/v1/credentials",
        json=listing,
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    )
    assert issued.status_code == 201, issued.text

    as_csv = client.get("/v1/blacklist/public?format=csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(as_csv)))
    [row] = [r for r in rows if "'" + link in r]
    assert "'=2+5" in row
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)

    as_xlsx = client.get("/v1/blacklist/public?format=xlsx").content
    sheet = load_workbook(io.BytesIO(as_xlsx))["失信主体名单"]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert link in [cell.value for cell in cells]  # the text exactly as written ...
    assert {cell.data_type for cell in cells} <= {"s", "n"}  # ... and never a formula


# -- GET /v1/changes --------------------------------------------------------------------


def _all_changes(
    client: TestClient, headers: dict[str, str], since: str | None, limit: int
) -> tuple[list[dict[str, Any]], str]:
    seen: list[dict[str, Any]] = []
    while True:
        query = f"?limit={limit}" + (f"&since={since}" if since else "")
        page = client.get(f"/v1/changes{query}", headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["changes"]
        since = body["next"]
        if not body["more"]:
            return seen, since


def test_the_change_feed_carries_listings_registrations_and_changes_once_each(
    api: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    whole, cursor = _all_changes(client, headers, None, 1000)
    paged, paged_cursor = _all_changes(client, headers, None, 3)
    assert paged_cursor == cursor  # paging ends where one page does
    assert [c["id"] for c in paged] != []
    assert sorted(c["id"] for c in paged) == sorted(c["id"] for c in whole)
    assert len({c["id"] for c in whole}) == len(whole)
    kinds = {c["kind"] for c in whole}
    assert kinds == {"listing", "listing-change", "registration", "registration-change"}
    assert all(
        c["credential"]["type"][1]
        in ("UntrustworthinessListing", "SafetyEngineerRegistration", "StatusChange")
        for c in whole
    )
    [lift] = [c for c in whole if c.get("action") == "lift"]
    assert lift["kind"] == "listing-change"
    # Nothing new: the cursor gives nothing, and says so.
    again = client.get(f"/v1/changes?since={cursor}", headers=headers).json()
    assert again["changes"] == []
    assert again["more"] is False
    # A change made now comes next, once.
    _, code = DEMO_LISTED_ORGANISATIONS["CN-SH"]
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        target = session.exec(
            select(RecordParty.credential_id).where(RecordParty.credit_code == code)
        ).one()
        change_status(
            session,
            context,
            target,
            StatusChangeIn(
                action=Action.WITHDRAW,
                reason="行政处罚决定被撤销",
                decision_number="沪应急复〔2026〕1号",
                effective_on=china_today(datetime.now(UTC)),
            ),
        )
    fresh = client.get(f"/v1/changes?since={cursor}", headers=headers).json()
    assert [(c["kind"], c["action"], c["target"]) for c in fresh["changes"]] == [
        ("listing-change", "withdraw", target)
    ]
    assert client.get(f"/v1/changes?since={fresh['next']}", headers=headers).json()["changes"] == []


def test_the_change_feed_refuses_what_it_did_not_give(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['federation']}"}
    assert client.get("/v1/changes", headers=headers).status_code == 200
    deep = base64.urlsafe_b64encode(b"[" * 1400).decode().rstrip("=")  # nested past recursion
    for bad in ("nonsense", "WzFd", "eyJDTi1YWCI6MH0", "eyJDTi1TSCI6MTAwMDAwfQ", deep, "e" * 3000):
        assert client.get(f"/v1/changes?since={bad}", headers=headers).status_code == 422, bad
    assert client.get("/v1/changes?limit=0", headers=headers).status_code == 422
    # A typo is refused, not answered with the default page.
    typo = client.get("/v1/changes?limt=10", headers=headers)
    assert typo.status_code == 422
    assert typo.json()["errors"][0]["field"] == "limt"
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    assert client.get("/v1/changes", headers=verifier).status_code == 403


# -- subscriptions and webhook deliveries -----------------------------------------------


class _Receiver:
    """A local HTTP receiver that refuses the first ``failures`` requests (503)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 503 if len(receiver.seen) < receiver.failures else 200
                receiver.seen.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhooks_reach_a_receiver_that_was_down_all_signed_none_lost_or_twice(
    api: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    receiver = _Receiver(failures=2)
    try:
        _, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
        answer = client.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "credit_codes": [code]},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        subscription = answer.json()
        # Two changes about the company after subscribing, one about another.
        context = IssuingContext.for_node(settings)
        today = china_today(datetime.now(UTC))
        with engine_scope(settings.database_url) as engine:
            with session_scope(engine) as session:
                listing = session.exec(
                    select(RecordParty.credential_id).where(RecordParty.credit_code == code)
                ).one()
                other = session.exec(
                    select(RecordParty.credential_id).where(
                        RecordParty.credit_code == DEMO_LISTED_ORGANISATIONS["CN-SH"][1]
                    )
                ).one()
                for target, action in ((listing, Action.WITHDRAW), (other, Action.WITHDRAW)):
                    change_status(
                        session,
                        context,
                        target,
                        StatusChangeIn(
                            action=action,
                            reason="行政处罚决定被撤销",
                            decision_number="复〔2026〕1号",
                            effective_on=today,
                        ),
                    )
            # The receiver is down for the first two attempts; time moves on.
            start = datetime.now(UTC)
            delivered = [
                dispatch(
                    engine,
                    now=start + timedelta(seconds=s),
                    deadline=10,
                    concurrency=8,
                    policy=LOOPBACK,
                )
                for s in (0, 6, 17, 60, 120)
            ]
        assert sum(delivered) == 1
        assert [status for _, _, status in receiver.seen] == [503, 503, 200]
        ids = {h["X-Registry-Delivery"] for h, _, _ in receiver.seen}
        assert len(ids) == 1  # the same delivery each time: deduplicate on it
        for seen_headers, body, _ in receiver.seen:
            expected = signature(subscription["secret"], seen_headers["X-Registry-Timestamp"], body)
            assert hmac.compare_digest(seen_headers["X-Registry-Signature"], expected)
        payload = json.loads(receiver.seen[-1][1])
        assert payload["change"]["target"] == listing
        assert payload["change"]["action"] == "withdraw"
        log = client.get(
            f"/v1/subscriptions/{subscription['id']}/deliveries", headers=headers
        ).json()["deliveries"]
        assert [(d["state"], d["attempts"], d["lastStatus"]) for d in log] == [
            ("delivered", 3, 200)
        ]
        # Nothing more to send, and nothing sent twice.
        with engine_scope(settings.database_url) as engine:
            later = start + timedelta(hours=2)
            assert dispatch(engine, now=later, deadline=10, concurrency=8, policy=LOOPBACK) == 0
        assert len(receiver.seen) == 3
        others = {"Authorization": f"Bearer {tokens['federation']}"}
        gone = client.get(f"/v1/subscriptions/{subscription['id']}/deliveries", headers=others)
        assert gone.status_code == 404
    finally:
        receiver.close()


def test_a_subscription_is_refused_what_it_cannot_be(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
    code = DEMO_LISTED_ORGANISATIONS["CN-AH"][1]
    for bad in (
        {"url": "ftp://x/y", "credit_codes": [code]},
        {"url": "http://[::1/", "credit_codes": [code]},
        {"url": "http://\u2603.com:80x/", "credit_codes": [code]},
        {"url": "https://127.0.0.1/y", "credit_codes": []},
        {"url": "https://127.0.0.1/y", "credit_codes": ["bad"]},
        {"url": "https://127.0.0.1/y", "credit_codes": [code], "kinds": ["everything"]},
    ):
        assert client.post("/v1/subscriptions", json=bad, headers=headers).status_code == 422
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    ok = {"url": "https://127.0.0.1/y", "credit_codes": [code]}
    assert client.post("/v1/subscriptions", json=ok, headers=verifier).status_code == 403


# -- what the answers are, and when they are stored -------------------------------------


def test_an_audited_search_and_check_record_what_they_answer(
    seeded: tuple[Session, IssuingContext],
) -> None:
    session, context = seeded
    seed_demo_tokens(session)
    token = session.exec(select(ApiToken).where(ApiToken.role == "enforcement")).one()
    caller = Caller(token_id=token.id or 0, name=token.name, role=token.role)
    now = datetime.now(UTC)
    _, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
    found = search_audited(
        session,
        ListingQuery(credit_code=code),
        caller=caller,
        lookup=context.lookup,
        node_secret=context.node_secret,
        now=now,
    )
    assert [f.authority for f in found.matches] == ["CN-AH"]
    checked = check_audited(
        session,
        CheckQuery([CheckRow(credit_code=code), "a row already refused"], decided_by="CN-AH"),
        caller=caller,
        lookup=context.lookup,
        node_secret=context.node_secret,
        now=now,
    )
    assert checked.on == china_today(now)
    assert [(len(c.listings), c.error) for c in checked.parties] == [
        (1, None),
        (0, "a row already refused"),
    ]
    # A refused question is not asked: nothing is recorded for it.
    for refused in (
        lambda: check_audited(
            session,
            CheckQuery([CheckRow(credit_code=code)], region="CN-XX"),
            caller=caller,
            lookup=context.lookup,
            node_secret=context.node_secret,
            now=now,
        ),
        lambda: search_audited(
            session,
            ListingQuery(credit_code=code, region="CN-XX"),
            caller=caller,
            lookup=context.lookup,
            node_secret=context.node_secret,
            now=now,
        ),
    ):
        with pytest.raises(InvalidInput):
            refused()
    trail = session.exec(select(AccessAudit).order_by(col(AccessAudit.id))).all()
    assert [(e.action, e.token_id, e.rows, e.results) for e in trail] == [
        ("blacklist-search", token.id, 1, 1),
        ("blacklist-check", token.id, 2, 1),
    ]
    assert trail[0].criteria_hash == criteria_hash(found.criteria, node_secret=context.node_secret)


def _stored_before_sent(app: Any, stored: Callable[[], int]) -> tuple[Any, list[int]]:
    """``app`` wrapped so that, as each answer starts, ``stored()`` is counted."""
    seen: list[int] = []

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def counting(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen.append(stored())
            await send(message)

        await app(scope, receive, counting)

    return wrapped, seen


def test_the_audit_entry_and_the_subscription_are_stored_before_the_answer_is_sent(
    settings: Settings,
) -> None:
    tokens = seed_demo_node(settings)
    with engine_scope(settings.database_url) as engine:

        def stored() -> int:  # another connection: only what has committed
            with engine.connect() as connection:
                audited = connection.exec_driver_sql("SELECT count(*) FROM access_audit")
                subscribed = connection.exec_driver_sql("SELECT count(*) FROM subscription")
                return int(audited.scalar_one()) + int(subscribed.scalar_one())

        app, seen = _stored_before_sent(create_app(settings), stored)
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {tokens['enforcement']}"}
            _, code = DEMO_LISTED_ORGANISATIONS["CN-AH"]
            asked = (
                ("/v1/blacklist/search", {"credit_code": code}),
                ("/v1/blacklist/check", {"rows": [{"credit_code": code}]}),
                ("/v1/subscriptions", {"url": "https://127.0.0.1/y", "credit_codes": [code]}),
            )
            for path, body in asked:
                assert client.post(path, json=body, headers=headers).is_success, path
    assert seen == [1, 2, 3]


def _round_trip(model: type[BaseModel], answer: Any) -> None:
    """The answer is the model's, and the model spells it field for field."""
    assert model.model_validate(answer).model_dump(mode="json", by_alias=True) == answer


def test_every_answer_is_the_model_its_route_documents(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    enforcement = {"Authorization": f"Bearer {tokens['enforcement']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for example in blacklist_search_examples().values():
        found = client.post("/v1/blacklist/search", json=example["value"], headers=enforcement)
        _round_trip(SearchOut, found.json())
    listing = found.json()["possibleMatches"][0]
    assert list(listing) == [
        "id",
        "decidedBy",
        "matchedAs",
        "matchedName",
        "listed",
        "relatedPersons",
        *TERMS,
        "measureCodes",
        "measureLabels",
        "status",
        "history",
        "credential",
        "proof",
    ]
    lifted = DEMO_LISTED_ORGANISATIONS["CN-JS"][1]
    before = (china_today(datetime.now(UTC)) - timedelta(days=11)).isoformat()
    history = client.post(
        "/v1/blacklist/search", json={"credit_code": lifted, "date": before}, headers=enforcement
    ).json()
    _round_trip(SearchOut, history)
    [change] = history["listings"][0]["history"]
    assert (change["action"], change["from"], change["to"]) == ("lift", "listed", "lifted")
    assert datetime.fromisoformat(change["recordedAt"]).isoformat() == change["recordedAt"]
    rows = [*blacklist_check_examples()["mixed"]["value"]["rows"], {"surprise": 1}]
    checked = client.post("/v1/blacklist/check", json={"rows": rows}, headers=enforcement)
    _round_trip(CheckOut, checked.json())
    kinds = [type(r).__name__ for r in CheckOut.model_validate(checked.json()).results]
    assert kinds == ["CheckedPartyOut"] * 3 + ["CheckRowErrorOut"] * 2
    _round_trip(PublicListOut, client.get("/v1/blacklist/public").json())
    _round_trip(AccessTrailOut, client.get("/v1/audit/access", headers=admin).json())
    feed = client.get("/v1/changes", headers=enforcement).json()
    _round_trip(FeedPageOut, feed)
    assert {"target", "action", "effectiveOn"}.isdisjoint(
        next(c for c in feed["changes"] if c["kind"] == "listing")
    )
    subscribed = client.post(
        "/v1/subscriptions",
        json={"url": "https://127.0.0.1/y", "credit_codes": [lifted]},
        headers=enforcement,
    ).json()
    _round_trip(SubscriptionOut, subscribed)
    assert subscribed["filter"] == {"creditCodes": [lifted], "kinds": list(KINDS)}
    log = client.get(f"/v1/subscriptions/{subscribed['id']}/deliveries", headers=enforcement)
    _round_trip(DeliveriesOut, log.json())


def test_a_listing_proof_is_spelled_as_a_proof_bundle() -> None:
    # One model for the proof: a listing carries it beside its credential, a proof
    # bundle extends it with the credential.
    assert ListingOut.model_fields["proof"].annotation is LogProofOut
    assert issubclass(ProofBundleOut, LogProofOut)
    assert {"credential", "leafIndex", "treeSize", "inclusionProof"} <= {
        info.alias for info in ProofBundleOut.model_fields.values()
    }


def test_every_enforcement_answer_has_a_schema_in_the_openapi_document(
    settings: Settings,
) -> None:
    spec = create_app(settings).openapi()
    operations = [
        ("post", "/v1/blacklist/search"),
        ("post", "/v1/blacklist/check"),
        ("get", "/v1/blacklist/public"),
        ("get", "/v1/audit/access"),
        ("get", "/v1/changes"),
        ("post", "/v1/subscriptions"),
        ("get", "/v1/subscriptions/{subscription_id}/deliveries"),
    ]
    for method, path in operations:
        answers = spec["paths"][path][method]["responses"]
        [content] = [answer["content"] for code, answer in answers.items() if code[0] == "2"]
        assert content, path
        for media_type, documented in content.items():
            schema = documented.get("schema") or {}
            assert schema.get("$ref") or schema.get("type") == "string", (path, media_type)
    check = spec["paths"]["/v1/blacklist/check"]["post"]["responses"]["200"]["content"]
    assert check["application/json"]["schema"] == {"$ref": "#/components/schemas/CheckOut"}
    public = spec["paths"]["/v1/blacklist/public"]["get"]["responses"]["200"]["content"]
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert public[xlsx]["schema"] == {"type": "string", "format": "binary"}


def test_a_bulk_check_reads_any_line_ending_and_refuses_a_giant_cell(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = api
    headers = {"Authorization": f"Bearer {tokens['enforcement']}", "content-type": "text/csv"}
    listed = DEMO_LISTED_ORGANISATIONS["CN-AH"][1]
    for ending in ("\r", "\n", "\r\n"):  # old Mac exports end lines in CR alone
        body = ending.join(["credit_code,id_number", f"{listed},", "not a code,"]) + ending
        answer = client.post("/v1/blacklist/check", content=body.encode(), headers=headers)
        assert answer.status_code == 200, (repr(ending), answer.text)
        results = answer.json()["results"]
        assert [r["row"] for r in results] == [1, 2]
        assert results[0]["listed"]
        assert "error" in results[1]
    giant = f"credit_code,id_number\n{'9' * 200_000},\n"
    refused = client.post("/v1/blacklist/check", content=giant.encode(), headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "9" * 100 not in refused.text  # the cell is not echoed

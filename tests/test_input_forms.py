"""Input as people write it, through the API: Chinese labels for every enumeration, days
in the forms Chinese offices use, identifiers as typed, and pilot credit codes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.examples import record_examples
from registry.calendar import DAY_PATTERN, FIRST_DAY, china_today, parse_day
from registry.credentials.lifecycle import Action, State
from registry.credentials.records import (
    ContinuingEducationIn,
    ListedPersonIn,
    RegistrationIn,
)
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.errors import InvalidInput, InvalidProvinceCode
from registry.ids import Category, parse_category, province
from registry.labels import (
    ACTION,
    CATEGORY,
    CE_KIND,
    ENUMERATIONS,
    REGISTRATION_KIND,
    RELATED_ROLE,
    STATE,
)
from registry.settings import Settings
from tests._support import seed_demo_node

TODAY = china_today()
EXAMPLES = record_examples(TODAY)
WANG = DEMO_ENGINEERS[0]
PROBLEM = "application/problem+json"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _bad_check(code: str) -> str:
    """``code`` with another check character: what a typo (or an early pilot code) gives."""
    return code[:17] + ("1" if code[17] != "1" else "2")


# -- the forms themselves ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01",
        "2026-3-1",
        "2026/3/1",
        "2026/03/01",
        "2026.3.1",
        "2026年3月1日",
        "2026年03月01日",
        "2026 年 3 月 1 日",
        "20260301",
        "２０２６年３月１日",
        "2026-03-01 00:00:00",
        "2026/3/1 0:00",
    ],
)
def test_every_form_of_a_day_is_read(text: str) -> None:
    assert parse_day(text) == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-02-30", "not a real date"),
        ("2026-13-01", "not a real date"),
        ("1/3/2026", "2026年3月1日"),  # day first: ambiguous, refused naming the forms
        ("2026-3", "2026/3/1"),
        ("46082", "20260301"),  # a day number only where a column holds days
        ("1899-12-31", "must lie between"),
        ("٢٠٢٦-٠٣-٠١", "a day is written"),  # Arabic-Indic digits are no ASCII digits
    ],
)
def test_a_wrong_day_is_refused_naming_the_forms(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as raised:
        parse_day(text)
    assert text not in raised.value.message


def test_an_excel_day_number_is_read_only_when_asked() -> None:
    assert parse_day("46082", excel_serial=True) == date(2026, 3, 1)
    assert parse_day("46082.0", excel_serial=True) == date(2026, 3, 1)
    assert parse_day("2026/3/1", excel_serial=True) == date(2026, 3, 1)
    with pytest.raises(InvalidInput):
        parse_day("4608", excel_serial=True)


def test_the_documented_pattern_takes_the_forms_and_nothing_before_1900() -> None:
    import re  # noqa: PLC0415

    for text in ("2026-03-01", "2026/3/1", "2026.3.1", "2026年3月1日", "20260301"):
        assert re.fullmatch(DAY_PATTERN, text), text
    for text in ("1899-12-31", "2026-13-01", "2026-03", "2026年3月1", "1/3/2026"):
        assert not re.fullmatch(DAY_PATTERN, text), text
    assert FIRST_DAY.year == 1900


def test_each_table_matches_the_codes_the_records_take() -> None:
    assert CATEGORY.codes == tuple(c.value for c in Category)
    assert ACTION.codes == tuple(a.value for a in Action)
    assert STATE.codes == tuple(s.value for s in State)
    kinds = {
        CE_KIND: ContinuingEducationIn.model_fields["kind"].annotation,
        REGISTRATION_KIND: RegistrationIn.model_fields["kind"].annotation,
        RELATED_ROLE: ListedPersonIn.model_fields["role"].annotation,
    }
    for table, literal in kinds.items():
        assert table.codes == get_args(literal)
    for table in ENUMERATIONS.values():
        for code in table.codes:
            assert table.parse(code) == code
            assert table.parse(table.label(code)) == code
            assert table.parse(f" {_full_width(table.label(code))} ") == code
        with pytest.raises(InvalidInput, match="expected one of"):
            table.parse("no-such-thing")


def test_provinces_take_their_names() -> None:
    assert province("上海市").iso == "CN-SH"
    assert province("上海").iso == "CN-SH"
    assert province("广西壮族自治区").iso == province("广西").iso == "CN-GX"
    assert province("内蒙古").iso == "CN-NM"
    assert province("香港").iso == "CN-HK"
    with pytest.raises(InvalidProvinceCode, match="上海市"):
        province("上")


def test_categories_take_their_short_forms() -> None:
    assert parse_category("化工") is Category.CHEMICAL
    assert parse_category("其他安全（不包括消防安全）") is Category.OTHER
    assert parse_category("其他安全(不包括消防安全)") is Category.OTHER
    assert parse_category("其他安全") is Category.OTHER
    assert Category.CHEMICAL.name_zh == "化工安全"


# -- through the API --------------------------------------------------------------------


class Node:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def post(self, path: str, body: dict[str, Any], role: str) -> Any:
        return self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )


@pytest.fixture
def node(settings: Settings) -> Iterator[Node]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        yield Node(client, tokens)


def _example(name: str) -> dict[str, Any]:
    value: dict[str, Any] = copy.deepcopy(EXAMPLES[name]["value"])
    return value


def _issued(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    subject: dict[str, Any] = response.json()["credential"]["credentialSubject"]
    return subject


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_records_take_labels_days_and_identifiers_as_typed(node: Node) -> None:
    day = TODAY - timedelta(days=3)
    credit = _example("continuing-education")
    credit["kind"] = "专业"
    credit["completed_on"] = f"{day.year}年{day.month}月{day.day}日"
    # Full-width, spaced, lower-case x: as a clerk's input method gives it.
    holder_id = "31011619680302015X"
    credit["holder"] = {
        "name": "马某",
        "id_number": _full_width(holder_id[:6]) + " " + holder_id[6:].lower(),
    }
    code = credit["provider"]["credit_code"]
    credit["provider"]["credit_code"] = f" {code[:6].lower()} {code[6:]}"
    subject = _issued(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert subject["kind"] == "professional"
    assert subject["completedOn"] == day.isoformat()
    assert subject["provider"]["creditCode"] == code
    assert "creditCodeCheck" not in subject["provider"]
    assert subject["holder"]["identifier"]["masked"] == "3101**********015X"

    qualification = _example("qualification")
    qualification["category"] = "化工"
    qualification["authority"] = "上海市"
    qualification["issued_on"] = day.strftime("%Y/%m/%d").replace("/0", "/")
    subject = _issued(node.post("/v1/credentials", qualification, "issuer:CN-SH"))
    assert subject["category"] == "chemical"
    assert subject["issuedOn"] == day.isoformat()

    registration = _example("registration")
    registration["kind"] = "初始注册"
    registration["category"] = "其他安全（不包括消防安全）"
    registration["valid_from"] = TODAY.strftime("%Y%m%d")
    registration["valid_until"] = (TODAY + timedelta(days=1000)).strftime("%Y.%m.%d")
    response = node.post("/v1/credentials", registration, "issuer:CN-SH")
    subject = _issued(response)
    assert (subject["kind"], subject["category"]) == ("initial", "other")
    registration_id = response.json()["credential"]["id"]

    listing = _example("listing")
    listing["listed"]["kind"] = "单位"
    listing["related_persons"][0]["role"] = "直接责任人员"
    listing["listed_on"] = day.strftime("%Y年%m月%d日")
    subject = _issued(node.post("/v1/credentials", listing, "issuer:CN-SH"))
    assert subject["listed"]["kind"] == "organisation"
    assert subject["relatedPersons"][0]["role"] == "directly-responsible"
    assert subject["listedOn"] == day.isoformat()

    change = {
        "action": "暂停执业",
        "reason": "涉嫌出具虚假报告",
        "decision_number": "沪应急注〔2026〕31号",
        "effective_on": TODAY.strftime("%Y/%m/%d"),
    }
    path = f"/v1/credentials/{registration_id}/status"
    suspended = node.post(path, change, "issuer:CN-SH")
    assert suspended.status_code == 201, suspended.text
    assert suspended.json()["state"] == "suspended"
    again = node.post(
        path,
        {**change, "action": "恢复", "decision_number": "沪应急注〔2026〕32号"},
        "issuer:CN-SH",
    )
    assert again.status_code == 201, again.text
    assert again.json()["state"] == "active"


def test_wrong_labels_and_days_are_refused_together_naming_what_is_accepted(node: Node) -> None:
    credit = _example("continuing-education")
    credit["kind"] = "选修"
    credit["completed_on"] = "2026年13月1日"
    credit["holder"]["id_number"] = "310101198503120210"  # check character wrong
    errors = _errors(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert "general (公需), professional (专业)" in errors["kind"]
    assert "not a real date" in errors["completed_on"]
    assert "check character" in errors["holder.id_number"]
    credit["completed_on"] = "01/03/2026"
    credit["kind"] = "general"
    errors = _errors(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert "2026年3月1日" in errors["completed_on"]
    change = {"action": "冻结", "reason": "x", "decision_number": "y", "effective_on": "今天"}
    registration = "urn:uuid:00000000-0000-4000-8000-000000000000"
    errors = _errors(node.post(f"/v1/credentials/{registration}/status", change, "issuer:CN-SH"))
    assert "suspend (暂停执业)" in errors["action"]
    assert "a day is written" in errors["effective_on"]


def test_a_credit_code_with_a_wrong_check_character_is_issued_only_as_a_pilot_code(
    node: Node,
) -> None:
    credit = _example("continuing-education")
    code = credit["provider"]["credit_code"]
    credit["provider"]["credit_code"] = _bad_check(code)
    errors = _errors(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert "check character does not match" in errors["provider.credit_code"]
    assert "pilot_code" in errors["provider.credit_code"]
    credit["provider"]["pilot_code"] = True
    subject = _issued(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert subject["provider"] == {
        "name": credit["provider"]["name"],
        "creditCode": _bad_check(code),
        "creditCodeCheck": "pilot",
    }
    # Said of a code whose check character matches, it changes nothing.
    credit["provider"]["credit_code"] = code
    credit["course_title"] = "另一门课程"
    subject = _issued(node.post("/v1/credentials", credit, "issuer:CN-SH"))
    assert "creditCodeCheck" not in subject["provider"]


def test_a_listing_under_a_pilot_code_is_found_and_a_mistyped_code_is_never_clean(
    node: Node,
) -> None:
    pilot = _bad_check(credit_code("91310116MA1J2009X"))
    listing = _example("listing")
    listing["listed"] = {"kind": "单位", "name": "上海某试点公司", "credit_code": pilot,
                         "pilot_code": True}  # fmt: skip
    listing["listing_decision_number"] = "沪应急失信〔2026〕99号"
    assert (
        _issued(node.post("/v1/credentials", listing, "issuer:CN-SH"))["listed"]["creditCodeCheck"]
        == "pilot"
    )
    unknown = _bad_check(credit_code("91310116MA1J2008X"))
    clean = credit_code("91310116MA1J2007X")
    response = node.post(
        "/v1/blacklist/check",
        {"rows": [{"credit_code": pilot}, {"credit_code": unknown}, {"credit_code": clean}]},
        "enforcement",
    )
    assert response.status_code == 200, response.text
    rows = response.json()["results"]
    assert [(r["listed"], r["status"]) for r in rows] == [
        (True, "listed"),
        (False, "check-character-does-not-match"),
        (False, "not-listed"),
    ]
    as_csv = node.client.post(
        "/v1/blacklist/check",
        json={"rows": [{"credit_code": unknown}]},
        headers={"Authorization": f"Bearer {node.tokens['enforcement']}", "Accept": "text/csv"},
    )
    assert "check character does not match" in as_csv.text
    searched = node.post("/v1/blacklist/search", {"credit_code": unknown}, "enforcement")
    assert searched.status_code == 200, searched.text
    assert searched.json()["listings"] == []
    assert searched.json()["query"]["creditCodeCheck"] == "check-character-does-not-match"
    found = node.post("/v1/blacklist/search", {"credit_code": pilot.lower()}, "enforcement")
    assert len(found.json()["listings"]) == 1
    clean_search = node.post("/v1/blacklist/search", {"credit_code": clean}, "enforcement")
    assert "creditCodeCheck" not in clean_search.json()["query"]


def test_batch_verification_reads_labels_and_days(node: Node) -> None:
    day = TODAY - timedelta(days=1)
    rows = [
        {"id_number": WANG.id_number.lower(), "region": "CN-SH",
         "category": CATEGORY.label(WANG.category),
         "date": f"{day.year}年{day.month}月{day.day}日"},
        {"id_number": _full_width(WANG.id_number), "region": "上海",
         "category": "化工" if WANG.category == "chemical" else WANG.category,
         "date": day.strftime("%Y/%m/%d")},
        {"id_number": WANG.id_number, "region": "CN-SH", "date": "2026-02-30"},
        {"id_number": WANG.id_number, "region": "CN-SH", "category": "消防"},
    ]  # fmt: skip
    response = node.post("/v1/verify/batch", {"rows": rows}, "verifier")
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r.get("date") for r in results[:2]] == [day.isoformat()] * 2
    assert results[0]["verdict"] == results[1]["verdict"]
    assert "not a real date" in results[2]["error"]
    assert "化工安全" in results[3]["error"]


def test_a_batch_rows_problems_are_answered_at_once(node: Node) -> None:
    rows = [
        {"id_number": "310101198503120210", "region": "上海", "category": "消防",
         "date": "2026-02-30"},
        {"registration_number": "SH-REG-1", "region": "CN-SH", "date": "3/1/2026"},
        {"region": "火星", "date": "2026.3.1"},
    ]  # fmt: skip
    response = node.post("/v1/verify/batch", {"rows": rows}, "verifier")
    assert response.status_code == 200, response.text
    errors = [r["error"] for r in response.json()["results"]]
    assert "check character" in errors[0]
    assert "is not a category" in errors[0]
    assert "not a real date" in errors[0]
    assert "310101198503120210" not in errors[0]
    assert "a day is written" in errors[1]
    assert "looked up with the holder's name" in errors[1]
    assert "not a province code" in errors[2]
    assert "give id_number" in errors[2]
    single = node.post("/v1/verify/engineer", rows[0], "verifier")
    assert set(_errors(single)) >= {"id_number", "category", "date"}


def test_the_document_lists_every_code_with_its_label(node: Node) -> None:
    document = node.client.get("/openapi.json").json()
    text = str(document)
    assert "`general` (公需)" in text
    assert "`initial` (初始注册)" in text
    assert "`other-responsible` (其他负有责任的人员)" in text
    assert "`legal-representative`" not in text
    assert "`suspend` (暂停执业)" in text
    assert "`chemical` (化工安全)" in text
    assert "2026年3月1日" in text
    assert "pilot_code" in text

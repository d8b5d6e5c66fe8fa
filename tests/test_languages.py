"""Answers in the user's language: every message the main paths raise has a Chinese
form, problems come in Chinese or English by Accept-Language (English for JSON unless
Chinese is preferred, Chinese for files unless English is), and untranslated text
falls back to English."""

from __future__ import annotations

import csv
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from api.app import create_app
from api.examples import record_examples, status_change_examples
from api.limits import JSON_BODY
from api.schemas.verification import EngineerIn
from registry.calendar import Day, china_today, parse_aware
from registry.errors import RegistryError
from registry.ids import parse_category, parse_credit_code, parse_resident_id, province
from registry.labels import MEASURE, RELATED_ROLE
from registry.messages import translate, translated
from registry.settings import Settings
from registry.text import PersonName
from tests._support import run_command, seed_demo_node
from tests.test_import import CE_HEADER, _ce_row

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _raised(action: Callable[[], object]) -> str:
    try:
        action()
    except RegistryError as exc:
        return exc.message
    except ValidationError as exc:
        return "; ".join(str(e["msg"]) for e in exc.errors())
    raise AssertionError("nothing was raised")


class _Shapes(BaseModel):
    """Pydantic's own kinds of error, as the API's models raise them."""

    text: str = Field(max_length=3)
    short: str = Field(default="abc", min_length=2)
    count: int = Field(default=1, ge=1, le=9)
    flag: bool = True
    items: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=2)
    name: PersonName = "王立新"
    day: Day | None = None


def _pydantic_messages() -> list[str]:
    shapes: list[dict[str, Any]] = [
        {},  # missing
        {"text": "abcd"},  # too long
        {"text": 5},  # not a string
        {"text": "a", "short": "a"},  # too short
        {"text": "a", "count": "x"},  # not an integer
        {"text": "a", "count": 0},  # too small
        {"text": "a", "count": 10},  # too large
        {"text": "a", "flag": "perhaps"},  # not a boolean
        {"text": "a", "items": "x"},  # not a list
        {"text": "a", "items": []},  # too few
        {"text": "a", "items": [1, 2, 3]},  # too many
        {"text": "a", "name": "=1"},  # a refused character
        {"text": "a", "name": "··"},  # no letter
        {"text": "a", "day": "next tuesday"},  # not a day
        {"text": "a", "day": "1800-01-01"},  # out of range
    ]
    messages = []
    for shape in shapes:
        with pytest.raises(ValidationError) as caught:
            _Shapes.model_validate(shape)
        messages += [str(e["msg"]) for e in caught.value.errors()]
    with pytest.raises(ValidationError) as extra:
        EngineerIn.model_validate({"region": "CN-SH", "id_number": "1", "extra": 1})
    messages += [str(e["msg"]) for e in extra.value.errors()]
    for body in ({"region": "CN-SH"}, {"region": "CN-SH", "registration_number": "R-1"}):
        with pytest.raises(ValidationError) as one_way:
            EngineerIn.model_validate(body)
        messages += [str(e["msg"]) for e in one_way.value.errors()]
    with pytest.raises(ValidationError) as json_error:
        EngineerIn.model_validate_json(b"{not json")
    messages += [str(e["msg"]) for e in json_error.value.errors()]
    return messages


def _domain_messages() -> list[str]:
    today = china_today()
    return [
        # ID numbers: each way one can be wrong.
        _raised(lambda: parse_resident_id("1234")),
        _raised(lambda: parse_resident_id("31010119850312021A")),
        _raised(lambda: parse_resident_id("99010119850312021X")),
        _raised(lambda: parse_resident_id("310101198502300210")),
        _raised(lambda: parse_resident_id("310101180001010210")),
        _raised(lambda: parse_resident_id("310101198503120211")),
        _raised(lambda: parse_resident_id("31010185031202A")),
        # Credit codes.
        _raised(lambda: parse_credit_code("9131")),
        _raised(lambda: parse_credit_code("91310000MA1FL0001I")),
        # Provinces, categories, times.
        _raised(lambda: province("CN-QQ")),
        _raised(lambda: parse_category("fishing")),
        _raised(lambda: parse_aware("yesterday", "--at")),
        _raised(lambda: parse_aware("2026-01-01T00:00:00", "--at")),
        _raised(lambda: TypeAdapter(Day).validate_python(today.replace(year=1800).isoformat())),
        # A listing's roles (Order 11's terms) and coded measures.
        _raised(lambda: RELATED_ROLE.parse("法定代表人")),
        _raised(lambda: MEASURE.parse("blacklist")),
    ]


def test_every_message_of_the_main_paths_has_a_chinese_form() -> None:
    messages = _domain_messages() + _pydantic_messages()
    missing = [m for m in messages if translated(m) is None]
    assert missing == []
    for message in messages:
        chinese = translated(message)
        assert chinese is not None
        assert _CJK.search(chinese), (message, chinese)
        assert translate(message, "en") == message


def test_parameters_are_carried_and_the_unknown_falls_back_to_english() -> None:
    assert translate("String should have at most 200 characters", "zh") == "最多 200 个字符"
    assert translate("no credential urn:uuid:1", "zh") == "没有凭证 urn:uuid:1"
    # A field prefix is kept (or renamed); a list is translated item by item.
    assert translate("id_number: Field required; name: Field required", "zh") == (
        "id_number：必填；name：必填"
    )
    assert translate("id_number: Field required", "zh", fields={"id_number": "身份证号"}) == (
        "身份证号：必填"
    )
    assert translate("something nobody wrote down", "zh") == "something nobody wrote down"
    assert translated("id_number: something nobody wrote down") is None
    # The busy and too-large details, as the API writes them.
    assert _CJK.search(
        translate("a long write (an import, say) holds the database; try again in 5 seconds", "zh")
    )
    assert translate("the body is over 262,144 bytes, the limit of this operation", "zh") == (
        "请求内容超过本操作的上限 262,144 字节"
    )


# -- through the API ---------------------------------------------------------------------


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings, records=False)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _said(problem: dict[str, Any]) -> str:
    """The problem's detail and its field errors' messages."""
    return " ".join([problem["detail"], *(e["message"] for e in problem.get("errors", ()))])


def _all_chinese(problem: dict[str, Any]) -> None:
    assert _CJK.search(problem["title"]), problem
    assert _CJK.search(problem["detail"]), problem
    for error in problem.get("errors", ()):
        assert _CJK.search(error["message"]), problem


def test_problems_answer_in_the_language_asked(node: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = node
    zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}

    # 401: no token; 403: the wrong role.
    anonymous = client.post("/v1/verify/engineer", json={}, headers=zh)
    assert anonymous.status_code == 401
    _all_chinese(anonymous.json())
    assert anonymous.headers["content-language"] == "zh-CN"
    forbidden = client.post(
        "/v1/credentials",
        json=record_examples(china_today())["registration"]["value"],
        headers={**zh, **verifier},
    )
    assert forbidden.status_code == 403
    _all_chinese(forbidden.json())

    # 422 from pydantic (missing, one way) and from the domain (an ID number).
    missing = client.post("/v1/verify/engineer", json={}, headers={**zh, **verifier})
    assert missing.status_code == 422
    _all_chinese(missing.json())
    number = client.post(
        "/v1/verify/engineer",
        json={"id_number": "310101198503120211", "region": "CN-SH"},
        headers={**zh, **verifier},
    )
    assert number.status_code == 422
    _all_chinese(number.json())
    assert "校验码" in _said(number.json())
    category = client.post(
        "/v1/verify/engineer",
        json={"id_number": "310101198503120210", "region": "CN-SH", "category": "fishing"},
        headers={**zh, **verifier},
    )
    assert category.status_code == 422, category.text

    # 404, and an unknown route.
    unknown = client.get(
        "/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000", headers=zh
    )
    assert unknown.status_code == 404
    _all_chinese(unknown.json())
    assert client.get("/v1/nothing-here", headers=zh).json()["title"] == "未找到"

    # 413: over the limit, declared.
    large = client.post(
        "/v1/verify/engineer",
        content=b"{" + b" " * (JSON_BODY + 1) + b"}",
        headers={**zh, **verifier, "Content-Type": "application/json"},
    )
    assert large.status_code == 413
    _all_chinese(large.json())


def test_english_by_default_and_when_preferred(node: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = node
    verifier = {"Authorization": f"Bearer {tokens['verifier']}"}
    body = {"id_number": "310101198503120211", "region": "CN-SH"}
    for headers in ({}, {"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"}, {"Accept-Language": "fr"}):
        answer = client.post("/v1/verify/engineer", json=body, headers={**verifier, **headers})
        assert answer.status_code == 422
        problem = answer.json()
        assert problem["title"] == "The request is not valid"
        assert "check character" in _said(problem)
        assert not _CJK.search(str(problem))
        assert answer.headers["content-language"] == "en"


def test_a_conflict_in_chinese(settings: Settings) -> None:
    tokens = seed_demo_node(settings)
    issuer = {"Authorization": f"Bearer {tokens['issuer:CN-SH']}", "Accept-Language": "zh"}
    with TestClient(create_app(settings)) as client:
        issued = client.post(
            "/v1/credentials",
            json=record_examples(china_today())["registration"]["value"],
            headers=issuer,
        )
        assert issued.status_code == 201, issued.text
        path = f"/v1/credentials/{issued.json()['credential']['id']}/status"
        # An active registration cannot be lifted: a 409, in Chinese.
        lift = status_change_examples(china_today())["lift"]["value"]
        lifted = client.post(path, json=lift, headers=issuer)
    assert lifted.status_code == 409, lifted.text
    _all_chinese(lifted.json())


# -- registry import ---------------------------------------------------------------------


def _import(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    return run_command(["import", *args], env)


def test_import_problems_in_chinese_by_default_and_english_on_request(
    settings: Settings, tmp_path: Path
) -> None:
    seed_demo_node(settings)
    path = tmp_path / "学时.csv"
    rows = [
        CE_HEADER,
        _ce_row(1, 身份证号="310101198503120210"),  # the check character is wrong
        _ce_row(2, 学时类型="选修", 培训机构统一社会信用代码="123"),
    ]
    with path.open("w", encoding="gb18030", newline="") as handle:  # as WPS saves it
        csv.writer(handle).writerows(rows)
    base = [str(path), "--type", "continuing-education", "--authority", "CN-SH"]

    chinese = _import(settings, *base)
    assert chinese.returncode == 1, chinese.stdout + chinese.stderr
    assert "处问题：未签发任何记录" in chinese.stderr
    assert "原因" in chinese.stderr
    assert "校验码（最后一位）与前 17 位不符" in chinese.stderr
    assert "统一社会信用代码应为 18 位，而不是 3 位" in chinese.stderr
    assert "problem(s)" not in chinese.stderr

    english = _import(settings, *base, "--lang", "en")
    assert english.returncode == 1
    assert "problem(s) in 学时.csv: nothing issued" in english.stderr
    assert "the check character (the last one) does not match" in english.stderr
    assert "reason" in english.stderr
    assert "原因" not in english.stderr  # the columns are named as the file names them
    assert "校验码" not in english.stderr

    # An error of the whole file, in Chinese too.
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused = _import(
        settings, str(empty), "--type", "continuing-education", "--authority", "CN-SH"
    )
    assert refused.returncode == 1
    assert "是空的：第一行应为列名" in refused.stderr

"""Batch verification with the files people make: GB 18030 and UTF-8 CSV from Excel and
WPS on Chinese-locale Windows, XLSX with text and date cells, sent raw or uploaded from
a browser form, answered in the same format with Chinese headers and labels, every
row echoing what it asked (never a whole ID number)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from api.app import create_app
from api.schemas.verification import VerifyBatchOut
from registry.demo import DEMO_ENGINEERS
from registry.demo.synthetic import resident_id
from registry.settings import Settings
from registry.spreadsheets import XLSX_MEDIA_TYPE
from tests._support import seed_demo_node

ENGINEERS = {e.name: e for e in DEMO_ENGINEERS}
WANG = ENGINEERS["王立新"]
NOBODY = resident_id("310101", "19700101", "999")  # valid, and nobody the demo holds
BAD = "31010119850312021"  # 17 characters: a digit short

# 王立新 qualified, then in the wrong category, nobody, a wrong name for a real
# registration number, and an invalid number.
ROWS: list[dict[str, str]] = [
    {"身份证号": WANG.id_number, "地区": "CN-SH", "专业类别": "化工安全"},
    {"身份证号": WANG.id_number, "地区": "CN-SH", "专业类别": "construction"},
    {"身份证号": NOBODY, "地区": "CN-SH"},
    {"注册编号": "SH-REG-1001", "姓名": "王力新", "地区": "CN-SH"},
    {"身份证号": BAD, "地区": "CN-SH", "姓名": '=HYPERLINK("http://x")'},
]
HEADER = ["身份证号", "注册编号", "姓名", "地区", "专业类别"]


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {tokens['verifier']}"
        yield client, tokens


def _csv(encoding: str, rows: list[dict[str, str]] = ROWS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # as Excel writes it
    writer.writerow(HEADER)
    writer.writerows([row.get(column, "") for column in HEADER] for row in rows)
    return buffer.getvalue().encode(encoding)


def _xlsx(rows: list[dict[str, str]] = ROWS, *, date_cell: datetime | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    header = [*HEADER, "日期"] if date_cell else HEADER
    sheet.append(header)
    for row in rows:
        sheet.append(
            [row.get(column, "") for column in HEADER] + ([date_cell] if date_cell else [])
        )
    # Text cells, as an official formats the ID column so that Excel keeps every digit.
    for line in sheet.iter_rows(min_row=2):
        for cell in line[: len(HEADER)]:
            cell.data_type = "s"
            cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _table(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _assert_answered(table: list[dict[str, str]], id_number: str = "身份证号（脱敏）") -> None:
    assert [r["行号"] for r in table] == ["1", "2", "3", "4", "5"]
    assert [r["结论"] for r in table] == ["合格", "不合格", "未查到", "姓名不符", "输入有误"]
    assert [r["结论代码"] for r in table] == [
        "qualified",
        "not-qualified",
        "not-qualified",
        "not-qualified",
        "",
    ]
    # Every row echoes what it asked, the ID number masked, even an invalid one.
    assert table[0][id_number] == WANG.id_number[:4] + "*" * 10 + WANG.id_number[-4:]
    assert table[2][id_number] == NOBODY[:4] + "*" * 10 + NOBODY[-4:]
    assert table[4][id_number] == BAD[:4] + "*" * 9 + BAD[-4:]
    assert table[3]["注册编号"] == "SH-REG-1001"
    assert table[3]["姓名"] == "王力新"
    assert "姓名与该注册编号登记的姓名不符" in table[3]["原因"]
    # Both of the row's problems at once.
    assert table[4]["错误"] == (
        "身份证号：公民身份号码应为 18 位（旧版为 15 位），而不是 17 位；"
        "姓名：姓名中不能有 U+003D (EQUALS SIGN)（第 1 个字符）"
    )
    assert table[4]["姓名"] == '\'=HYPERLINK("http://x")'  # shown, never run


def _everything(answer: Any) -> str:
    return str(answer.content.decode("utf-8-sig", errors="replace"))


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_a_csv_as_excel_and_wps_save_it_is_answered_as_csv(
    node: tuple[TestClient, dict[str, str]], encoding: str
) -> None:
    client, _ = node
    answer = client.post(
        "/v1/verify/batch", content=_csv(encoding), headers={"Content-Type": "text/csv"}
    )
    table = _table(answer)
    _assert_answered(table)
    for number in (WANG.id_number, NOBODY, BAD):
        assert number not in _everything(answer)
    assert "王立新" not in table[3].values()  # the real holder of SH-REG-1001


def test_a_named_charset_is_honoured_and_a_wrong_one_refused(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    named = client.post(
        "/v1/verify/batch",
        content=_csv("gb18030"),
        headers={"Content-Type": "text/csv; charset=GB18030"},
    )
    _assert_answered(_table(named))
    wrong = client.post(
        "/v1/verify/batch",
        content=_csv("gb18030"),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"
    garbage = client.post(
        "/v1/verify/batch", content=b"\xff\xfe\x00\x81\x30", headers={"Content-Type": "text/csv"}
    )
    assert garbage.status_code == 422


def test_a_form_upload_of_a_csv_is_answered_as_csv(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    answer = client.post(
        "/v1/verify/batch",
        files={"file": ("核验名单.csv", _csv("gb18030"), "text/csv")},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},  # a browser
    )
    _assert_answered(_table(answer))
    # The file's ending decides when the browser sends no type of its own.
    untyped = client.post(
        "/v1/verify/batch",
        files={"file": ("list.csv", _csv("utf-8-sig"), "application/octet-stream")},
    )
    _assert_answered(_table(untyped))


def test_an_xlsx_is_answered_as_xlsx_raw_or_uploaded(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    raw = client.post(
        "/v1/verify/batch", content=_xlsx(), headers={"Content-Type": XLSX_MEDIA_TYPE}
    )
    uploaded = client.post(
        "/v1/verify/batch", files={"file": ("名单.xlsx", _xlsx(), XLSX_MEDIA_TYPE)}
    )
    for answer in (raw, uploaded):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == XLSX_MEDIA_TYPE
        sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
        assert sheet.freeze_panes == "A2"
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        header = [str(v) for v in values[0]]
        table = [
            {h: "" if v is None else str(v) for h, v in zip(header, row, strict=True)}
            for row in values[1:]
        ]
        # The name that would be a formula is a text cell, as typed.
        named = sheet.cell(row=6, column=header.index("姓名") + 1)
        assert named.data_type == "s"
        assert named.value == '=HYPERLINK("http://x")'
        table[4]["姓名"] = "'" + table[4]["姓名"]
        _assert_answered(table)
        text = json.dumps(values, ensure_ascii=False, default=str)
        assert WANG.id_number not in text


def test_an_xlsx_date_cell_and_a_json_answer_on_request(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    asked = datetime(2020, 1, 15)  # noqa: DTZ001 (an Excel date cell has no zone)
    answer = client.post(
        "/v1/verify/batch",
        content=_xlsx(ROWS[:1], date_cell=asked),
        headers={"Content-Type": XLSX_MEDIA_TYPE, "Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    VerifyBatchOut.model_validate(answer.json())
    [result] = answer.json()["results"]
    assert result["date"] == "2020-01-15"
    assert (
        result["asked"]["residentIdMasked"] == WANG.id_number[:4] + "*" * 10 + WANG.id_number[-4:]
    )


def test_json_rows_echo_what_they_asked(node: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = node
    rows = [
        {"id_number": NOBODY, "region": "CN-SH"},
        {"registration_number": "SH-REG-1001", "name": "王力新", "region": "CN-SH"},
        {"id_number": BAD, "region": "CN-SH"},
    ]
    answer = client.post("/v1/verify/batch", json={"rows": rows})
    assert answer.status_code == 200, answer.text
    VerifyBatchOut.model_validate(answer.json())
    results = answer.json()["results"]
    assert [r["asked"] for r in results] == [
        {"residentIdMasked": NOBODY[:4] + "*" * 10 + NOBODY[-4:]},
        {"name": "王力新", "registrationNumber": "SH-REG-1001"},
        {"residentIdMasked": BAD[:4] + "*" * 9 + BAD[-4:]},
    ]
    assert [r["verdictLabel"]["zh"] for r in results] == ["未查到", "姓名不符", "输入有误"]
    assert [r.get("found") for r in results] == [False, False, None]
    assert results[1]["reasons"][0]["code"] == "name-mismatch"
    assert NOBODY not in answer.text
    assert BAD not in answer.text


def test_english_headers_when_the_browser_prefers_english(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    answer = client.post(
        "/v1/verify/batch",
        content=_csv("utf-8"),
        headers={"Content-Type": "text/csv", "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"},
    )
    table = _table(answer)
    assert list(table[0])[:3] == ["row", "name", "resident_id_masked"]
    assert [r["verdict_label"] for r in table] == [
        "qualified",
        "not qualified",
        "no record found",
        "name does not match",
        "invalid row",
    ]


def _bomb() -> bytes:
    """A workbook whose sheet unpacks to 80 MB of spaces: 80 KB packed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (80 * 1024 * 1024))
    return buffer.getvalue()


def test_a_zip_bomb_and_what_is_not_a_table_are_refused(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, _ = node
    bomb = client.post(
        "/v1/verify/batch", content=_bomb(), headers={"Content-Type": XLSX_MEDIA_TYPE}
    )
    assert bomb.status_code == 422, bomb.text
    # A file sent is answered in Chinese unless English is preferred.
    assert "解压后" in bomb.json()["detail"]
    assert bomb.json()["title"] == "请求无效"
    english = client.post(
        "/v1/verify/batch",
        content=_bomb(),
        headers={"Content-Type": XLSX_MEDIA_TYPE, "Accept-Language": "en"},
    )
    assert "would unpack to" in english.json()["detail"]
    not_zip = client.post(
        "/v1/verify/batch", content=b"id_number\n1\n", headers={"Content-Type": XLSX_MEDIA_TYPE}
    )
    assert not_zip.status_code == 422
    pdf = client.post(
        "/v1/verify/batch", content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}
    )
    assert pdf.status_code == 422
    no_file = client.post("/v1/verify/batch", files={"upload": ("a.csv", b"x", "text/csv")})
    assert no_file.status_code == 422
    assert no_file.json()["errors"][0]["field"] == "file"
    wrong_kind = client.post("/v1/verify/batch", files={"file": ("a.pdf", b"x", "application/pdf")})
    assert wrong_kind.status_code == 422
    columns = client.post(
        "/v1/verify/batch",
        content="身份证,地区\n1,CN-SH\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert columns.status_code == 422
    assert "身份证" in columns.json()["detail"]

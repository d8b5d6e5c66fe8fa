"""`registry import` with files made the way Excel, WPS and Chinese-locale Windows make
them: GB 18030 and UTF-8-with-BOM CSV, XLSX with date cells and text cells, Chinese
labels, days in every form; a row's problems all at once; the template."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlmodel import col

from registry.bulk.template import DATA_SHEET, EXAMPLE_SHEET, NOTES_SHEET
from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, credit_code
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Record, StoredCredential
from tests._support import run_import, seed_demo_node

TODAY = china_today()
PROVIDER = credit_code("12310000MB0P10008")
CE_HEADER = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
             "学时", "学时类型", "完成日期"]  # fmt: skip


@pytest.fixture
def node(settings: Settings) -> Settings:
    seed_demo_node(settings)
    return settings


def _subjects(settings: Settings, kind: str) -> list[dict[str, Any]]:
    """Every stored credential of ``kind``'s subject, in leaf order."""
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        rows = session.scalars(
            select(StoredCredential)
            .join(Record, col(Record.credential_id) == col(StoredCredential.id))
            .where(col(Record.type) == kind)
            .order_by(col(StoredCredential.id))
        )
        return [json.loads(row.canonical)["credentialSubject"] for row in rows]


def _count(settings: Settings) -> int:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Record)) or 0


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _forms(number: int) -> str:
    """Completion day ``number`` days ago, in one of the forms offices write."""
    day = TODAY - timedelta(days=number)
    forms = (
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        f"{day.isoformat()} 00:00:00",
    )
    return forms[number % len(forms)]


def _ce_rows(count: int) -> list[list[str]]:
    rows = []
    for number in range(1, count + 1):
        engineer = DEMO_ENGINEERS[number % len(DEMO_ENGINEERS)]
        id_number = engineer.id_number.lower() if number % 2 else _full_width(engineer.id_number)
        rows.append([
            f" {engineer.name} ", id_number, f"安全生产专题培训第{number}期",
            "上海市安全生产科学研究所", PROVIDER[:8].lower() + " " + PROVIDER[8:], "8",
            ("专业", "公需", "专业科目")[number % 3], _forms(number),
        ])  # fmt: skip
    return rows


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_a_csv_as_chinese_windows_saves_it_is_imported(
    node: Settings, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "学时.csv"
    # Excel and WPS on Chinese-locale Windows: GB 18030 (or UTF-8 with BOM), CRLF.
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows([CE_HEADER, *_ce_rows(10)])
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    issued = [
        s for s in _subjects(node, "ContinuingEducationCredit") if "第" in s["course"]["title"]
    ]
    by_title = {s["course"]["title"]: s for s in issued}
    assert len(by_title) == 10
    for number in range(1, 11):
        subject = by_title[f"安全生产专题培训第{number}期"]
        assert subject["kind"] == ("professional", "general", "professional")[number % 3]
        assert subject["completedOn"] == (TODAY - timedelta(days=number)).isoformat()
        assert subject["provider"]["creditCode"] == PROVIDER
        assert subject["holder"]["name"] == DEMO_ENGINEERS[number % len(DEMO_ENGINEERS)].name


def test_an_xlsx_with_date_cells_and_text_cells_is_imported(node: Settings, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(CE_HEADER)
    days = [TODAY - timedelta(days=n) for n in (2, 3, 4)]
    engineer = DEMO_ENGINEERS[0]
    cells: list[object] = [
        days[0],  # a date cell
        days[1].strftime("%Y年%m月%d日"),  # a text cell
        (days[2] - date(1899, 12, 30)).days,  # a date cell that lost its format
    ]
    for number, cell in enumerate(cells, start=1):
        sheet.append([engineer.name, engineer.id_number, f"XLSX 课程 {number}",
                      "上海市安全生产科学研究所", PROVIDER, 4.5, "公需", cell])  # fmt: skip
    sheet["A2"].number_format = "@"
    path = tmp_path / "credits.xlsx"
    workbook.save(path)
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    issued = {
        s["course"]["title"]: s
        for s in _subjects(node, "ContinuingEducationCredit")
        if s["course"]["title"].startswith("XLSX")
    }
    assert [issued[f"XLSX 课程 {n}"]["completedOn"] for n in (1, 2, 3)] == [
        d.isoformat() for d in days
    ]
    assert {s["hours"] for s in issued.values()} == {4.5}
    assert {s["kind"] for s in issued.values()} == {"general"}


def test_a_rows_problems_are_reported_at_once(node: Settings, tmp_path: Path) -> None:
    wang = DEMO_ENGINEERS[0]
    header = ["姓名", "身份证号", "注册编号", "资格证书编号", "专业类别", "聘用单位",
              "聘用单位统一社会信用代码", "注册类型", "有效期起", "有效期至"]  # fmt: skip
    employer = ["某公司", credit_code("91310000MA1FL0001")]
    start, end = TODAY.isoformat(), (TODAY + timedelta(days=1000)).isoformat()
    rows = [
        header,
        # A bad day and a qualification the registry does not hold: both, in one answer.
        [wang.name, wang.id_number, "SH-R-1", "NO-SUCH", wang.category, *employer, "初始注册",
         "2026年2月30日", end],
        # A bad ID number and a bad kind: both, and the qualification's existence too.
        [wang.name, "310101198503120210", "SH-R-2", "NO-SUCH-2", wang.category, *employer,
         "首次", start, end],
        # Everything wrong but the qualification, which is someone else's.
        [wang.name, wang.id_number, "SH-R-3", DEMO_ENGINEERS[1].certificate_number,
         DEMO_ENGINEERS[1].category, *employer, "延续注册", start, "明年"],
    ]  # fmt: skip
    path = tmp_path / "registrations.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows(rows)
    before = _count(node)
    result = run_import(node, str(path), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 1, result.stdout
    lines = result.stderr.splitlines()

    def said(row: int, column: str, words: str) -> bool:
        return any(f" {row} " in line and column in line and words in line for line in lines)

    assert said(2, "有效期起", "not a real date"), result.stderr
    assert said(2, "资格证书编号", "no active qualification NO-SUCH"), result.stderr
    assert said(3, "身份证号", "check character"), result.stderr
    assert said(3, "注册类型", "初始注册"), result.stderr
    assert said(3, "资格证书编号", "NO-SUCH-2"), result.stderr
    assert said(4, "有效期至", "a day is written"), result.stderr
    assert said(4, "资格证书编号", "someone else"), result.stderr
    assert "7 problem(s)" in result.stderr, result.stderr
    assert "310101198503120210" not in result.stderr
    assert _count(node) == before


def test_a_pilot_code_is_imported_only_when_the_row_says_so(node: Settings, tmp_path: Path) -> None:
    engineer = DEMO_ENGINEERS[0]
    pilot = PROVIDER[:17] + ("1" if PROVIDER[17] != "1" else "2")
    day = (TODAY - timedelta(days=1)).isoformat()
    header = [*CE_HEADER, "试点代码"]
    row = [engineer.name, engineer.id_number, "试点课程", "某早期机构", pilot, "2", "专业", day]
    path = tmp_path / "pilot.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows([header, [*row, ""], [*row[:2], "试点课程二", *row[3:], "否"]])
    refused = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert refused.returncode == 1
    assert "2 problem(s)" in refused.stderr
    assert "check character does not match" in refused.stderr
    with path.open("w", encoding="gb18030", newline="") as handle:
        csv.writer(handle).writerows([header, [*row, "是"]])
    taken = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert taken.returncode == 0, taken.stderr
    (subject,) = [
        s
        for s in _subjects(node, "ContinuingEducationCredit")
        if s["course"]["title"] == "试点课程"
    ]
    assert subject["provider"] == {
        "name": "某早期机构",
        "creditCode": pilot,
        "creditCodeCheck": "pilot",
    }


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_template_has_drop_downs_notes_a_frozen_header_and_an_example(
    node: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "ce.xlsx"
    made = run_import(node, "--template", "continuing-education", "--output", str(path))
    assert made.returncode == 0, made.stderr
    workbook = load_workbook(path)
    assert workbook.sheetnames == [DATA_SHEET, EXAMPLE_SHEET, NOTES_SHEET]
    data = workbook[DATA_SHEET]
    header = [cell.value for cell in data[1]]
    assert header == [*CE_HEADER, "更正的记录", "试点代码"]
    assert data.freeze_panes == "A2"
    assert data.max_row == 1 or all(
        cell.value is None for row in data.iter_rows(min_row=2) for cell in row
    )  # the data sheet is clean: no example to import by mistake
    lists = {
        str(v.sqref): v.formula1 for v in data.data_validations.dataValidation if v.type == "list"
    }
    assert lists == {"G2:G1001": '"公需,专业"', "J2:J1001": '"是,否"'}
    notes = {cell.value: cell.comment.text for cell in data[1] if cell.comment}
    assert set(notes) == set(header)
    assert "2026年3月1日" in notes["完成日期"]
    assert "公需" in notes["学时类型"]
    assert data["B2"].number_format == "@"
    assert data["H2"].number_format == "yyyy-mm-dd"
    explained = [row[0] for row in workbook[NOTES_SHEET].iter_rows(min_row=2, values_only=True)]
    assert set(header) <= set(explained)
    example = [cell.value for cell in workbook[EXAMPLE_SHEET][2]]
    assert example[6] == "专业"

    # The example row, copied onto the data sheet, imports as it is.
    for position, value in enumerate(example, start=1):
        data.cell(row=2, column=position, value=value)
    workbook.save(path)
    before = _count(node)
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    assert _count(node) == before + 1

    csv_path = tmp_path / "ce.csv"
    assert (
        run_import(node, "--template", "continuing-education", "--output", str(csv_path)).returncode
        == 0
    )
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert csv_path.read_text(encoding="utf-8-sig").splitlines() == [",".join(map(str, header))]


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_template_lists_its_enumerations(node: Settings, tmp_path: Path) -> None:
    categories = (
        '"煤矿安全,金属非金属矿山安全,化工安全,金属冶炼安全,建筑施工安全,道路运输安全,'
        '其他安全（不包括消防安全）"'
    )
    expected = {
        "qualification": {categories},
        "registration": {categories, '"初始注册,延续注册,变更注册,重新注册"', '"是,否"'},
        "listing": {'"单位,个人"', '"是,否"'},
    }
    for kind, lists in expected.items():
        path = tmp_path / f"{kind}.xlsx"
        assert run_import(node, "--template", kind, "--output", str(path)).returncode == 0
        data = load_workbook(path)[DATA_SHEET]
        assert {v.formula1 for v in data.data_validations.dataValidation} == lists
        assert data.freeze_panes == "A2"

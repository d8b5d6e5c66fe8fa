"""`registry import`: CSV and XLSX files, checked whole first, issued all or nothing."""

from __future__ import annotations

import csv
import resource
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlmodel import col

from registry.bulk.columns import COLUMNS
from registry.bulk.rows import MAX_ROWS, parse_rows, read_table
from registry.calendar import add_years, china_today
from registry.credentials import CredentialType
from registry.demo import DEMO_ENGINEERS, credit_code, resident_id
from registry.errors import InvalidInput
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, Record, RecordParty, StoredCredential
from tests._support import run_import, seed_demo_node

TODAY = china_today()
PROVIDER = credit_code("12310000MB0P10008")
CE_HEADER = ["姓名", "身份证号", "课程名称", "培训机构", "培训机构统一社会信用代码",
             "学时", "学时类型", "完成日期"]  # fmt: skip


def _ce_row(number: int, **changes: str) -> list[str]:
    engineer = DEMO_ENGINEERS[number % len(DEMO_ENGINEERS)]
    row = {
        "姓名": engineer.name,
        "身份证号": engineer.id_number,
        "课程名称": f"安全生产专题培训第{number}期",
        "培训机构": "上海市安全生产科学研究所",
        "培训机构统一社会信用代码": PROVIDER,
        "学时": "8",
        "学时类型": "professional",
        "完成日期": (TODAY - timedelta(days=number + 1)).isoformat(),
    } | changes
    return [row[h] for h in CE_HEADER]


@pytest.fixture
def node(settings: Settings) -> Settings:
    seed_demo_node(settings)
    return settings


def _counts(settings: Settings) -> tuple[int, int, int]:
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        return (
            session.scalar(select(func.count()).select_from(StoredCredential)) or 0,
            session.scalar(select(func.count()).select_from(LogEntry)) or 0,
            session.scalar(select(func.count()).select_from(Record)) or 0,
        )


def _write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _bad_rows() -> list[list[str]]:
    return [
        CE_HEADER,
        _ce_row(1),
        _ce_row(2, 身份证号="310101198503120210"),  # check character wrong
        _ce_row(3),
        _ce_row(4, 学时="0"),
        [],  # an empty row is skipped, not an error
        _ce_row(5, 学时类型="选修", 培训机构统一社会信用代码="123"),
        _ce_row(6),
    ]


def _expect_problems(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr
    assert "4 problem(s)" in lines
    assert "nothing issued" in lines
    for row, column in (
        (3, "身份证号"),
        (5, "学时"),
        (7, "学时类型"),
        (7, "培训机构统一社会信用代码"),
    ):
        assert any(f" {row} " in line and column in line for line in lines.splitlines()), (
            row,
            column,
            lines,
        )
    assert "310101198503120210" not in lines  # reasons never repeat an ID number


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_bad_rows_are_all_reported_and_nothing_is_written(
    node: Settings, tmp_path: Path, kind: str
) -> None:
    before = _counts(node)
    path = tmp_path / f"credits.{kind}"
    (_write_csv if kind == "csv" else _write_xlsx)(path, _bad_rows())
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    _expect_problems(result)
    assert _counts(node) == before


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_good_file_is_issued_whole(node: Settings, tmp_path: Path, kind: str) -> None:
    before = _counts(node)
    rows = [CE_HEADER, *(_ce_row(n) for n in range(1, 26))]
    path = tmp_path / f"credits.{kind}"
    (_write_csv if kind == "csv" else _write_xlsx)(path, rows)
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "310000")
    assert result.returncode == 0, result.stderr
    assert "issued 25 ContinuingEducationCredit record(s)" in result.stdout
    assert _counts(node) == (before[0] + 25, before[1] + 25, before[2] + 25)


def test_references_are_checked_before_anything_is_written(node: Settings, tmp_path: Path) -> None:
    # 刘洋 and 吴敏 are not registered: one employer at a time leaves them free.
    liu, chen, wu = DEMO_ENGINEERS[2], DEMO_ENGINEERS[1], DEMO_ENGINEERS[8]
    newcomer = resident_id("310101", "19950307", "015")
    header = ["holder_name", "holder_id_number", "registration_number", "qualification",
              "category", "employer_name", "employer_credit_code", "kind", "valid_from",
              "valid_until"]  # fmt: skip
    start = TODAY.isoformat()
    end = (TODAY + timedelta(days=1000)).isoformat()
    employer = ["某公司", credit_code("91310000MA1FL0001")]
    rows = [
        header,
        [liu.name, liu.id_number, "SH-R-1", liu.certificate_number, liu.category, *employer,
         "renewal", start, end],
        [wu.name, wu.id_number, "SH-R-2", chen.certificate_number, chen.category, *employer,
         "initial", start, end],
        ["林一", newcomer, "SH-R-3", "NO-SUCH", liu.category, *employer,
         "initial", start, end],
    ]  # fmt: skip
    before = _counts(node)
    path = _write_csv(tmp_path / "registrations.csv", rows, encoding="gb18030")
    result = run_import(node, str(path), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 1
    assert "2 problem(s)" in result.stderr
    assert "someone else" in result.stderr
    assert "no active qualification NO-SUCH" in result.stderr
    assert _counts(node) == before
    good = _write_csv(tmp_path / "good.csv", rows[:2], encoding="gb18030")
    result = run_import(node, str(good), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    assert _counts(node) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_imported_registrations_follow_the_registration_rules(
    node: Settings, tmp_path: Path
) -> None:
    """An import goes through the checks the API does: 变更注册 names the registration it
    changes in its own column (变更的注册) and keeps its term (《注册安全工程师管理规定》);
    one employer at a time (《注册安全工程师职业资格制度规定》: 不得同时受聘于两个或两个
    以上单位)."""
    wang = DEMO_ENGINEERS[0]  # SH-REG-1001, from 400 days ago for five years
    start = TODAY - timedelta(days=400)
    last = add_years(start, 5) - timedelta(days=1)
    header = ["姓名", "身份证号", "注册编号", "资格证书编号", "专业类别", "聘用单位",
              "聘用单位统一社会信用代码", "注册类型", "有效期起", "有效期至",
              "变更的注册"]  # fmt: skip
    employer = ["上海某新材料有限公司", credit_code("91310000MA1FL0031")]
    row = [wang.name, wang.id_number, "SH-R-9", wang.certificate_number, wang.category,
           *employer]  # fmt: skip
    before = _counts(node)
    overlapping = _write_csv(
        tmp_path / "overlapping.csv",
        [header, [*row, "初始注册", TODAY.isoformat(), last.isoformat(), ""]],
    )
    result = run_import(node, str(overlapping), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 1
    assert "overlaps registration SH-REG-1001 of CN-SH" in result.stderr
    assert _counts(node) == before
    change = _write_csv(
        tmp_path / "change.csv",
        [header, [*row, "变更注册", TODAY.isoformat(), last.isoformat(), "SH-REG-1001"]],
    )
    result = run_import(node, str(change), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        rows = session.execute(
            select(col(Record.number), col(Record.state)).where(
                col(Record.number).in_(["SH-REG-1001", "SH-R-9"])
            )
        ).all()
        states = {str(number): str(state) for number, state in rows}
    assert states == {"SH-REG-1001": "superseded", "SH-R-9": "active"}


def test_listing_template_round_trip(node: Settings, tmp_path: Path) -> None:
    template = tmp_path / "listing.xlsx"
    made = run_import(node, "--template", "listing", "--output", str(template))
    assert made.returncode == 0, made.stderr
    workbook = load_workbook(template)
    sheet = workbook.active
    assert sheet is not None
    sheet.append([
        "单位", "江苏某危化品运输有限公司", credit_code("91320100MA1XY0016"), "",
        "《安全生产严重失信主体名单管理办法》第六条", "苏应急罚〔2026〕9号",
        "苏应急失信〔2026〕2号",
        (TODAY - timedelta(days=3)).isoformat(), "联合惩戒；重点监管", "",
        "赵某", resident_id("320102", "19700101", "011"), "", "", "钱某",
        resident_id("320102", "19800202", "022"), "", "",
    ])  # fmt: skip
    workbook.save(template)
    before = _counts(node)
    result = run_import(node, str(template), "--type", "listing", "--authority", "CN-JS")
    assert result.returncode == 0, result.stderr
    assert _counts(node)[2] == before[2] + 1
    with engine_scope(node.database_url) as engine, session_scope(engine) as session:
        listing = session.scalars(
            select(Record).where(col(Record.number) == "苏应急失信〔2026〕2号")
        ).one()
        parties = session.scalars(
            select(RecordParty).where(col(RecordParty.credential_id) == listing.credential_id)
        )
        roles = sorted(party.role for party in parties)
    assert roles == ["directly-responsible", "listed", "principal"]
    printed = run_import(node, "--template", "qualification")
    assert printed.stdout.strip() == "姓名,身份证号,证书编号,专业类别,发证日期,更正的记录"


def test_unknown_columns_and_types(node: Settings, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "x.csv", [["姓名", "颜色"], ["王", "红"]])
    result = run_import(node, str(path), "--type", "qualification", "--authority", "CN-SH")
    assert result.returncode == 1
    assert "颜色" in result.stderr
    assert "unknown column" in result.stderr
    assert "required column is missing" in result.stderr
    wrong = run_import(node, str(path), "--type", "diploma", "--authority", "CN-SH")
    assert wrong.returncode == 1
    assert "unknown type 'diploma'" in wrong.stderr


def test_an_earlier_templates_role_columns_are_refused_naming_order_11() -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): the related persons'
    columns are its terms; 法定代表人 and 安全负责人 columns are refused, naming them."""
    header = [column.zh for column in COLUMNS[CredentialType.LISTING] if column.required]
    parsed = parse_rows(
        CredentialType.LISTING,
        [*header, "法定代表人姓名", "safety_lead_id_number"],
        [],
        authority="CN-JS",
    )
    refused = {error.column: error.reason for error in parsed.errors}
    assert set(refused) == {"法定代表人姓名", "safety_lead_id_number"}
    assert "legal-representative (法定代表人) is no longer a role" in refused["法定代表人姓名"]
    assert "应急管理部令第11号" in refused["safety_lead_id_number"]
    assert "other-responsible (其他负有责任的人员)" in refused["safety_lead_id_number"]
    headers = {column.zh for column in COLUMNS[CredentialType.LISTING]}
    assert {"主要负责人姓名", "有关责任人员身份证号", "其他负有责任的人员姓名"} <= headers


def test_the_measure_codes_column_takes_codes_or_labels() -> None:
    """《安全生产严重失信主体名单管理办法》(应急管理部令第11号): the measures a listing
    takes, coded in the 措施代码 column (codes or Chinese labels, separated by semicolons or 、)."""
    row = {
        "主体类型": "单位",
        "主体名称": "江苏某危化品运输有限公司",
        "统一社会信用代码": credit_code("91320100MA1XY0016"),
        "列入依据": "《安全生产严重失信主体名单管理办法》第六条",
        "行政处罚决定书文号": "苏应急罚〔2026〕9号",
        "列入决定书文号": "苏应急失信〔2026〕2号",
        "列入日期": "2026/3/1",
        "惩戒措施": "联合惩戒",
        "措施代码": "restrict-practice、列为重点监管对象，加大执法检查频次; other",
    }
    parsed = parse_rows(
        CredentialType.LISTING, list(row), [(2, list(row.values()))], authority="CN-JS"
    )
    assert parsed.errors == []
    [item] = parsed.items
    assert item.measure_codes == ["restrict-practice", "key-supervision", "other"]
    bad = parse_rows(
        CredentialType.LISTING,
        list(row),
        [(2, [*list(row.values())[:-1], "restrict-practice；限制执业"])],
        authority="CN-JS",
    )
    assert [(e.column, e.reason) for e in bad.errors] == [
        ("措施代码", "each measure code at most once")
    ]


def test_a_csv_with_a_giant_cell_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(f"姓名,身份证号\n{'王' * 200_000},1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="the CSV file cannot be read"):
        read_table(path, max_columns=2)
    old_mac = tmp_path / "cr.csv"
    old_mac.write_bytes("姓名,身份证号\r王五,1\r".encode())
    assert read_table(old_mac, max_columns=2) == (["姓名", "身份证号"], [(2, ["王五", "1"])])


def _xfd_workbook(path: Path, rows: int, *, declared: str | None = None) -> Path:
    """An XLSX whose every row has a value in column XFD, the last one a sheet has,
    written as raw XML: cheap to make, and small (a few hundred KB). Its
    ``<dimension>`` declares ``declared`` (a lie), or the truth."""
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for i, name in enumerate(CE_HEADER)
    )
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + f'<dimension ref="{declared or f"A1:XFD{rows}"}"/>'.encode()
                + f'<sheetData><row r="1">{header}</row>'.encode()
            )
            for row in range(2, rows + 1):
                sheet.write(f'<row r="{row}"><c r="XFD{row}"><v>1</v></c></row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_cell_beyond_the_template_is_refused_before_the_sheet_is_expanded(
    node: Settings, tmp_path: Path
) -> None:
    # 200,000 rows with a value in column XFD: openpyxl padded each to 16,384 cells
    # (past 5 GB). Declared so, refused before a row is read; declaring less (a lie),
    # refused at row 2. In one line, nothing issued.
    path = _xfd_workbook(tmp_path / "xfd.xlsx", 200_000)
    assert path.stat().st_size < 2_000_000
    before = _counts(node)
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert _one_line_error(result) == (
        "error: the sheet declares 3,276,800,000 cells, over the 4,000,000 it may hold"
    )
    path = _xfd_workbook(tmp_path / "xfd.xlsx", 200_000, declared="A1:J200000")
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert _one_line_error(result) == (
        "error: xfd.xlsx: row 2 has a value in column XFD, beyond the 10 columns of the template"
    )
    assert _counts(node) == before
    # The child's peak memory (the largest of this process's children so far).
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1_000_000  # KiB


def test_xlsx_rows_are_streamed_not_expanded(tmp_path: Path) -> None:
    path = _xfd_workbook(tmp_path / "xfd.xlsx", 2_000, declared="A1:H2000")
    with pytest.raises(InvalidInput, match="row 2 has a value in column XFD"):
        read_table(path, max_columns=8)
    csv_path = _write_csv(tmp_path / "wide.csv", [CE_HEADER, _ce_row(1), [*_ce_row(2), "", "x"]])
    with pytest.raises(InvalidInput, match="row 3 has a value in column J, beyond the 8"):
        read_table(csv_path, max_columns=8)
    # Empty cells beyond the template (an export's trailing commas) are no value.
    padded = _write_csv(tmp_path / "padded.csv", [[*CE_HEADER, ""], [*_ce_row(1), "", ""]])
    assert read_table(padded, max_columns=8) == (CE_HEADER, [(2, _ce_row(1))])


# What this checks does not depend on the database: SQLite alone (the domain below the
# command is tested on both).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_over_the_row_limit_is_refused_in_one_line(
    node: Settings, tmp_path: Path, kind: str
) -> None:
    rows = [CE_HEADER] + [_ce_row(1)] * (MAX_ROWS + 1)
    if kind == "csv":
        path = _write_csv(tmp_path / "many.csv", rows)
    else:
        path = tmp_path / "many.xlsx"
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    before = _counts(node)
    result = run_import(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    assert _one_line_error(result) == (
        f"error: many.{kind} has more than 100,000 rows: import at most 100,000 a file"
    )
    assert _counts(node) == before
    # One row fewer is read whole (and checked: the rows repeat one credit).
    header, read = read_table(_write_csv(tmp_path / "just.csv", rows[:-1]), max_columns=8)
    assert (header, len(read)) == (CE_HEADER, MAX_ROWS)

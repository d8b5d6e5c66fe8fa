"""`registry import`: CSV and XLSX files, checked whole first, issued all or nothing."""

from __future__ import annotations

import csv
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlmodel import col

from registry.bulk.rows import read_table
from registry.calendar import china_today
from registry.demo import DEMO_ENGINEERS, credit_code, resident_id, seed_demo, seed_demo_records
from registry.errors import InvalidInput
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import LogEntry, Record, RecordParty, StoredCredential
from registry.trust.store import NodeProfile
from tests._support import REGISTRY

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
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
        seed_demo_records(session, context)
    return settings


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(REGISTRY), "import", *args], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


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
    result = _run(node, str(path), "--type", "continuing-education", "--authority", "CN-SH")
    _expect_problems(result)
    assert _counts(node) == before


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_good_file_is_issued_whole(node: Settings, tmp_path: Path, kind: str) -> None:
    before = _counts(node)
    rows = [CE_HEADER, *(_ce_row(n) for n in range(1, 26))]
    path = tmp_path / f"credits.{kind}"
    (_write_csv if kind == "csv" else _write_xlsx)(path, rows)
    result = _run(node, str(path), "--type", "continuing-education", "--authority", "310000")
    assert result.returncode == 0, result.stderr
    assert "issued 25 ContinuingEducationCredit record(s)" in result.stdout
    assert _counts(node) == (before[0] + 25, before[1] + 25, before[2] + 25)


def test_references_are_checked_before_anything_is_written(node: Settings, tmp_path: Path) -> None:
    wang, chen = DEMO_ENGINEERS[0], DEMO_ENGINEERS[1]
    header = ["holder_name", "holder_id_number", "registration_number", "qualification",
              "category", "employer_name", "employer_credit_code", "kind", "valid_from",
              "valid_until"]  # fmt: skip
    start = TODAY.isoformat()
    end = (TODAY + timedelta(days=1000)).isoformat()
    employer = ["某公司", credit_code("91310000MA1FL0001")]
    rows = [
        header,
        [wang.name, wang.id_number, "SH-R-1", wang.certificate_number, wang.category, *employer,
         "renewal", start, end],
        [wang.name, wang.id_number, "SH-R-2", chen.certificate_number, chen.category, *employer,
         "change", start, end],
        [wang.name, wang.id_number, "SH-R-3", "NO-SUCH", wang.category, *employer,
         "initial", start, end],
    ]  # fmt: skip
    before = _counts(node)
    path = _write_csv(tmp_path / "registrations.csv", rows, encoding="gb18030")
    result = _run(node, str(path), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 1
    assert "2 problem(s)" in result.stderr
    assert "someone else" in result.stderr
    assert "no active qualification NO-SUCH" in result.stderr
    assert _counts(node) == before
    good = _write_csv(tmp_path / "good.csv", rows[:2], encoding="gb18030")
    result = _run(node, str(good), "--type", "registration", "--authority", "CN-SH")
    assert result.returncode == 0, result.stderr
    assert _counts(node) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_listing_template_round_trip(node: Settings, tmp_path: Path) -> None:
    template = tmp_path / "listing.xlsx"
    made = _run(node, "--template", "listing", "--output", str(template))
    assert made.returncode == 0, made.stderr
    workbook = load_workbook(template)
    sheet = workbook.active
    assert sheet is not None
    sheet.append([
        "单位", "江苏某危化品运输有限公司", credit_code("91320100MA1XY0016"), "",
        "《安全生产严重失信主体名单管理办法》第六条", "苏应急罚〔2026〕9号",
        "苏应急失信〔2026〕2号",
        (TODAY - timedelta(days=3)).isoformat(), "联合惩戒；重点监管", "",
        "赵某", resident_id("320102", "19700101", "011"), "", "", "", "", "钱某",
        resident_id("320102", "19800202", "022"),
    ])  # fmt: skip
    workbook.save(template)
    before = _counts(node)
    result = _run(node, str(template), "--type", "listing", "--authority", "CN-JS")
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
    assert roles == ["directly-responsible", "legal-representative", "listed"]
    printed = _run(node, "--template", "qualification")
    assert printed.stdout.strip() == "姓名,身份证号,证书编号,专业类别,发证日期,更正的记录"


def test_unknown_columns_and_types(node: Settings, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "x.csv", [["姓名", "颜色"], ["王", "红"]])
    result = _run(node, str(path), "--type", "qualification", "--authority", "CN-SH")
    assert result.returncode == 1
    assert "颜色" in result.stderr
    assert "unknown column" in result.stderr
    assert "required column is missing" in result.stderr
    wrong = _run(node, str(path), "--type", "diploma", "--authority", "CN-SH")
    assert wrong.returncode == 1
    assert "unknown type 'diploma'" in wrong.stderr


def test_a_csv_with_a_giant_cell_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(f"姓名,身份证号\n{'王' * 200_000},1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="the CSV file cannot be read"):
        read_table(path)
    old_mac = tmp_path / "cr.csv"
    old_mac.write_bytes("姓名,身份证号\r王五,1\r".encode())
    assert read_table(old_mac) == (["姓名", "身份证号"], [(2, ["王五", "1"])])

"""Every CSV and XLSX the registry writes: no cell a spreadsheet would run as a formula;
and the tables people upload, read as Excel and WPS write them, within bounds."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.examples import record_examples
from api.tables import csv_answer
from registry.calendar import china_today
from registry.errors import InvalidInput
from registry.settings import Settings
from registry.spreadsheets import XLSX_MEDIA_TYPE, csv_cell, decode_csv, read_xlsx, xlsx_bytes
from tests._support import seed_demo_node


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_starts_a_formula_is_quoted(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王立新", "2026-11-26", "a=b", "", 3, None])
def test_other_cells_are_left_alone(value: object) -> None:
    assert csv_cell(value) == value


def test_a_csv_answer_quotes_every_such_cell_and_keeps_the_rest() -> None:
    text = csv_answer(["row", "name"], [[1, '=HYPERLINK("x")'], [2, "张伟"], [-3, "@x"]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["row", "name"], ["1", '\'=HYPERLINK("x")'], ["2", "张伟"], ["-3", "'@x"]]


# -- every writer, through the path its user takes ---------------------------------------


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings, records=False)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def test_the_blacklist_check_answer_quotes_an_issuers_formula(
    node: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = node
    listing = record_examples(china_today())["listing"]["value"] | {
        "listing_decision_number": '=HYPERLINK("http://127.0.0.1/x")',
    }
    issued = client.post(
        "/v1/credentials",
        json=listing,
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    )
    assert issued.status_code == 201, issued.text
    code = listing["listed"]["credit_code"]
    answer = client.post(
        "/v1/blacklist/check",
        content=f"credit_code\n{code}\n".encode(),
        headers={
            "Authorization": f"Bearer {tokens['enforcement']}",
            "Content-Type": "text/csv",
            "Accept": "text/csv",
        },
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[1][4] == '\'=HYPERLINK("http://127.0.0.1/x")'
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


def test_the_batch_answers_quote_what_was_asked(node: tuple[TestClient, dict[str, str]]) -> None:
    # The batch verification's CSV and XLSX answers (tests/test_batch_files.py walks them
    # whole): a name typed as a formula comes back as text in both.
    client, tokens = node
    body = "姓名,注册编号,地区\n=1+1,@SUM(A1),CN-SH\n".encode()
    headers = {"Authorization": f"Bearer {tokens['verifier']}", "Content-Type": "text/csv"}
    as_csv = client.post("/v1/verify/batch", content=body, headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[1][1:4] == ["'=1+1", "", "'@SUM(A1)"]
    as_xlsx = client.post(
        "/v1/verify/batch", content=body, headers={**headers, "Accept": XLSX_MEDIA_TYPE}
    )
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert {"=1+1", "@SUM(A1)"} <= {cell.value for cell in cells}
    assert {cell.data_type for cell in cells} <= {"s", "n"}


def test_an_xlsx_answer_holds_text_as_text() -> None:
    data = xlsx_bytes("t", ["a", "b"], [["=1+1", 3], ["\x00x", None], ["#N/A", "x"]])
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["a", "b"],
        ["=1+1", 3],
        ["\ufffdx", None],
        ["#N/A", "x"],
    ]
    assert sheet["A2"].data_type == "s"
    assert sheet["A4"].data_type == "s"


def test_uploads_are_decoded_as_excel_and_wps_save_them() -> None:
    text = "身份证号,地区\n"
    assert decode_csv(text.encode("gb18030")) == text
    assert decode_csv(text.encode("utf-8-sig")) == text
    assert decode_csv(text.encode("gbk"), "GBK") == text
    with pytest.raises(InvalidInput, match="unknown charset"):
        decode_csv(b"x", "klingon")
    # GB 18030 decodes any byte string but not these, which are neither.
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GB 18030"):
        decode_csv(b"\x81\x30")


def test_a_workbook_is_read_within_its_bounds() -> None:
    data = xlsx_bytes("t", ["a"], [[str(n)] for n in range(5)])
    assert read_xlsx(data, max_rows=5, max_columns=1) == [["a"], *([str(n)] for n in range(5))]
    with pytest.raises(InvalidInput, match="at most 4 rows"):
        read_xlsx(data, max_rows=4, max_columns=1)
    with pytest.raises(InvalidInput, match="would unpack"):
        read_xlsx(data, max_rows=5, max_columns=1, max_unpacked=1000)
    wide = xlsx_bytes("t", ["a", "b"], [["1", "2"]])
    with pytest.raises(InvalidInput, match="beyond the first 1 columns"):
        read_xlsx(wide, max_rows=5, max_columns=1)

"""Uploaded tables within bounds: a workbook's archive is judged from its directory
before anything is expanded (members, size unpacked, compression ratio), each member
is read no further than it declares, a sheet's cells are bounded as declared and as
read, and a CSV stops at the first row over its limit. Each a clear 422."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry.enforcement.company_lists import company_rows
from registry.enforcement.search import MAX_CHECK
from registry.errors import InvalidInput
from registry.settings import Settings
from registry.spreadsheets import (
    MAX_XLSX_MEMBERS,
    MAX_XLSX_RATIO,
    XLSX_MEDIA_TYPE,
    read_xlsx,
    xlsx_bytes,
    xlsx_rows,
)
from tests._support import seed_demo_node

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
        f'Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def _workbook(dimension: str, rows: int, *, padding: int = 0, extra: int = 0) -> bytes:
    """A one-sheet workbook written as raw XML: ``rows`` rows of two cells under its
    ``<dimension ref>``, ``padding`` spaces after them (they pack a thousand to one),
    and ``extra`` more empty files."""
    body = "".join(
        f'<row r="{n}"><c r="A{n}"><v>{n}</v></c><c r="B{n}"><v>1</v></c></row>'
        for n in range(1, rows + 1)
    )
    sheet = (
        f'<worksheet xmlns="{_MAIN}"><dimension ref="{dimension}"/>'
        f"<sheetData>{body}</sheetData></worksheet>"
    ).encode() + b" " * padding
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for number in range(extra):
            archive.writestr(f"docProps/extra{number}.xml", "")
    return buffer.getvalue()


def _understated(workbook: bytes, member: str, size: int) -> bytes:
    """``workbook`` with ``member``'s uncompressed size declared as ``size``, in its
    local header and in the central directory (what a crafted zip does)."""
    data = bytearray(workbook)
    name = member.encode()
    local = data.find(b"PK\x03\x04")
    while local != -1:
        length = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + length]) == name:
            struct.pack_into("<I", data, local + 22, size)
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + length]) == name:
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def test_a_sound_workbook_is_read() -> None:
    data = _workbook("A1:B3", 3)
    assert read_xlsx(data, max_rows=5, max_columns=2) == [["1", "1"], ["2", "1"], ["3", "1"]]


def test_a_zip_bomb_is_refused_from_the_directory_before_anything_is_expanded() -> None:
    # 20 MB of spaces packed into about 20 KB: under the size a workbook may unpack
    # to, but no sheet packs a thousand to one.
    bomb = _workbook("A1:B1", 1, padding=20_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match=f"more than {MAX_XLSX_RATIO} times its packed size"):
        read_xlsx(bomb, max_rows=5, max_columns=2)
    many = _workbook("A1:B1", 1, extra=MAX_XLSX_MEMBERS)
    with pytest.raises(InvalidInput, match=f"over the {MAX_XLSX_MEMBERS:,} it may hold"):
        read_xlsx(many, max_rows=5, max_columns=2)


def test_a_member_is_read_no_further_than_it_declares() -> None:
    sound = _workbook("A1:B200", 200)
    lying = _understated(sound, "xl/worksheets/sheet1.xml", 100)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("xl/worksheets/sheet1.xml").file_size == 100
    with pytest.raises(InvalidInput, match="not an XLSX workbook"):
        read_xlsx(lying, max_rows=500, max_columns=2)


def test_a_sheet_is_bounded_in_cells_as_declared_and_as_read() -> None:
    huge = _workbook("A1:XFD1048576", 1)
    with pytest.raises(InvalidInput, match="declares 17,179,869,184 cells, over the 4,000,000"):
        read_xlsx(huge, max_rows=5, max_columns=2)
    # Declaring less than it holds: counted while read, stopped at the first row over.
    lying = _workbook("A1:B2", 50)
    rows = xlsx_rows(lying, max_cells=20)
    assert len([next(rows) for _ in range(10)]) == 10
    with pytest.raises(InvalidInput, match="holds more than 20 cells"):
        next(rows)


def test_a_company_list_stops_at_the_first_row_over_its_limit() -> None:
    header = b"credit_code\n"
    assert len(company_rows(header + b"1\n" * MAX_CHECK, kind="csv")) == MAX_CHECK
    # Then bytes that are not CSV at all: never reached.
    over = header + b"1\n" * (MAX_CHECK + 1) + b'"' + b"x" * 1000
    with pytest.raises(InvalidInput, match="at most 10,000 rows a check"):
        company_rows(over, kind="csv")
    with pytest.raises(InvalidInput, match="more than 250 times"):
        company_rows(_workbook("A1:B1", 1, padding=20_000_000), kind="xlsx")


@pytest.fixture
def client(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    tokens = seed_demo_node(settings, records=False)
    with TestClient(create_app(settings)) as client:
        yield client, tokens["verifier"]


def test_the_api_refuses_each_in_a_clear_problem(client: tuple[TestClient, str]) -> None:
    http, token = client
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": XLSX_MEDIA_TYPE,
        "Accept-Language": "en",
    }
    for body, detail in (
        (_workbook("A1:B1", 1, padding=20_000_000), "times its packed size"),
        (_workbook("A1:XFD1048576", 1), "declares 17,179,869,184 cells"),
        (
            _understated(xlsx_bytes("t", ["name"], [["王五"]]), "xl/worksheets/sheet1.xml", 10),
            "not an XLSX workbook",
        ),
    ):
        answer = http.post("/v1/verify/batch", content=body, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert detail in answer.json()["detail"]
    chinese = http.post(
        "/v1/verify/batch",
        content=_workbook("A1:XFD1048576", 1),
        headers={**headers, "Accept-Language": "zh"},
    )
    assert chinese.json()["detail"] == "工作表声明了 17,179,869,184 个单元格，超过上限 4,000,000 个"

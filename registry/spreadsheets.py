"""Spreadsheets, CSV and XLSX: the cells the registry writes stay text, and the tables
people upload are read within bounds.

Excel, WPS and LibreOffice read a CSV cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula (OWASP, "CSV Injection"), and issuers type
the names, legal bases and measures the registry exports. So every text cell of
every CSV goes through ``csv_cell``, which puts a single quote before such a cell:
the spreadsheet shows the text and evaluates nothing. In an XLSX file the cell's
type decides, so ``append_text_row`` stores every text cell as a string, never as a
formula.

Text may also hold characters no spreadsheet should receive: a listing stored
before the registry refused them at the door (``registry.text``) may carry a NUL,
which openpyxl cannot write at all, or a right-to-left override. Every text cell of
both formats goes through ``registry.text.export_cell``, which shows each such
character as U+FFFD.

Uploaded tables are read from bytes as people make them: CSV in UTF-8 (with or
without a byte-order mark) or GB 18030, as Excel and WPS save it on Chinese-locale
Windows, and XLSX (``xlsx_rows``), whose archive's directory is judged before
anything is expanded: its members (at most ``MAX_XLSX_MEMBERS``), their total size
unpacked (at most ``MAX_XLSX_UNPACKED``) and each one's compression ratio (at most
``MAX_XLSX_RATIO``), so a zip bomb is refused unread. Declared sizes are not
trusted alone: each member is then read with a cap of its declared size, and the
sheet's cells are bounded (``MAX_XLSX_CELLS``) as declared by its ``<dimension>``
and as counted while its rows stream.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Generator, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from registry.errors import InvalidInput
from registry.text import export_cell

__all__ = [
    "MAX_XLSX_CELLS",
    "MAX_XLSX_MEMBERS",
    "MAX_XLSX_RATIO",
    "MAX_XLSX_UNPACKED",
    "XLSX_MEDIA_TYPE",
    "append_text_row",
    "csv_cell",
    "csv_text",
    "decode_csv",
    "read_xlsx",
    "xlsx_bytes",
    "xlsx_cell_text",
    "xlsx_rows",
]

_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
"""Text openpyxl would store as an error value, not as text."""

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

MAX_XLSX_UNPACKED = 64 * 1024 * 1024
"""The most an uploaded workbook may hold unpacked: 10,000 rows of a dozen text cells
take about 5 MB of sheet XML and shared strings."""

MAX_XLSX_MEMBERS = 200
"""Files an uploaded workbook's archive may hold: Excel and WPS write about a dozen
for one sheet, and one more per sheet."""

MAX_XLSX_RATIO = 250
"""The most any member may unpack to per byte packed: sheet XML of registry data
packs 5 to 20 times; a zip bomb, a thousand."""

MAX_XLSX_CELLS = 4_000_000
"""Cells an uploaded sheet may span, as declared by its ``<dimension>`` and as
counted while read: 100,000 rows of the widest template's 32 columns is 3,200,000."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell no spreadsheet evaluates: refused characters shown as
    U+FFFD, and text that would start a formula gets a leading single quote; numbers
    and other values are left alone."""
    if not isinstance(value, str):
        return value
    value = export_cell(value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with a BOM (so Excel and WPS read it as UTF-8), every cell neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(cell) for cell in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def append_text_row(sheet: Any, values: Sequence[object]) -> None:
    """Append a row to an openpyxl worksheet, each text cell stored as a string.

    openpyxl makes a formula of any text starting with ``=``; marked as a string, the
    cell holds the text as written, refused characters shown as U+FFFD (openpyxl
    raises ``IllegalCharacterError`` on a control character).
    """
    sheet.append([export_cell(value) if isinstance(value, str) else value for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def xlsx_bytes(
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    widths: Sequence[float] = (),
    document_title: str | None = None,
) -> bytes:
    """A one-sheet workbook, header bold and frozen, every text cell stored as a string
    (never a formula) with refused characters shown as U+FFFD; written streaming, in
    time proportional to its rows. ``widths``: the first columns' widths, in
    characters; ``document_title``: the workbook's own title property."""
    from openpyxl import Workbook  # noqa: PLC0415 (only spreadsheet answers need it)
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for position, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    if document_title is not None:
        workbook.properties.title = document_title

    def cells(values: Sequence[object], *, bold: bool = False) -> list[Any]:
        out: list[Any] = []
        for value in values:
            # A plain value is appended as it is (a cell made for each is ten times
            # slower): a number, nothing, or text that openpyxl keeps as a string
            # (not a formula, nor an error code such as #N/A).
            if not bold and (isinstance(value, int | float) or value is None):
                out.append(value)
                continue
            if not bold and isinstance(value, str):
                text = export_cell(value)
                if not text.startswith("=") and text not in _ERROR_CODES:
                    out.append(text)
                    continue
            # Text, numbers and dates are what the registry writes; anything else as text.
            shown = value if isinstance(value, int | float) or value is None else str(value)
            cell = WriteOnlyCell(sheet, export_cell(shown) if isinstance(shown, str) else shown)
            if isinstance(value, str):
                cell.data_type = "s"
            if bold:
                cell.font = Font(bold=True)
            out.append(cell)
        return out

    sheet.append(cells(header, bold=True))
    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def decode_csv(body: bytes, charset: str | None = None) -> str:
    """The text of an uploaded CSV: in ``charset`` when the upload names one, else
    UTF-8 (a byte-order mark dropped) if it is strictly that, else GB 18030. Raises
    ``InvalidInput`` for bytes that are neither, or an unknown charset."""
    if charset:
        try:
            return body.decode(charset).removeprefix("\ufeff")
        except LookupError as exc:
            raise InvalidInput(f"unknown charset {charset!r}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the CSV is not {charset} text") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the CSV is neither UTF-8 nor GB 18030 text")


def xlsx_cell_text(value: object) -> str:
    """A cell read from a workbook as text: a date cell as its ISO day, a whole number
    without its ``.0``, the rest as written, trimmed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _checked_archive(source: Path | bytes, *, max_unpacked: int) -> None:
    """Judge an uploaded workbook's archive before anything is expanded, then read
    each member with a cap of what it declares; raises ``InvalidInput``."""
    try:
        with zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source)) as archive:
            members = archive.infolist()
            # 1. From the central directory alone: how many, how large, how packed.
            if len(members) > MAX_XLSX_MEMBERS:
                raise InvalidInput(
                    f"the workbook holds {len(members):,} files, over the "
                    f"{MAX_XLSX_MEMBERS:,} it may hold"
                )
            unpacked = sum(member.file_size for member in members)
            if unpacked > max_unpacked:
                raise InvalidInput(
                    f"the workbook would unpack to {unpacked:,} bytes, over the "
                    f"{max_unpacked:,} bytes it may hold"
                )
            for member in members:
                if member.file_size > MAX_XLSX_RATIO * max(member.compress_size, 1):
                    raise InvalidInput(
                        f"a file in the workbook unpacks to more than {MAX_XLSX_RATIO} "
                        "times its packed size"
                    )
            # 2. What each member really unpacks to: zipfile stops at the declared
            # size and checks the CRC, so a member that would unpack to more fails.
            for member in members:
                with archive.open(member) as stream:
                    while stream.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidInput("the file is not an XLSX workbook") from exc
    except NotImplementedError as exc:  # a compression method zipfile lacks
        raise InvalidInput("the file is not an XLSX workbook") from exc


def xlsx_rows(
    source: Path | bytes,
    *,
    name: str | None = None,
    max_cells: int = MAX_XLSX_CELLS,
    max_unpacked: int = MAX_XLSX_UNPACKED,
) -> Generator[tuple[object, ...], None, None]:
    """The values of an uploaded workbook's first sheet, a row at a time, each row to
    its own last cell (the declared dimensions may lie), read only once the archive
    passed its checks (see the module's docstring).

    Raises ``InvalidInput`` for what is not a workbook openpyxl can read (``name``,
    the file's, says which), an archive over its bounds, a sheet declaring or holding
    more than ``max_cells`` cells, or a sheet that cannot be read."""
    from openpyxl import load_workbook  # noqa: PLC0415 (only spreadsheet uploads need it)
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # noqa: PLC0415

    _checked_archive(source, max_unpacked=max_unpacked)
    try:
        opened = source if isinstance(source, Path) else io.BytesIO(source)
        workbook = load_workbook(opened, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file it cannot read
        if name:
            raise InvalidInput(f"{name} is not an XLSX workbook openpyxl can read") from exc
        raise InvalidInput("the file is not an XLSX workbook openpyxl can read") from exc
    try:
        sheet = workbook.worksheets[0]
        if isinstance(sheet, ReadOnlyWorksheet):
            declared = (sheet.max_row or 0) * (sheet.max_column or 0)
            if declared > max_cells:
                raise InvalidInput(
                    f"the sheet declares {declared:,} cells, over the {max_cells:,} it may hold"
                )
            # openpyxl would pad every row to the widest declared column (a cell in
            # column XFD made each of 200,000 rows 16,384 cells): each row then runs
            # to its own last cell.
            sheet.reset_dimensions()
        cells = 0
        for values in sheet.iter_rows(values_only=True):
            cells += len(values)
            if cells > max_cells:
                raise InvalidInput(f"the sheet holds more than {max_cells:,} cells")
            yield values
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInput(f"the workbook cannot be read: {exc}") from exc
    finally:
        workbook.close()


def read_xlsx(
    body: bytes, *, max_rows: int, max_columns: int, max_unpacked: int = MAX_XLSX_UNPACKED
) -> list[list[str]]:
    """The non-empty rows of an uploaded workbook's first sheet, header first, each cell
    as text (a date cell as ``YYYY-MM-DD``, a whole number without ``.0``).

    Raises ``InvalidInput`` for what ``xlsx_rows`` refuses, a value beyond the first
    ``max_columns`` columns, or more than ``max_rows`` rows under the header (reading
    stops at the first one over).
    """
    rows: list[list[str]] = []
    for values in xlsx_rows(body, max_unpacked=max_unpacked):
        cells = [xlsx_cell_text(v) for v in values]
        if any(cells[max_columns:]):
            raise InvalidInput(f"a row has a value beyond the first {max_columns} columns")
        cells = cells[:max_columns]
        if not any(cells):
            continue
        if len(rows) > max_rows:
            raise InvalidInput(f"at most {max_rows:,} rows a batch")
        rows.append(cells)
    return rows

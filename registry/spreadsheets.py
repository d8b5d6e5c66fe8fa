"""Cells of the spreadsheets the registry writes, CSV and XLSX: text stays text.

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
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from registry.text import export_cell

__all__ = ["append_text_row", "csv_cell", "csv_text"]

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

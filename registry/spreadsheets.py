"""Cells of the spreadsheets the registry writes, CSV and XLSX: text stays text.

Excel, WPS and LibreOffice read a CSV cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula (OWASP, "CSV Injection"), and issuers type
the names, legal bases and measures the registry exports. So every text cell of
every CSV goes through ``csv_cell``, which puts a single quote before such a cell:
the spreadsheet shows the text and evaluates nothing. In an XLSX file the cell's
type decides, so ``append_text_row`` stores every text cell as a string, never as a
formula, exactly as written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["append_text_row", "csv_cell", "csv_text"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` as a CSV cell no spreadsheet evaluates: text that would start a
    formula gets a leading single quote; numbers and other values are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


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
    cell holds the text exactly as written.
    """
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"

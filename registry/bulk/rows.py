"""Reading a CSV or XLSX file of records and turning its rows into validated inputs.

Every problem is reported as (row, column, reason), the row numbered as a
spreadsheet shows it (the header is row 1) and the column named by its header in
the file. Reasons never repeat a cell's value: the cell may hold an ID number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from registry.bulk.columns import COLUMNS, RELATED_ROLES, RETIRED_ROLE_COLUMNS, YES_NO, Column
from registry.calendar import parse_day
from registry.credentials import CREDENTIAL_TYPES, CredentialType
from registry.credentials.records import RecordIn
from registry.errors import InvalidInput
from registry.issuing.partial import valid_fields
from registry.labels import LISTED_KIND, RELATED_ROLE
from registry.spreadsheets import xlsx_cell_text, xlsx_rows

__all__ = ["MAX_ROWS", "ParsedRows", "RowError", "parse_rows", "read_table"]

_RECORD: TypeAdapter[Any] = TypeAdapter(RecordIn)
_MEASURES = re.compile(r"[;；\n]+")
# Coded measures: their labels hold full-width commas, so a list is split at semicolons
# (full-width or not) and 、 only.
_CODES = re.compile(r"[;；、\n]+")


@dataclass(frozen=True)
class RowError:
    """One bad cell (or row, or header)."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class ParsedRows:
    """The rows that parsed, with their row numbers, and every problem found.

    ``invalid`` holds, for each row that did not parse, its number and the fields the
    registry checks that are valid by themselves (``registry.issuing.partial``): they
    are checked too, so that a row's problems are all reported at once."""

    items: list[Any]
    rows: list[int]
    errors: list[RowError]
    headers: dict[str, str]  # input path -> the header the file uses for it
    invalid: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


MAX_ROWS = 100_000
"""Rows a file may hold: ten of the API's batches of 10,000, a hundred log appends
of 1,000. A larger file is refused as soon as its row 100,002 is read."""


def read_table(
    path: Path, *, max_columns: int, max_rows: int = MAX_ROWS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-empty rows (with their row numbers) of a CSV or XLSX file.

    CSV may be UTF-8 (with or without a byte-order mark) or GB 18030, as Excel and
    WPS save it in China. The file is read a row at a time and refused as soon as a
    row has a value beyond its first ``max_columns`` columns (the template's) or
    there are more than ``max_rows`` non-empty rows below the header. Raises
    ``InvalidInput`` for any of that, and for anything but CSV and XLSX.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path, max_columns, max_rows)
        if suffix == ".xlsx":
            return _read_xlsx(path, max_columns, max_rows)
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from exc
    raise InvalidInput(f"{path.name}: only .csv and .xlsx files can be imported")


def _letter(index: int) -> str:
    """A column's spreadsheet name: 0 -> A, 16383 -> XFD."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _bounded(
    name: str, table: Iterable[Sequence[object]], max_columns: int, max_rows: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and non-empty rows of ``table``, read no further than the bounds."""
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, values in enumerate(table, start=1):
        cells = [xlsx_cell_text(v) for v in values]
        beyond = next((i for i in range(max_columns, len(cells)) if cells[i]), None)
        if beyond is not None:
            raise InvalidInput(
                f"{name}: row {number} has a value in column {_letter(beyond)}, beyond the "
                f"{max_columns} columns of the template"
            )
        cells = cells[:max_columns]
        if header is None:
            header = cells
        elif any(cells):
            if len(rows) == max_rows:
                raise InvalidInput(
                    f"{name} has more than {max_rows:,} rows: import at most {max_rows:,} a file"
                )
            rows.append((number, cells))
    if header is None:
        raise InvalidInput(f"{name} is empty: the first row names the columns")
    return header, rows


def _read_csv(
    path: Path, max_columns: int, max_rows: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # newline="": lines may end in CR (old Mac exports), LF or CRLF.
            with path.open(encoding=encoding, newline="") as handle:
                return _bounded(path.name, csv.reader(handle), max_columns, max_rows)
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:  # a cell over csv's field limit, say
            raise InvalidInput(f"the CSV file cannot be read: {exc}") from exc
    raise InvalidInput("the CSV file is neither UTF-8 nor GB 18030 text")


def _read_xlsx(
    path: Path, max_columns: int, max_rows: int
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    # Read-only and streamed, a row at a time, once the archive passed its checks
    # (registry.spreadsheets.xlsx_rows): each row runs to its own last cell, and is
    # refused if that lies beyond the template's columns with a value.
    rows = xlsx_rows(path, name=path.name)
    try:
        return _bounded(path.name, rows, max_columns, max_rows)
    finally:
        rows.close()


def _columns(
    record_type: CredentialType, header: list[str]
) -> tuple[dict[int, Column], list[RowError]]:
    known = {c.zh: c for c in COLUMNS[record_type]} | {
        c.en.lower(): c for c in COLUMNS[record_type]
    }
    found: dict[int, Column] = {}
    errors = []
    for position, name in enumerate(header):
        column = known.get(name) or known.get(name.lower())
        if column is None:
            retired = RETIRED_ROLE_COLUMNS.get(name) or RETIRED_ROLE_COLUMNS.get(name.lower())
            if retired is not None and record_type == CredentialType.LISTING:
                errors.append(RowError(1, name, RELATED_ROLE.refusal(retired)))
            elif name:
                errors.append(RowError(1, name, "unknown column for this type"))
            continue
        if column in found.values():
            errors.append(RowError(1, name, "the column appears twice"))
        found[position] = column
    present = set(found.values())
    errors.extend(
        RowError(1, c.zh, "required column is missing")
        for c in COLUMNS[record_type]
        if c.required and c not in present
    )
    return found, errors


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _spelled(column: Column, value: str) -> str:
    """A cell as the record's input takes it: a day in ISO form (an Excel day number
    read as its day: the column holds days only), yes or no as ``true`` or
    ``false``. A cell that is neither is left for the input's own error."""
    try:
        if column.day:
            return parse_day(value, excel_serial=True).isoformat()
        if column.yes_no:
            return YES_NO.parse(value)
    except InvalidInput:
        return value
    return value


def _item(
    record_type: CredentialType, cells: dict[str, str], authority: str
) -> tuple[dict[str, Any], list[str]]:
    """The input dict of a row, and the role of each related person in order."""
    item: dict[str, Any] = {"type": record_type, "authority": authority}
    roles: list[str] = []
    related: dict[str, dict[str, str]] = {}
    by_path = {column.path: column for column in COLUMNS[record_type]}
    for path, cell in cells.items():
        if not cell:
            continue
        value = _spelled(by_path[path], cell) if path in by_path else cell
        if path.startswith("related."):
            _, role, field = path.split(".")
            related.setdefault(role, {})[field] = value
        elif path == "measures":
            item["measures"] = [m.strip() for m in _MEASURES.split(value) if m.strip()]
        elif path == "measure_codes":
            item["measure_codes"] = [m.strip() for m in _CODES.split(value) if m.strip()]
        else:
            _put(item, path, value)
    if record_type == CredentialType.LISTING:
        persons = []
        for role, _, _ in RELATED_ROLES:
            if role in related:
                persons.append({**related[role], "role": role})
                roles.append(role)
        item["related_persons"] = persons
        listed = item.get("listed", {})
        try:
            organisation = LISTED_KIND.parse(listed.get("kind")) == "organisation"
        except InvalidInput:
            organisation = False  # the listing's own error names the kinds
        # Only the identifier that fits the kind: the other columns are for other rows.
        for unfit in ("id_number",) if organisation else ("credit_code", "pilot_code"):
            listed.pop(unfit, None)
    return item, roles


def parse_rows(
    record_type: CredentialType,
    header: list[str],
    rows: Iterable[tuple[int, list[str]]],
    *,
    authority: str,
) -> ParsedRows:
    """Validate every row as a record input of ``record_type`` issued by ``authority``."""
    columns, errors = _columns(record_type, header)
    by_path = {column.path: header[position] for position, column in columns.items()}
    items: list[Any] = []
    numbers: list[int] = []
    invalid: list[tuple[int, dict[str, Any]]] = []
    if errors:
        return ParsedRows(items, numbers, errors, by_path)
    for number, values in rows:
        cells = {
            column.path: values[position] if position < len(values) else ""
            for position, column in columns.items()
        }
        item, roles = _item(record_type, cells, authority)
        try:
            items.append(_RECORD.validate_python(item))
            numbers.append(number)
        except ValidationError as exc:
            errors.extend(
                RowError(number, _header_of(error["loc"], roles, by_path), _reason(error["msg"]))
                for error in exc.errors()
            )
            failed = {str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) > 1}
            invalid.append((number, valid_fields(record_type, item, failed)))
    return ParsedRows(items, numbers, errors, by_path, invalid)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def _header_of(location: tuple[Any, ...], roles: list[str], headers: dict[str, str]) -> str:
    """The file's header for a pydantic error location (or the field path, if none)."""
    parts = [
        p for p in location if p not in CREDENTIAL_TYPES and p not in ("organisation", "person")
    ]
    if len(parts) >= 2 and parts[0] == "related_persons" and isinstance(parts[1], int):
        role = roles[parts[1]] if parts[1] < len(roles) else "?"
        path = f"related.{role}.{parts[2]}" if len(parts) > 2 else f"related.{role}.name"
    elif parts and parts[0] in ("measures", "measure_codes"):
        path = str(parts[0])  # one cell holds the whole list
    else:
        path = ".".join(str(p) for p in parts)
    return headers.get(path, path)

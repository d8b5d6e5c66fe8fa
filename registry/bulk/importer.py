"""Bulk import: check a whole file first, then issue all of it or nothing.

``check_file`` reads and validates every row, then checks what the rows refer to
against the registry (qualifications, records they correct), and returns every
problem, a CE credit the authority already holds, or that an earlier row repeats,
among them. ``issue_rows`` issues the rows in chunks of one log append each, all in
the caller's transaction, and keeps the import's receipt (each row's number and the
credential it became): if any chunk fails, the caller rolls everything back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from registry.bulk.columns import COLUMNS
from registry.bulk.rows import ParsedRows, RowError, parse_rows, read_table
from registry.bulk.template import write_xlsx_template
from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.ids import province
from registry.issuing import IssuingContext, check_records, issue_records
from registry.issuing.partial import check_valid_fields
from registry.issuing.receipts import CLI_ACTOR, Issuer, record_receipt
from registry.issuing.records import item_problem

__all__ = [
    "CHUNK",
    "Imported",
    "check_file",
    "check_rows",
    "issue_rows",
    "template_rows",
    "write_template",
]

CHUNK = 1_000
"""Rows per log append."""

CHECKED_EVERY = 250
"""Rows validated between two reports of a check's progress."""


def check_file(
    session: Session,
    context: IssuingContext,
    path: Path,
    *,
    record_type: CredentialType,
    authority: str,
    now: datetime | None = None,
    advance: Callable[[int, int], None] = lambda done, rows: None,
) -> ParsedRows:
    """Every row of the file validated, and every problem found; writes nothing.

    ``advance(done, rows)`` is told how many of the file's rows have been validated,
    every ``CHECKED_EVERY`` rows and once more when all of them are checked."""
    code = province(authority).iso
    now = now or datetime.now(UTC)
    header, rows = read_table(path, max_columns=len(COLUMNS[record_type]))
    advance(0, len(rows))
    parsed = parse_rows(record_type, header, _counted(rows, advance), authority=code)
    errors = list(parsed.errors)
    # A row that did not parse is checked against the registry too, on what it got
    # right: its problems are then all reported at once.
    known: dict[str, Any] = {}
    for number, values in parsed.invalid:
        errors.extend(
            RowError(number, parsed.headers.get(e.field, e.field), e.message)
            for e in check_valid_fields(
                session,
                record_type,
                values,
                authority=code,
                lookup=context.lookup,
                now=now,
                known=known,
            )
        )
    if not parsed.items:
        errors.sort(key=lambda e: e.row)
        advance(len(rows), len(rows))
        return ParsedRows(parsed.items, parsed.rows, errors, parsed.headers)
    checked = check_rows(
        session, context, ParsedRows(parsed.items, parsed.rows, errors, parsed.headers), now=now
    )
    advance(len(rows), len(rows))
    return checked


def _counted(
    rows: list[tuple[int, list[str]]], advance: Callable[[int, int], None]
) -> Iterator[tuple[int, list[str]]]:
    """The rows, telling ``advance`` how many were taken (the last of them are told
    once checked against the registry too)."""
    for done, row in enumerate(rows):
        if done and done % CHECKED_EVERY == 0:
            advance(done, len(rows))
        yield row


def check_rows(
    session: Session, context: IssuingContext, parsed: ParsedRows, *, now: datetime | None = None
) -> ParsedRows:
    """The rows that parsed checked against the registry (the qualifications and
    records they refer to, the CE credits held already or repeated): ``parsed`` with
    those problems added, all sorted by row; writes nothing."""
    errors = list(parsed.errors)
    _, problems = check_records(
        session,
        parsed.items,
        "rows",
        lookup=context.lookup,
        policies=context.policies,
        now=now or datetime.now(UTC),
        name=lambda j: f"row {parsed.rows[j]}",
    )
    for problem in problems:
        index, field = item_problem(problem, "rows")
        errors.append(
            RowError(parsed.rows[index], parsed.headers.get(field, field), problem.message)
        )
    errors.sort(key=lambda e: e.row)
    return ParsedRows(parsed.items, parsed.rows, errors, parsed.headers)


@dataclass(frozen=True)
class Imported:
    """What an import issued: how many records, and its receipt's id."""

    count: int
    receipt_id: str


def issue_rows(
    session: Session,
    context: IssuingContext,
    parsed: ParsedRows,
    *,
    file_name: str,
    issuer: Issuer | None = None,
    advance: Callable[[int], None] = lambda _: None,
    now: datetime | None = None,
) -> Imported:
    """Issue every row of a checked file and keep its receipt (``issuer`` defaults to
    ``registry import``'s own, ``cli``). The caller commits."""
    if parsed.errors:
        raise InvalidInput(f"{len(parsed.errors)} problem(s) in the file: nothing is issued")
    if not parsed.items:
        raise InvalidInput("the file has no rows to import")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    issued: list[str] = []
    for start in range(0, len(parsed.items), CHUNK):
        chunk = parsed.items[start : start + CHUNK]
        records = issue_records(session, context, chunk, field_prefix="rows", now=now)
        issued.extend(record.credential.id for record in records.records)
        advance(len(chunk))
    receipt_id = record_receipt(
        session,
        kind="import",
        authority=parsed.items[0].authority,
        issuer=issuer or Issuer(None, CLI_ACTOR, CLI_ACTOR),
        rows=list(zip(parsed.rows, issued, strict=True)),
        file_name=file_name,
        record_type=parsed.items[0].type,
        now=now,
    )
    return Imported(len(issued), receipt_id)


def template_rows(record_type: CredentialType) -> list[str]:
    """The header row of a type's template, in Chinese."""
    return [column.zh for column in COLUMNS[record_type]]


def write_template(record_type: CredentialType, path: Path | None) -> str | None:
    """Write the template to ``path`` (.csv: the header row; .xlsx: the data sheet with
    its drop-downs and notes, an example sheet and a notes sheet); with no path,
    return it as CSV."""
    header = template_rows(record_type)
    if path is None or path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(header)
        if path is None:
            return buffer.getvalue()
        # With a byte-order mark, so that Excel opens the Chinese headers right.
        path.write_text(buffer.getvalue(), encoding="utf-8-sig")
        return None
    if path.suffix.lower() != ".xlsx":
        raise InvalidInput("a template is written as .csv or .xlsx")
    write_xlsx_template(record_type, path)
    return None

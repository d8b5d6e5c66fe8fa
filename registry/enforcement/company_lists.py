"""Lists of companies an inspector checks against the untrustworthiness list: the
table read (CSV or XLSX: a credit code and, optionally, a name per row), each row's
answer (listed, possible, clear, or the row's error), and the check kept for the
inspector, failures first.

A row is ``listed`` when a listing in force names its credit code; ``possible`` when
none does but the code's check character fails (probably mistyped: finding nothing
under it is no clean answer) or a listing in force names a company of the same name
(a name identifies no one); ``clear`` otherwise. The check itself is
``registry.enforcement.inspection.check_audited``'s, recorded in the access audit.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.enforcement.inspection import CheckResult
from registry.enforcement.search import MAX_CHECK, CheckRow, read_listings
from registry.enforcement.timeline import status_on
from registry.errors import InvalidInput, NotFound
from registry.ids import name_key
from registry.spreadsheets import decode_csv, read_xlsx
from registry.storage.models import InspectionCheck, RecordParty

__all__ = [
    "COMPANY_COLUMNS",
    "CompanyRow",
    "check_rows",
    "company_rows",
    "inspection_check",
    "inspection_checks",
    "keep_check",
    "row_answers",
]

COMPANY_COLUMNS = {
    "credit_code": ("统一社会信用代码", "信用代码", "credit code"),
    "name": ("单位名称", "企业名称", "名称"),
}
"""The columns of a list of companies, each with its other headers (Chinese first)."""

_ORDER = {"listed": 0, "possible": 1, "error": 2, "clear": 3}


@dataclass(frozen=True)
class CompanyRow:
    """A row of the list: the credit code as written, and the name if given."""

    credit_code: str
    name: str


def _header_of(cell: str) -> str | None:
    folded = cell.strip().casefold()
    for key, others in COMPANY_COLUMNS.items():
        if folded == key or folded in (o.casefold() for o in others):
            return key
    return None


def company_rows(body: bytes, *, kind: str, charset: str | None = None) -> list[CompanyRow]:
    """The rows of an uploaded table (``kind`` ``csv`` or ``xlsx``), header first,
    blank rows left out. Raises ``InvalidInput`` for a table that cannot be read, one
    without a credit-code column, an unknown column, no rows, or more than
    ``MAX_CHECK``."""
    if kind == "xlsx":
        table = read_xlsx(body, max_rows=MAX_CHECK, max_columns=8)
    else:
        try:
            reader = csv.reader(io.StringIO(decode_csv(body, charset), newline=""))
            table = []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                # Reading stops at the first row over the limit (the header is one more).
                if len(table) > MAX_CHECK:
                    raise InvalidInput(f"at most {MAX_CHECK:,} rows a check")
                table.append(cells[:8])
        except csv.Error as exc:
            raise InvalidInput(f"the CSV cannot be read: {exc}") from exc
    if not table:
        raise InvalidInput("the table has no rows")
    keys = [_header_of(cell) for cell in table[0]]
    unknown = [cell for cell, key in zip(table[0], keys, strict=True) if cell.strip() and not key]
    if unknown or "credit_code" not in keys:
        raise InvalidInput(
            "the columns are 统一社会信用代码 (credit_code) and, optionally, 单位名称 (name); "
            f"unknown: {', '.join(unknown) or 'none'}"
        )
    rows = []
    for cells in table[1:]:
        values = {key: cell.strip() for key, cell in zip(keys, cells, strict=False) if key}
        rows.append(CompanyRow(values.get("credit_code", ""), values.get("name", "")))
    if not rows:
        raise InvalidInput("the table has a header and no rows")
    if len(rows) > MAX_CHECK:
        raise InvalidInput(f"at most {MAX_CHECK:,} rows a check")
    return rows


def check_rows(rows: Sequence[CompanyRow]) -> list[CheckRow | str]:
    """The rows as the check takes them: a row without a credit code is its error."""
    return [
        CheckRow(credit_code=row.credit_code) if row.credit_code else "no credit code"
        for row in rows
    ]


def _same_names(session: Session, rows: Sequence[CompanyRow], result: CheckResult) -> set[str]:
    """The name keys of the rows' names that a listing in force gives a company."""
    keys = {name_key(row.name) for row in rows if row.name.strip()}
    if not keys:
        return set()
    found = read_listings(session, col(RecordParty.name_key).in_(sorted(keys)), None)
    named = set()
    for listing in found:
        subject = listing.document["credentialSubject"]
        changes = [(c.effective_on, c.state_after) for c in listing.changes]
        if status_on(subject, changes, result.on).in_force:
            named.add(name_key(listing.matched_name))
    return named


def row_answers(
    session: Session, rows: Sequence[CompanyRow], result: CheckResult
) -> list[dict[str, Any]]:
    """Each row's answer, failures first (listed, possible, errors, then clear), each
    keeping its row number: its credit code, name, outcome, why, and the listings."""
    named = _same_names(session, rows, result)
    answers = []
    for number, (row, checked) in enumerate(zip(rows, result.parties, strict=True), start=1):
        answer: dict[str, Any] = {
            "row": number,
            "creditCode": checked.party or row.credit_code,
            "name": row.name,
            "listings": [
                {
                    "id": f.credential_id,
                    "decidedBy": f.authority,
                    "listingDecisionNumber": f.document["credentialSubject"][
                        "listingDecisionNumber"
                    ],
                    "listedOn": f.document["credentialSubject"]["listedOn"],
                    "expiresOn": f.document["credentialSubject"]["expiresOn"],
                }
                for f in checked.listings
            ],
        }
        if checked.error is not None:
            answer.update(outcome="error", why=checked.error)
        elif checked.listings:
            answer.update(outcome="listed", why="listed")
        elif checked.check_mismatch:
            answer.update(outcome="possible", why="check-character")
        elif row.name.strip() and name_key(row.name) in named:
            answer.update(outcome="possible", why="same-name")
        else:
            answer.update(outcome="clear", why="clear")
        answers.append(answer)
    return sorted(answers, key=lambda a: (_ORDER[a["outcome"]], a["row"]))


def keep_check(
    session: Session,
    user_id: int,
    *,
    name: str,
    answers: Sequence[dict[str, Any]],
    result: CheckResult,
    now: datetime,
) -> InspectionCheck:
    """Keep a checked list for the inspector. The caller commits."""
    kept = InspectionCheck(
        user_id=user_id,
        created_at=now,
        name=name[:200],
        checked_for=result.on,
        rows=len(answers),
        listed=sum(1 for a in answers if a["outcome"] == "listed"),
        document=json.dumps(list(answers), ensure_ascii=False, separators=(",", ":")),
    )
    session.add(kept)
    session.flush()
    return kept


def inspection_check(session: Session, user_id: int, check_id: int) -> InspectionCheck:
    """A checked list of the account's; ``NotFound`` for one that is not theirs."""
    kept = session.get(InspectionCheck, check_id)
    if kept is None or kept.user_id != user_id:
        raise NotFound(f"no check {check_id}")
    return kept


def inspection_checks(session: Session, user_id: int, *, limit: int = 20) -> list[InspectionCheck]:
    """The account's latest checked lists, newest first."""
    return list(
        session.exec(
            select(InspectionCheck)
            .where(col(InspectionCheck.user_id) == user_id)
            .order_by(col(InspectionCheck.id).desc())
            .limit(limit)
        )
    )

"""Receipts: what each import and API batch became, row by row.

Every ``registry import`` and every ``POST /v1/credentials/batch`` gets an id and a
receipt: who issued it (a token's name and role, or ``cli``), when, for which
authority, from which file, and for each input row (its row number in the file, or
its index in the batch) the credential it became, with its type and leaf index. An
office files it beside its spreadsheet, and finds the rows again later by its id.

A receipt names credentials only: never a person's ID number or disclosure (those
are handed to the person separately), so it may be mailed and filed as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from registry.credentials import CredentialType
from registry.errors import Forbidden, InvalidInput, NotFound
from registry.spreadsheets import csv_text, xlsx_bytes
from registry.storage.base import bulk_insert
from registry.storage.models import LogEntry, Receipt, ReceiptRow, StoredCredential

__all__ = [
    "CLI_ACTOR",
    "RECEIPT_HEADER",
    "Issuer",
    "ReceiptLine",
    "ReceiptView",
    "list_receipts",
    "read_receipt",
    "receipt_csv",
    "receipt_id_of",
    "receipt_xlsx",
    "record_receipt",
    "write_receipt",
]

CLI_ACTOR = "cli"
"""Who a receipt names for ``registry import``, run on the node itself."""

RECEIPT_HEADER = ("行号", "凭证编号", "类型", "类型名称", "日志序号")
"""The columns of a receipt's CSV and XLSX: row number, credential id, type, its
Chinese name, leaf index."""

_TYPE_ZH = {
    CredentialType.QUALIFICATION.value: "资格证书",
    CredentialType.REGISTRATION.value: "注册证书",
    CredentialType.CE_CREDIT.value: "继续教育学时",
    CredentialType.LISTING.value: "失信主体名单",
}


@dataclass(frozen=True)
class Issuer:
    """Who issued a batch: the token's id, name and role (``None``, ``cli`` and
    ``cli`` for ``registry import``)."""

    token_id: int | None
    name: str
    role: str


@dataclass(frozen=True)
class ReceiptLine:
    """One input row and the credential it became."""

    row: int
    credential_id: str
    type: str
    leaf_index: int


@dataclass(frozen=True)
class ReceiptView:
    """A receipt as read back: what ``Receipt`` says and, when asked for, its rows."""

    receipt: Receipt
    lines: list[ReceiptLine]


def record_receipt(
    session: Session,
    *,
    kind: str,
    authority: str,
    issuer: Issuer,
    rows: Sequence[tuple[int, str]],
    file_name: str | None = None,
    record_type: str | None = None,
    now: datetime,
) -> str:
    """Keep the receipt of one import (``kind="import"``) or batch (``"batch"``):
    ``rows`` pairs each input row's number with the credential id it became. Returns
    the receipt's id. Raises ``InvalidInput`` for no rows. The caller commits."""
    if not rows:
        raise InvalidInput("a receipt of nothing issued")
    receipt_id = f"rcpt-{uuid.uuid4().hex}"
    session.add(
        Receipt(
            id=receipt_id,
            kind=kind,
            authority_code=authority,
            type=record_type,
            file_name=file_name[:255] if file_name else None,
            token_id=issuer.token_id,
            actor=issuer.name[:200],
            role=issuer.role,
            rows=len(rows),
            created_at=now,
        )
    )
    session.flush()
    bulk_insert(
        session,
        ReceiptRow,
        [
            {
                "receipt_id": receipt_id,
                "position": position,
                "row_number": row,
                "credential_id": credential_id,
            }
            for position, (row, credential_id) in enumerate(rows)
        ],
    )
    return receipt_id


def receipt_id_of(session: Session, credential_id: str) -> str | None:
    """The receipt a credential was issued under, if any."""
    return session.exec(
        select(ReceiptRow.receipt_id).where(col(ReceiptRow.credential_id) == credential_id)
    ).first()


def _may_read(receipt: Receipt, role: str) -> None:
    if role not in ("admin", f"issuer:{receipt.authority_code}"):
        raise Forbidden(f"role {role} may not read the receipts of {receipt.authority_code}")


def list_receipts(
    session: Session, *, role: str, limit: int = 50, offset: int = 0
) -> tuple[list[Receipt], int]:
    """The receipts a role may read (an issuer its authority's, ``admin`` all), newest
    first, a page of them, and how many there are in all."""
    query = select(Receipt)
    counted = select(func.count()).select_from(Receipt)
    if role != "admin":
        if not role.startswith("issuer:"):
            raise Forbidden(f"role {role} may not read receipts")
        authority = role.removeprefix("issuer:")
        query = query.where(col(Receipt.authority_code) == authority)
        counted = counted.where(col(Receipt.authority_code) == authority)
    total = session.exec(counted).one()
    page = session.exec(
        query.order_by(col(Receipt.created_at).desc(), col(Receipt.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(page), int(total)


def read_receipt(session: Session, receipt_id: str, *, role: str) -> ReceiptView:
    """A receipt and its rows, in input order. Raises ``NotFound`` for no such
    receipt, ``Forbidden`` unless ``role`` is its authority's issuer or ``admin``."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound(f"no receipt {receipt_id}")
    _may_read(receipt, role)
    rows = session.exec(
        select(
            ReceiptRow.row_number,
            ReceiptRow.credential_id,
            StoredCredential.type,
            LogEntry.leaf_index,
        )
        .join(StoredCredential, col(StoredCredential.id) == col(ReceiptRow.credential_id))
        .join(LogEntry, col(LogEntry.credential_id) == col(ReceiptRow.credential_id))
        .where(col(ReceiptRow.receipt_id) == receipt_id)
        .order_by(col(ReceiptRow.position))
    )
    return ReceiptView(
        receipt,
        [ReceiptLine(row, credential_id, kind, leaf) for row, credential_id, kind, leaf in rows],
    )


def _cells(line: ReceiptLine) -> list[object]:
    return [line.row, line.credential_id, line.type, _TYPE_ZH.get(line.type, ""), line.leaf_index]


def receipt_csv(view: ReceiptView) -> bytes:
    """The receipt as CSV (UTF-8 with a BOM), Chinese headers, no cell a formula."""
    return csv_text(RECEIPT_HEADER, (_cells(line) for line in view.lines)).encode("utf-8")


def receipt_xlsx(view: ReceiptView) -> bytes:
    """The receipt as an XLSX workbook: Chinese headers, a frozen header row, every
    text cell a string; written streaming (a receipt may have 100,000 rows)."""
    return xlsx_bytes(
        "回执",
        RECEIPT_HEADER,
        (_cells(line) for line in view.lines),
        widths=(8, 48, 28, 14, 10),
        document_title=view.receipt.id,
    )


def write_receipt(view: ReceiptView, path: Path) -> None:
    """Write the receipt to ``path``, as CSV or XLSX by its suffix; raises
    ``InvalidInput`` for any other suffix, or if the file cannot be written."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput("a receipt is written as .csv or .xlsx")
    try:
        path.write_bytes(receipt_csv(view) if suffix == ".csv" else receipt_xlsx(view))
    except OSError as exc:
        raise InvalidInput(f"cannot write the receipt to {path}: {exc.strerror}") from exc

"""The public untrustworthiness list: what the rules publish, as JSON, CSV or XLSX.

Only listings in force on the day appear: organisations with their name and credit
code, persons with their name and masked ID number, and for each the deciding
authority, the legal basis, the decision numbers, the dates and the measures.
Lifted, withdrawn and expired listings drop out of it; they stay in the logs.
Nothing in it is more than the signed listings already disclose: an ID number
appears only as the credential masks it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlmodel import Session, col

from registry.credentials import CredentialType
from registry.enforcement.measures import measure_codes, measure_labels
from registry.enforcement.timeline import listing_terms, status_on
from registry.ids import province
from registry.labels import RELATED_ROLE
from registry.spreadsheets import append_text_row, csv_text
from registry.storage.db import PREPARED
from registry.storage.models import LogEntry, StatusChangeRow, StoredCredential

__all__ = ["COLUMNS", "PublicEntry", "PublicList", "public_csv", "public_xlsx", "read_public_list"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("decidedBy", "决定机关"),
    ("kind", "主体类型"),
    ("name", "名称或姓名"),
    ("identifier", "统一社会信用代码或身份证号码（脱敏）"),
    ("relatedPersons", "相关责任人员"),
    ("legalBasis", "列入依据"),
    ("penaltyDecisionNumber", "行政处罚决定书文号"),
    ("listingDecisionNumber", "列入决定书文号"),
    ("listedOn", "列入日期"),
    ("earliestRemovalOn", "最早可申请移出日期"),
    ("expiresOn", "届满移出日期"),
    ("measures", "惩戒措施"),
    ("measureLabels", "惩戒措施类别"),
    ("id", "凭证编号"),
)
"""Each column: its JSON key and its Chinese header (CSV and XLSX)."""

_KIND_ZH = {"organisation": "单位", "person": "个人"}


def _role_zh(role: str) -> str:
    # A retired role (法定代表人) keeps its label; a role no table knows shows as written.
    try:
        return RELATED_ROLE.label(role)
    except KeyError:
        return role


_LISTINGS = (
    sa.select(
        col(StoredCredential.id),
        col(StoredCredential.issuer_code),
        col(StoredCredential.canonical),
        col(StatusChangeRow.effective_on),
        col(StatusChangeRow.state_after),
    )
    .outerjoin(
        StatusChangeRow,
        (col(StatusChangeRow.target_id) == col(StoredCredential.id))
        # A cancelled change never applies; its cancellation changes nothing.
        & col(StatusChangeRow.cancelled_by).is_(None)
        & (col(StatusChangeRow.action) != "cancel-scheduled"),
    )
    .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StatusChangeRow.credential_id))
    .where(col(StoredCredential.type) == CredentialType.LISTING)
    .order_by(
        col(StoredCredential.id),
        col(StatusChangeRow.recorded_at),
        # Within one second, the listing's log says which change came first.
        col(LogEntry.leaf_index),
        col(StatusChangeRow.credential_id),
    )
)


@dataclass(frozen=True)
class PublicEntry:
    """One listing as the public list shows it."""

    values: dict[str, Any]


@dataclass(frozen=True)
class PublicList:
    """The list on one day: of one deciding authority (its ISO code), or all."""

    on: date
    region: str | None
    entries: list[PublicEntry]


def read_public_list(session: Session, *, on: date, region: str | None = None) -> PublicList:
    """The listings in force on ``on`` (of one deciding authority, or all), oldest
    listing first. Raises ``InvalidInput`` for an unknown ``region``."""
    authority = province(region).iso if region is not None else None
    statement = _LISTINGS
    if authority is not None:
        statement = statement.where(col(StoredCredential.issuer_code) == authority)
    found: dict[str, tuple[str, str, list[tuple[date, str]]]] = {}
    for row in session.connection().execute(statement.execution_options(**PREPARED)):
        entry = found.setdefault(row.id, (row.issuer_code, row.canonical, []))
        if row.effective_on is not None:
            entry[2].append((row.effective_on, row.state_after))
    entries = []
    for credential_id, (issuer, canonical, changes) in found.items():
        subject = json.loads(canonical)["credentialSubject"]
        if status_on(subject, changes, on).in_force:
            entries.append(_entry(credential_id, issuer, subject))
    entries.sort(key=lambda e: (e.values["listedOn"], e.values["id"]))
    return PublicList(on, authority, entries)


def _entry(credential_id: str, issuer: str, subject: dict[str, Any]) -> PublicEntry:
    listed = subject["listed"]
    if listed["kind"] == "organisation":
        identifier = listed["creditCode"]
    else:
        identifier = listed["identifier"]["masked"]
    return PublicEntry(
        {
            "decidedBy": issuer,
            "kind": listed["kind"],
            "name": listed["name"],
            "identifier": identifier,
            "relatedPersons": [
                {
                    "role": person["role"],
                    "name": person["name"],
                    "residentIdMasked": person["identifier"]["masked"],
                }
                for person in subject.get("relatedPersons", [])
            ],
            **listing_terms(subject),
            "measureCodes": measure_codes(subject),
            "measureLabels": measure_labels(subject),
            "id": credential_id,
        }
    )


def _cells(entry: PublicEntry) -> list[str]:
    values = entry.values
    cells = []
    for key, _ in COLUMNS:
        value = values[key]
        if key == "decidedBy":
            value = province(value).name_zh
        elif key == "kind":
            value = _KIND_ZH[value]
        elif key == "relatedPersons":
            value = "；".join(
                f"{_role_zh(p['role'])} {p['name']}（{p['residentIdMasked']}）" for p in value
            )
        elif key in ("measures", "measureLabels"):
            value = "；".join(value)
        cells.append(str(value))
    return cells


def public_csv(entries: list[PublicEntry]) -> bytes:
    """The list as CSV with Chinese headers: UTF-8 with a BOM, for Excel and WPS, and no
    cell a spreadsheet would run as a formula."""
    header = [header for _, header in COLUMNS]
    return csv_text(header, (_cells(entry) for entry in entries)).encode("utf-8")


def public_xlsx(entries: list[PublicEntry], *, title: str) -> bytes:
    """The list as an XLSX workbook (openpyxl) with Chinese headers, one sheet."""
    book = Workbook()
    sheet = book.active
    if sheet is None:  # a new workbook always has one sheet
        sheet = book.create_sheet()
    sheet.title = "失信主体名单"
    sheet.append([header for _, header in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for entry in entries:
        append_text_row(sheet, _cells(entry))  # issuers' text, never a formula
    widths = (10, 8, 28, 24, 36, 40, 24, 24, 12, 14, 12, 36, 46)
    for column, width in zip("ABCDEFGHIJKLM", widths, strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    book.properties.title = title
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

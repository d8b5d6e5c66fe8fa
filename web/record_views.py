"""What a record's pages show, the public certificate page and the console's record
page alike: the names of the kinds of record, the English of their states, and where
a record counts today under the recognition agreements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlmodel import Session, col, select

from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.errors import InvalidCategory
from registry.ids import parse_category
from registry.recognition import RecordKind, recognise
from registry.recognition.agreements import in_force, load_agreements
from registry.storage.models import Authority
from web.i18n import N_

__all__ = ["CREDENTIAL_TYPES", "STATE_EN", "credential_type", "recognition_rows"]

CREDENTIAL_TYPES = {
    CredentialType.QUALIFICATION: N_("Junior safety-engineer qualification"),
    CredentialType.REGISTRATION: N_("Junior safety-engineer registration"),
    CredentialType.CE_CREDIT: N_("Continuing-education hours"),
    CredentialType.LISTING: N_("Production-safety untrustworthiness listing"),
    CredentialType.STATUS_CHANGE: N_("Status change"),
    CredentialType.RECOGNITION_AGREEMENT: N_("Recognition agreement"),
}
_KINDS = {
    CredentialType.QUALIFICATION: RecordKind.QUALIFICATION,
    CredentialType.REGISTRATION: RecordKind.REGISTRATION,
    CredentialType.CE_CREDIT: RecordKind.CONTINUING_EDUCATION,
}
STATE_EN = {
    "active": "in force",
    "suspended": "suspended",
    "revoked": "revoked",
    "cancelled": "cancelled",
    "listed": "listed",
    "lifted": "lifted",
    "withdrawn": "withdrawn",
    "superseded": "superseded by a correction",
}


def credential_type(value: str) -> CredentialType | None:
    """The kind of record ``value`` names, if it is one."""
    try:
        return CredentialType(value)
    except ValueError:
        return None


def recognition_rows(
    request: Request, session: Session, kind: str, subject: dict[str, Any], issuer: str
) -> list[dict[str, Any]]:
    """Where a qualification, registration or CE credit counts today, province by province."""
    known = credential_type(kind)
    record_kind = _KINDS.get(known) if known is not None else None
    if record_kind is None:
        return []
    demo = request.app.state.settings.demo
    today = china_today(datetime.now(UTC))
    agreements = [
        p.agreement
        for p in in_force(load_agreements(session), today)
        if demo or not p.agreement.demonstration
    ]
    try:
        category = parse_category(str(subject.get("category"))) if subject.get("category") else None
    except InvalidCategory:
        category = None
    rows = []
    for authority in session.exec(select(Authority).order_by(col(Authority.code))):
        found = recognise(
            agreements,
            issuer=issuer,
            region=authority.code,
            kind=record_kind,
            category=category,
            level=str(subject.get("level") or "junior"),
            on=today,
        )
        rows.append(
            {
                "region_zh": authority.name_zh,
                "region_en": authority.name_en,
                "recognised": found.recognised,
                "why_zh": found.reason.zh,
                "why_en": found.reason.en,
            }
        )
    return rows

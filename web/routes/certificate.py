"""A certificate's own page, ``/c/<credential id>``: the target of every QR code.

The server renders what the record says, in plain words, and what it knows of it
today (its state, its changes, where it is recognised). The verdict at the top is
not the server's: ``static/js/certificate.js`` fetches the credential's proof bundle
and the trust list and checks them in the visitor's browser (``static/js/verify.js``):
the signature, the issuer's key in the trust list, the inclusion in a signed
checkpoint, and the digest the QR code carries in the address's fragment, which the
browser never sends. With the holder's disclosure in the fragment, the visitor can
check a number from an ID card against the credential, in the browser too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import col, select
from starlette.responses import HTMLResponse, Response

from api.deps import DbSession
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.errors import InvalidCategory, NotFound
from registry.ids import parse_category
from registry.issuing.views import credential_view
from registry.labels import CATEGORY, STATE
from registry.recognition import RecordKind, recognise
from registry.recognition.agreements import in_force, load_agreements
from registry.storage.models import Authority
from registry.trust.store import get_version
from web.i18n import N_
from web.render import page
from web.security import Visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_TYPES = {
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
_STATE_EN = {
    "active": "in force",
    "suspended": "suspended",
    "revoked": "revoked",
    "cancelled": "cancelled",
    "listed": "listed",
    "lifted": "lifted",
    "withdrawn": "withdrawn",
    "superseded": "superseded by a correction",
}


def _label(table: Any, code: str | None) -> str:
    if not code:
        return ""
    try:
        return str(table.label(code))
    except KeyError:
        return code


def _type(value: str) -> CredentialType | None:
    try:
        return CredentialType(value)
    except ValueError:
        return None


def _recognition(
    request: Request, session: DbSession, kind: str, subject: dict[str, Any], issuer: str
) -> list[dict[str, Any]]:
    """Where a qualification, registration or CE credit counts today, province by province."""
    known = _type(kind)
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


def _day(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return china_today(moment) if moment.tzinfo else moment.date()


def _genesis(session: DbSession) -> str:
    """The digest of the trust list's first version (one row, not the chain)."""
    try:
        return get_version(session, 1).digest
    except NotFound:
        return ""


@router.get("/c/{credential_id}", response_class=HTMLResponse)
def certificate(
    request: Request, session: DbSession, user: Visitor, credential_id: str
) -> Response:
    """The record in plain words; the browser checks it."""
    try:
        view = credential_view(session, credential_id[:200])
    except NotFound:
        return page(
            request, "certificate_missing.html", {"credential_id": credential_id}, status=404
        )
    document = view.credential
    subject = document.get("credentialSubject", {})
    issuer = session.get(Authority, view.authority)
    holder = subject.get("holder") or {}
    identifier = holder.get("identifier") or {}
    listed = subject.get("listed") or {}
    known = _type(view.type)
    context = {
        "credential_id": credential_id,
        "kind": view.type,
        "kind_label": _TYPES.get(known, view.type) if known else view.type,
        "issuer_zh": issuer.name_zh if issuer else view.authority,
        "issuer_en": issuer.name_en if issuer else view.authority,
        "name": holder.get("name") or listed.get("name"),
        "masked": identifier.get("masked"),
        "subject": subject,
        "category_zh": _label(CATEGORY, subject.get("category")),
        "category_en": str(subject.get("category") or "").replace("-", " "),
        "valid_from": _day(document.get("validFrom")),
        "valid_until": _day(document.get("validUntil")),
        "state": view.state,
        "state_zh": _label(STATE, view.state),
        "state_en": _STATE_EN.get(view.state or "", view.state or ""),
        "changes": view.changes,
        "replaced_by": view.replaced_by,
        "recognition": _recognition(request, session, view.type, subject, view.authority),
        # The trust list's first version, as the federation pinned it: the browser walks
        # the chain from it rather than take the current version as served.
        "genesis": _genesis(session),
    }
    return page(request, "certificate.html", context)

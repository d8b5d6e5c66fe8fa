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

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import HTMLResponse, Response

from api.deps import DbSession, ReadOnly
from api.limits import GatedRoute
from registry.calendar import china_today
from registry.errors import NotFound
from registry.issuing.views import credential_view
from registry.labels import CATEGORY, STATE
from registry.storage.models import Authority
from registry.trust.store import get_version
from web.record_views import CREDENTIAL_TYPES, STATE_EN, credential_type, recognition_rows
from web.render import page
from web.security import Visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)


def _label(table: Any, code: str | None) -> str:
    if not code:
        return ""
    try:
        return str(table.label(code))
    except KeyError:
        return code


def _day(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return china_today(moment) if moment.tzinfo else moment.date()


def _genesis(session: Session) -> str:
    """The digest of the trust list's first version (one row, not the chain)."""
    try:
        return get_version(session, 1).digest
    except NotFound:
        return ""


@router.get("/c/{credential_id}", response_class=HTMLResponse)
def certificate(
    request: Request, session: DbSession, reads: ReadOnly, user: Visitor, credential_id: str
) -> Response:
    """The record in plain words; the browser checks it. Read from the node's replica
    if it has one."""
    context = reads.read(lambda source: _context(request, source, credential_id), session=session)
    if context is None:
        return page(
            request, "certificate_missing.html", {"credential_id": credential_id}, status=404
        )
    return page(request, "certificate.html", context)


def _context(request: Request, session: Session, credential_id: str) -> dict[str, Any] | None:
    """What the page shows of the credential, or ``None`` if there is none."""
    try:
        view = credential_view(session, credential_id[:200])
    except NotFound:
        return None
    document = view.credential
    subject = document.get("credentialSubject", {})
    issuer = session.get(Authority, view.authority)
    holder = subject.get("holder") or {}
    identifier = holder.get("identifier") or {}
    listed = subject.get("listed") or {}
    known = credential_type(view.type)
    return {
        "credential_id": credential_id,
        "kind": view.type,
        "kind_label": CREDENTIAL_TYPES.get(known, view.type) if known else view.type,
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
        "state_en": STATE_EN.get(view.state or "", view.state or ""),
        "changes": view.changes,
        "replaced_by": view.replaced_by,
        "recognition": recognition_rows(request, session, view.type, subject, view.authority),
        # The trust list's first version, as the federation pinned it: the browser walks
        # the chain from it rather than take the current version as served.
        "genesis": _genesis(session),
    }

"""The authority's console: its listings and the days that matter
(``web.routes.console_listings``), recognition agreements and the trust list (signing
from the page), and the federation's state.

The official's authority is the code after the colon of their ``issuer:CN-xx`` role.
Signing a trust-list or agreement proposal goes through the same
domain functions as ``registry trust sign`` and ``registry recognition sign``, with the
authority's own key from the node's key store, after a confirmation page that shows
what will be signed; only for an authority this node hosts.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from registry.authorities import hosted_codes, list_authorities
from registry.calendar import china_today
from registry.errors import Conflict, InvalidInput, InvalidProvinceCode, NotFound, RegistryError
from registry.federation.follower import peer_states
from registry.federation.own_log import log_witnessing
from registry.federation.peers import fork_evidence_of
from registry.ids import province
from registry.recognition import agreements as workflow
from registry.recognition.pending import pending_agreement, pending_agreements
from registry.storage.db import session_scope
from registry.storage.models import UserAccount
from registry.trust.differences import differences
from registry.trust.document import digest_of, parse_trust_list
from registry.trust.proposals import (
    open_proposal,
    proposal_document,
    proposal_report,
    sign_proposal,
)
from registry.trust.store import current_version
from web.authority_views import agreement_view, member_view, names_of, peer_rows
from web.render import page
from web.routes import console_listings
from web.security import CheckedForm, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)
# The listings' pages are their own module; the console's router carries them.
router.routes.extend(console_listings.router.routes)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

_NOTICES = ("signed-proposal", "already-proposal", "signed-agreement", "already-agreement")


def _authority(user: UserAccount) -> str:
    return user.role.split(":", 1)[1]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _names(session: Session) -> dict[str, tuple[str, str]]:
    return dict(names_of(list_authorities(session)))


def _missing(request: Request, what: str) -> Response:
    return page(request, "console/listings_missing.html", {"what": what}, status=404)


# -- recognition and trust ----------------------------------------------------------------


def _proposal(session: Session, at: dt.datetime) -> dict[str, Any] | None:
    """The open trust-list proposal as the pages show it; ``None`` if none is open."""
    try:
        row = open_proposal(session)
    except NotFound:
        return None
    document = proposal_document(row)
    current = current_version(session, at=at)
    proposed = parse_trust_list(document)
    return {
        "version": proposed.version,
        "digest": digest_of(document),
        "created_at": row.created_at,
        "changes": differences(current.content if current else None, proposed),
        "report": proposal_report(session, row, at=at),
    }


def _trust_context(session: Session, user: UserAccount) -> dict[str, Any]:
    at = _now()
    today = china_today(at)
    current = current_version(session, at=at)
    published = workflow.load_agreements(session)
    in_force = workflow.in_force(published, today)
    return {
        "code": _authority(user),
        "hosted": _authority(user) in hosted_codes(session),
        "names": _names(session),
        "today": today,
        "current": current,
        "members": [member_view(m, at=at) for m in current.content.members] if current else [],
        "proposal": _proposal(session, at),
        "in_force": [agreement_view(a.agreement) for a in in_force],
        "pending": [(p, agreement_view(p.agreement)) for p in pending_agreements(session, at=at)],
    }


@router.get("/console")
def console_home(user: Official) -> Response:
    """The console begins at the official's desk, which lists its pages."""
    return RedirectResponse("/desk", status_code=303)


@router.get("/console/trust")
def trust(request: Request, user: Official, session: DbSession) -> Response:
    """Agreements in force and pending with who has signed; the trust list's current
    version; the open proposal, what it changes in words, and who has signed it."""
    context = _trust_context(session, user)
    done = request.query_params.get("done", "")
    context["done"] = done if done in _NOTICES else ""
    return page(request, "console/trust.html", context)


def _sign_page(
    request: Request,
    session: Session,
    user: UserAccount,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    at = _now()
    context: dict[str, Any] = {
        "code": _authority(user),
        "hosted": _authority(user) in hosted_codes(session),
        "names": _names(session),
        "proposal": _proposal(session, at),
        "problem": problem,
    }
    if context["proposal"] is None:
        return _missing(request, "proposal")
    return page(request, "console/trust_sign.html", context, status=status)


@router.get("/console/trust/sign")
def trust_sign_form(request: Request, user: Official, session: DbSession) -> Response:
    """The confirmation: the proposal's version, digest and changes, and who signs."""
    return _sign_page(request, session, user)


def _problem(exc: RegistryError) -> str:
    """A signing refusal's kind, for the page to say in the visitor's language."""
    text = exc.message
    if isinstance(exc, Conflict):
        return "changed" if "changed" in text else "already"
    if "not a member" in text or "not a party" in text:
        return "not-member"
    if "holds no key" in text or "key" in text:
        return "no-key"
    if "version" in text:
        return "out-of-step"
    return "refused"


@router.post("/console/trust/sign")
def trust_sign(request: Request, user: Official, form: CheckedForm) -> Response:
    """Sign the open proposal with the authority's own key, if it is still the one
    confirmed; signing twice changes nothing and says so."""
    code = _authority(user)
    confirmed = str(form.get("digest") or "")
    with session_scope(engine_of(request)) as session:
        try:
            row = open_proposal(session, for_update=True)
        except NotFound:
            return _missing(request, "proposal")
        if confirmed != digest_of(proposal_document(row)):
            return _sign_page(request, session, user, problem="changed", status=409)
        if code not in hosted_codes(session):
            return _sign_page(request, session, user, problem="not-hosted", status=409)
        if code in proposal_report(session, row, at=_now()).signers:
            return RedirectResponse("/console/trust?done=already-proposal", status_code=303)
        try:
            sign_proposal(session, request.app.state.issuing.key_store, code)
        except (InvalidInput, Conflict) as exc:
            session.rollback()
            return _sign_page(request, session, user, problem=_problem(exc), status=409)
    return RedirectResponse("/console/trust?done=signed-proposal#proposal", status_code=303)


def _agreement_page(
    request: Request,
    session: Session,
    user: UserAccount,
    agreement_id: str,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    try:
        pending = pending_agreement(session, agreement_id, at=_now())
    except NotFound:
        return _missing(request, "agreement")
    context = {
        "code": _authority(user),
        "hosted": _authority(user) in hosted_codes(session),
        "names": _names(session),
        "pending": pending,
        "agreement": agreement_view(pending.agreement),
        "problem": problem,
    }
    return page(request, "console/agreement_sign.html", context, status=status)


@router.get("/console/agreements/{agreement_id}/sign")
def agreement_sign_form(
    request: Request, agreement_id: str, user: Official, session: DbSession
) -> Response:
    """The confirmation: the agreement's terms and parties, who has signed, who signs now."""
    return _agreement_page(request, session, user, agreement_id)


@router.post("/console/agreements/{agreement_id}/sign")
def agreement_sign(
    request: Request, agreement_id: str, user: Official, form: CheckedForm
) -> Response:
    """Sign the proposed agreement as the official's authority, one of its parties."""
    code = _authority(user)
    with session_scope(engine_of(request)) as session:
        try:
            pending = pending_agreement(session, agreement_id, at=_now())
        except NotFound:
            return _missing(request, "agreement")
        if code not in pending.agreement.parties:
            return _agreement_page(
                request, session, user, agreement_id, problem="not-member", status=409
            )
        if code not in hosted_codes(session):
            return _agreement_page(
                request, session, user, agreement_id, problem="not-hosted", status=409
            )
        if code in pending.signers:
            return RedirectResponse("/console/trust?done=already-agreement", status_code=303)
        try:
            workflow.sign(session, request.app.state.issuing.key_store, agreement_id, code)
        except RegistryError as exc:
            session.rollback()
            return _agreement_page(
                request, session, user, agreement_id, problem=_problem(exc), status=409
            )
    return RedirectResponse("/console/trust?done=signed-agreement#pending", status_code=303)


# -- federation ---------------------------------------------------------------------------


@router.get("/console/federation")
def federation(request: Request, user: Official, session: DbSession) -> Response:
    """Every followed log at a glance (current, behind, unreachable, forked) and how far
    the other members witness the authority's own log."""
    at = _now()
    code = _authority(user)
    current = current_version(session, at=at)
    return page(
        request,
        "console/federation.html",
        {
            "code": code,
            "names": _names(session),
            "peers": peer_rows(peer_states(session), now=at),
            "own": log_witnessing(session, code, current.content if current else None),
            "hosted": code in hosted_codes(session),
        },
    )


@router.get("/console/federation/evidence/{authority}")
def evidence(request: Request, authority: str, user: Official, session: DbSession) -> Response:
    """The evidence that a member's log forked, as the files
    ``registry federation evidence verify`` checks."""
    try:
        code = province(authority).iso
    except InvalidProvinceCode:
        return _missing(request, "evidence")
    rows = fork_evidence_of(session, code)
    if not rows:
        return _missing(request, "evidence")
    body = json.dumps(
        {"authority": code, "evidence": [json.loads(row.evidence) for row in rows]},
        ensure_ascii=False,
        indent=2,
    )
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="fork-evidence-{code}.json"',
            "Cache-Control": "no-store",
        },
    )

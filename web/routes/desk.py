"""The employer's desk: verify one engineer, re-open a report, the company's history.

A verification asked here is the API's (``api.verifying``): the same signed report,
recorded in the access audit under the token row of the person signed in, and kept
for the company's history (``registry.verification.history``). The ID number typed
goes into the POST body only, and is never shown again: the report masks it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from api.rates import rate_limit
from api.schemas.verification import EngineerIn
from api.verifying import verify_one
from registry.errors import InvalidInput, NotFound
from registry.messages import translate
from registry.storage.db import session_scope
from registry.storage.models import UserAccount
from registry.tokens import Caller
from registry.verification.history import (
    company_history,
    company_verification,
    keep_report,
    list_state,
)
from web.pdf import report_pdf
from web.render import language_of, page
from web.security import CheckedForm, signed_in
from web.views import qr_svg, regions, report_view

__all__ = ["caller_of", "not_found", "router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Employer = Annotated[UserAccount, Depends(signed_in("verifier"))]

_FIELDS = ("way", "id_number", "registration_number", "name", "region", "category", "date")
_PER_PAGE = 20


def caller_of(user: UserAccount) -> Caller:
    """The person signed in as the access audit names them: their own token row."""
    return Caller(user.token_id, user.username, user.role)


def not_found(request: Request) -> Response:
    """The page for a verification that is not there (or not the company's)."""
    return page(request, "desk_missing.html", status=404)


def _form_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    shown = {**values, "id_number": ""}  # never typed back into the page
    return page(
        request,
        "desk_verify.html",
        {
            "values": shown,
            "errors": errors or {},
            "regions": regions(request.app.state.verifier.regions),
        },
        status=status,
    )


@router.get("/desk/verify")
def verify_form(request: Request, user: Employer) -> Response:
    """The question: who (ID number, or registration number and name), where, which
    category, which day."""
    return _form_page(request, {"way": "id"})


def _question(values: dict[str, str], employer: str | None) -> dict[str, Any]:
    asked: dict[str, Any] = {"region": values.get("region", "")}
    if values.get("way") == "registration":
        asked["registration_number"] = values.get("registration_number") or None
        asked["name"] = values.get("name") or None
    else:
        asked["id_number"] = values.get("id_number") or None
    for optional in ("category", "date"):
        if values.get(optional):
            asked[optional] = values[optional]
    if employer:
        asked["employer"] = employer
    return asked


def _problems(exc: ValidationError, request: Request) -> dict[str, list[str]]:
    lang = language_of(request)
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "way"
        message = str(error["msg"]).removeprefix("Value error, ")
        found.setdefault(field, []).append(translate(message, lang))
    return found


@router.post("/desk/verify", openapi_extra=rate_limit("verify"))
async def verify_post(request: Request, user: Employer, form: CheckedForm) -> Response:
    """Verify, keep the report for the company, and show it (its own page)."""
    values = {key: str(form.get(key) or "").strip() for key in _FIELDS}
    employer = user.company_code if form.get("own_company") else None
    try:
        question = EngineerIn.model_validate(_question(values, employer))
    except ValidationError as exc:
        return _form_page(request, values, _problems(exc, request), status=422)
    try:
        verified = await verify_one(request, question.query(), caller_of(user))
    except InvalidInput as exc:
        message = translate(exc.message, language_of(request))
        return _form_page(request, values, {"way": [message]}, status=422)
    now = dt.datetime.now(dt.UTC)
    kept = await run_in_threadpool(_keep, request, user, verified.canonical, now)
    return RedirectResponse(f"/desk/reports/{kept}", status_code=303)


def _keep(request: Request, user: UserAccount, canonical: bytes, at: dt.datetime) -> int:
    with session_scope(engine_of(request)) as session:
        return keep_report(session, user, canonical, at=at).id or 0


def _report_url(request: Request, identifier: int | None) -> str:
    """The address of a kept report's page on this node: what its QR code carries."""
    return f"{request.app.state.settings.node_url.rstrip('/')}/desk/reports/{identifier}"


@router.get("/desk/reports/{identifier}")
def report_page(request: Request, identifier: int, user: Employer, session: DbSession) -> Response:
    """A report kept for the company: the verdict, every reason, the records it rests
    on, continuing education, listings, when; printable with its own QR code."""
    try:
        kept = company_verification(session, user.company_code or "", identifier)
    except NotFound:
        return not_found(request)
    if kept.kind == "batch":
        return RedirectResponse(f"/desk/verify-list/{kept.id}", status_code=303)
    report = json.loads(kept.document or "{}")
    person = session.get(UserAccount, kept.user_id)
    own_url = _report_url(request, kept.id)
    return page(
        request,
        "desk_report.html",
        {
            "kept": kept,
            "report": report_view(report),
            "own_url": own_url,
            "qr": qr_svg(own_url),
            "kept_by": person.display_name if person is not None else "",
        },
    )


@router.get("/desk/reports/{identifier}/report.pdf")
def report_download(
    request: Request, identifier: int, user: Employer, session: DbSession
) -> Response:
    """The report as an A4 PDF for the hiring file (``web.pdf``): its Chinese is text,
    with the QR code of the report's page."""
    try:
        kept = company_verification(session, user.company_code or "", identifier)
    except NotFound:
        return not_found(request)
    if kept.kind == "batch":
        return not_found(request)
    body = report_pdf(
        json.loads(kept.document or "{}"),
        language=language_of(request),
        page_url=_report_url(request, kept.id),
    )
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="verification-{kept.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/desk/history")
def history(
    request: Request,
    user: Employer,
    session: DbSession,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """The company's verifications, newest first, a page at a time."""
    found = company_history(session, user.company_code or "", page=page_number, per_page=_PER_PAGE)
    now = dt.datetime.now(dt.UTC)
    states = {kept.id: list_state(kept, now=now) for kept, _ in found.entries}
    return page(request, "desk_history.html", {"history": found, "states": states})

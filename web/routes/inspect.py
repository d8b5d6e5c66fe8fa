"""The inspector's desk: the untrustworthiness list searched across the federation, a
listing's file, a list of companies checked, and companies followed with their recent
changes.

A search is the API's (``POST /v1/blacklist/search``): ``search_audited``, in one
snapshot with its entry in the access audit (the listings read from the node's
replica if it has one, the entry written on the primary), naming the person signed in by their
account's own token row (``caller_of``). An ID number goes in a POST body only, is
never shown back (the answer masks it) and is kept nowhere but as the audit's keyed
hash; a search by credit code or name may also be a GET (a link from another page).
A listing's file prints on A4 and exports as a check for the inspection file: JSON
holding the signed listing, its inclusion proof and checkpoint, and who checked it
when, which anyone can verify without this node.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from api.deps import Snapshot, Verifier, WritingSnapshot, replica_reads_of
from api.limits import GatedRoute, rate_refusal
from api.rates import rate_limit
from registry.calendar import china_today
from registry.enforcement.inspection import search_audited
from registry.enforcement.listing_file import ListingFile, check_document, listing_file
from registry.enforcement.search import ListingQuery, SearchResult
from registry.errors import InvalidInput, NotFound
from registry.messages import translate
from registry.storage.models import UserAccount
from web.i18n import N_
from web.i18n import translate as page_text
from web.listing_pdf import listing_check_pdf
from web.render import language_of, page
from web.routes import inspect_follow, inspect_lists
from web.routes.desk import caller_of
from web.routes.inspect_common import Inspector, authority_names, missing
from web.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

_WAYS = ("name", "credit_code", "id_number")


def _search_page(
    request: Request,
    session: Session,
    values: dict[str, str],
    *,
    errors: dict[str, list[str]] | None = None,
    result: SearchResult | None = None,
    status: int = 200,
) -> Response:
    shown = {**values, "id_number": ""}  # never typed back into the page
    context = {
        "values": shown,
        "errors": errors or {},
        "result": result,
        "names": authority_names(session),
        "section": "search",
    }
    return page(request, "inspect/search.html", context, status=status)


def _search(
    request: Request,
    user: UserAccount,
    session: Session,
    values: dict[str, str],
) -> Response:
    state = request.app.state
    given = [way for way in _WAYS if values.get(way)]
    lang = language_of(request)
    if len(given) != 1:
        message = page_text(
            lang, N_("Fill in exactly one of the three: name, credit code or ID number.")
        )
        return _search_page(request, session, values, errors={"way": [message]}, status=422)
    way = given[0]
    try:
        result = search_audited(
            session,
            ListingQuery(
                name=values.get("name") or None,
                credit_code=values.get("credit_code") or None,
                id_number=values.get("id_number") or None,
            ),
            caller=caller_of(user),
            lookup=state.issuing.lookup,
            node_secret=state.issuing.node_secret,
            now=dt.datetime.now(dt.UTC),
            subtrees=state.verifier.subtrees,
            reads=replica_reads_of(request),
        )
    except InvalidInput as exc:
        errors = {way: [translate(exc.message, lang)]}
        return _search_page(request, session, values, errors=errors, status=422)
    return _search_page(request, session, values, result=result)


@router.get("/inspect")
def inspect_home(user: Inspector) -> Response:
    """The inspector's desk begins with the search."""
    return RedirectResponse("/inspect/search", status_code=303)


@router.get("/inspect/search")
def search_form(
    request: Request,
    user: Inspector,
    session: WritingSnapshot,
    *,
    name: str = "",
    credit_code: str = "",
) -> Response:
    """The search; with ``name`` or ``credit_code`` in the address (a link from
    another page), its answer too (recorded in the access audit)."""
    values = {"name": name.strip()[:200], "credit_code": credit_code.strip()[:40]}
    if not any(values.values()):
        return _search_page(request, session, values)
    refused = rate_refusal(request, "search")
    if refused is not None:
        return refused
    return _search(request, user, session, values)


@router.post("/inspect/search", openapi_extra=rate_limit("search"))
def search_post(
    request: Request,
    user: Inspector,
    form: CheckedForm,
    session: WritingSnapshot,
) -> Response:
    """Search by name (words within it: possible matches), credit code or ID number
    (matches), across every province; recorded in the access audit as the API's."""
    values = {way: str(form.get(way) or "").strip()[:200] for way in _WAYS}
    return _search(request, user, session, values)


def _file_of(
    session: Session, credential_id: str, verifier: Any
) -> tuple[Any, dict[str, dict[str, str]]] | None:
    today = china_today(dt.datetime.now(dt.UTC))
    try:
        found = listing_file(session, credential_id[:200], on=today, subtrees=verifier.subtrees)
    except NotFound:
        return None
    return found, authority_names(session)


@router.get("/inspect/listings/{credential_id}")
def listing_page(
    request: Request, credential_id: str, user: Inspector, session: Snapshot, verifier: Verifier
) -> Response:
    """A listing's file: the decision, its measures, its history, its status today and
    its proof; printable, and exported as a check."""
    opened = _file_of(session, credential_id, verifier)
    if opened is None:
        return missing(request)
    file, names = opened
    node = request.app.state.settings.node_url.rstrip("/")
    context = {
        "file": file,
        "root": base64.b64encode(file.proof.head.root).decode("ascii") if file.proof else "",
        "public_url": f"{node}/c/{file.found.credential_id}",
        "subject": file.subject,
        "names": names,
        "checked_at": dt.datetime.now(dt.UTC),
        "section": "search",
    }
    return page(request, "inspect/listing.html", context)


def _check_of(request: Request, user: UserAccount, file: ListingFile) -> dict[str, Any]:
    return check_document(
        file,
        checked_by=user.display_name,
        username=user.username,
        node=request.app.state.settings.node_url,
        at=dt.datetime.now(dt.UTC).replace(microsecond=0),
    )


@router.get("/inspect/listings/{credential_id}/check.json")
def listing_check(
    request: Request, credential_id: str, user: Inspector, session: Snapshot, verifier: Verifier
) -> Response:
    """The check of a listing for the inspection file, as JSON anyone can verify."""
    opened = _file_of(session, credential_id, verifier)
    if opened is None:
        return missing(request)
    file, _ = opened
    document = _check_of(request, user, file)
    stem = file.found.credential_id.rsplit(":", 1)[-1]
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="listing-check-{stem}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/inspect/listings/{credential_id}/check.pdf")
def listing_check_pdf_download(
    request: Request, credential_id: str, user: Inspector, session: Snapshot, verifier: Verifier
) -> Response:
    """The check of a listing as an A4 PDF for the inspection file."""
    opened = _file_of(session, credential_id, verifier)
    if opened is None:
        return missing(request)
    file, names = opened
    lang = language_of(request)
    document = _check_of(request, user, file)
    node = request.app.state.settings.node_url.rstrip("/")
    named = names.get(file.found.authority)
    body = listing_check_pdf(
        document,
        language=lang,
        authority=named[lang] if named else file.found.authority,
        public_url=f"{node}/c/{file.found.credential_id}",
    )
    stem = file.found.credential_id.rsplit(":", 1)[-1]
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="listing-check-{stem}.pdf"',
            "Cache-Control": "no-store",
        },
    )


router.include_router(inspect_lists.router)
router.include_router(inspect_follow.router)

"""The authority's console: its untrustworthiness listings, with the days that matter
and what the law allows on each, and the changes it allows made from the page.

An official sees their own authority's listings (``issuer:CN-xx``: the code after the
colon), each judged for today (``registry.enforcement.own_listings``). A change the
law allows today (credit repair, reversing it, withdrawal) is asked for with its
reason, decision number and day, shown for confirmation as it will be signed, then
made by the API's own path (``registry.issuing.idempotency.change_once``, which
checks that the record is the official's authority's, then ``change_status``). A
correction is a new record replacing the listing: the records page issues it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from registry.calendar import china_today
from registry.credentials.lifecycle import StatusChangeIn
from registry.enforcement.own_listings import (
    LISTING_STATES,
    OwnListing,
    own_listing,
    own_listings,
)
from registry.errors import InvalidInput, NotFound, RegistryError
from registry.issuing.idempotency import change_once
from registry.messages import translate
from registry.storage.db import session_scope
from registry.storage.models import UserAccount
from web.render import language_of, page
from web.security import CheckedForm, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

_PER_PAGE = 20
_MAX_QUERY = 100
_CHANGES = ("lift", "reverse-lift", "withdraw")
"""The actions this page makes; a correction is issued as a new record instead."""
_FIELDS = ("action", "reason", "decision_number", "effective_on")


def _authority(user: UserAccount) -> str:
    return user.role.split(":", 1)[1]


def _today() -> dt.date:
    return china_today(dt.datetime.now(dt.UTC))


def _missing(request: Request) -> Response:
    return page(request, "console/listings_missing.html", {"what": "listing"}, status=404)


def _page_number(value: str) -> int | None:
    if not value:
        return 1
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        return None
    return int(value) or None


def _looks_like_code(text: str) -> bool:
    compact = text.replace(" ", "")
    return len(compact) == 18 and compact.isascii() and compact.isalnum()


@router.get("/console/listings")
def listings(request: Request, user: Official, session: DbSession) -> Response:
    """The authority's listings, newest first, judged for today: searched by words of a
    name or a credit code, on the list or off it, a page at a time; a wrong field is
    answered 422 with what to do."""
    params = request.query_params
    values = {name: params.get(name, "").strip()[: _MAX_QUERY * 2] for name in ("q", "state")}
    errors: set[str] = set()
    number = _page_number(params.get("page", "").strip())
    if number is None:
        errors.add("page")
    if len(values["q"]) > _MAX_QUERY:
        errors.add("q")
    state = values["state"] or None
    if state is not None and state not in LISTING_STATES:
        errors.add("state")
    today = _today()
    context: dict[str, Any] = {"values": values, "errors": errors, "today": today}
    if errors:
        return page(request, "console/listings.html", context, status=422)
    query = values["q"]
    by_code = _looks_like_code(query)
    try:
        found = own_listings(
            session,
            _authority(user),
            on=today,
            words=() if by_code else tuple(query.split()),
            credit_code=query if by_code else None,
            state=state,
            page=number or 1,
            per_page=_PER_PAGE,
        )
    except InvalidInput as exc:
        context["errors"] = {e.field for e in exc.errors} or {"q"}
        return page(request, "console/listings.html", context, status=422)
    context["result"] = found
    return page(request, "console/listings.html", context)


@router.get("/console/listings/{credential_id}")
def listing(request: Request, credential_id: str, user: Official, session: DbSession) -> Response:
    """One listing: its decision, measures, persons, days, status today, the actions the
    law allows today, and every signed change."""
    today = _today()
    try:
        found = own_listing(session, _authority(user), credential_id, on=today)
    except NotFound:
        return _missing(request)
    done = request.query_params.get("done") == "changed"
    return page(
        request,
        "console/listings_detail.html",
        {"listing": found, "today": today, "changes": _CHANGES, "done": done},
    )


def _act_page(
    request: Request,
    found: OwnListing,
    values: dict[str, str],
    *,
    errors: dict[str, list[str]] | None = None,
    confirm: bool = False,
    status: int = 200,
) -> Response:
    context = {
        "listing": found,
        "values": values,
        "errors": errors or {},
        "confirm": confirm,
        "today": _today(),
    }
    return page(request, "console/listings_act.html", context, status=status)


def _problems(exc: ValidationError | InvalidInput, request: Request) -> dict[str, list[str]]:
    lang = language_of(request)
    found: dict[str, list[str]] = {}
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "action"
            found.setdefault(field, []).append(translate(str(error["msg"]), lang))
        return found
    for item in exc.errors:
        found.setdefault(item.field, []).append(translate(item.message, lang))
    if not found:
        found["action"] = [translate(exc.message, lang)]
    return found


@router.get("/console/listings/{credential_id}/change")
def change_form(
    request: Request, credential_id: str, user: Official, session: DbSession
) -> Response:
    """The form of a change the law allows today: its reason, decision number and day."""
    today = _today()
    try:
        found = own_listing(session, _authority(user), credential_id, on=today)
    except NotFound:
        return _missing(request)
    action = request.query_params.get("action", "")
    values = {"action": action, "reason": "", "decision_number": "", "effective_on": ""}
    values["effective_on"] = today.isoformat()
    if action not in _CHANGES or action not in found.actions:
        message = "not-allowed-today"
        return _act_page(request, found, values, errors={"action": [message]}, status=409)
    return _act_page(request, found, values)


@router.post("/console/listings/{credential_id}/change")
def change(request: Request, credential_id: str, user: Official, form: CheckedForm) -> Response:
    """First post: the change checked and shown as it will be signed (nothing written);
    second (``step=confirm``): signed and logged, then back to the listing's page."""
    values = {key: str(form.get(key) or "").strip() for key in _FIELDS}
    with session_scope(engine_of(request)) as session:
        try:
            found = own_listing(session, _authority(user), credential_id, on=_today())
        except NotFound:
            return _missing(request)
        if form.get("step") == "edit":
            return _act_page(request, found, values)
        confirmed = form.get("step") == "confirm"
        return _decide(request, session, user, found, values, confirmed=confirmed)


def _decide(
    request: Request,
    session: Session,
    user: UserAccount,
    found: OwnListing,
    values: dict[str, str],
    *,
    confirmed: bool,
) -> Response:
    if values["action"] not in _CHANGES or values["action"] not in found.actions:
        errors = {"action": ["not-allowed-today"]}
        return _act_page(request, found, values, errors=errors, status=409)
    try:
        decided = StatusChangeIn.model_validate(values)
    except ValidationError as exc:
        return _act_page(request, found, values, errors=_problems(exc, request), status=422)
    if not confirmed:
        return _act_page(request, found, values, confirm=True)
    try:
        change_once(
            session,
            request.app.state.issuing,
            found.credential_id,
            decided,
            role=user.role,
            idempotency_key=None,
            scope="POST /v1/credentials/{id}/status",
            body_json={"id": found.credential_id, **decided.model_dump(mode="json")},
        )
    except InvalidInput as exc:
        session.rollback()
        return _act_page(request, found, values, errors=_problems(exc, request), status=422)
    except RegistryError as exc:
        session.rollback()
        errors = {"action": [translate(exc.message, language_of(request))]}
        return _act_page(request, found, values, errors=errors, status=409)
    address = f"/console/listings/{quote(found.credential_id, safe='')}?done=changed#history"
    return RedirectResponse(address, status_code=303)

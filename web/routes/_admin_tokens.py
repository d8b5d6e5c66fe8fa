"""Administration: API tokens. The tokens machines present, with their role, when
made, until when, their newest audited use and their state; issuing one (the token
shown once: only its SHA-256 is kept) and revoking one after a confirmation. The
rows that only name someone in the access audit (a person's own, the public pages')
are listed apart and cannot be revoked here."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession
from api.limits import GatedRoute
from registry.administration.tokens import revoke_api_token, token_views
from registry.calendar import day_start, parse_day
from registry.errors import Conflict, FieldError, InvalidInput, NotFound
from registry.tokens import create_token
from web.render import page
from web.routes._admin import (
    Admin,
    confirm_page,
    field,
    missing,
    problems,
    role_choices,
    role_names,
    show_once,
)
from web.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)
_log = logging.getLogger("registry.admin")


def _tokens_page(
    request: Request,
    session: DbSession,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    views = token_views(session)
    return page(
        request,
        "admin/tokens.html",
        {
            "section": "tokens",
            "tokens": [v for v in views if v.kind == "token"],
            "rows": [v for v in views if v.kind != "token"],
            "choices": role_choices(session, people=False),
            "role_names": role_names(session),
            "values": values or {},
            "errors": errors or {},
            "done": request.query_params.get("done", ""),
        },
        status=status,
    )


@router.get("/admin/tokens")
def tokens(request: Request, user: Admin, session: DbSession) -> Response:
    """The tokens, the rows that only name someone, and the form to issue a token."""
    return _tokens_page(request, session)


def _expiry(text: str) -> dt.datetime | None:
    """The end of the day given (China's day), or ``None`` for none; raises
    ``InvalidInput`` naming the field."""
    if not text:
        return None
    try:
        day = parse_day(text)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, errors=(FieldError("expires", exc.message),)) from exc
    return day_start(day + dt.timedelta(days=1))


@router.post("/admin/tokens")
def token_create(request: Request, user: Admin, session: DbSession, form: CheckedForm) -> Response:
    """Issue a token and show it, once; a bad form is shown again with each problem
    beside its field, and nothing is issued."""
    values = {name: field(form, name) for name in ("name", "role", "expires")}
    try:
        expires = _expiry(values["expires"])
        row, secret = create_token(session, values["role"], name=values["name"], expires=expires)
    except (InvalidInput, NotFound) as exc:
        session.rollback()
        return _tokens_page(request, session, values, problems(request, exc, "role"), status=422)
    _log.info("%s issued the token %s (%s, %s)", user.username, row.id, row.role, row.name)
    return show_once(
        request,
        user,
        {"kind": "token", "secret": secret, "name": row.name, "role": row.role},
    )


def _token_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


@router.get("/admin/tokens/{token_id}/revoke")
def revoke_confirm(request: Request, token_id: str, user: Admin, session: DbSession) -> Response:
    """Whether to revoke the token: what it does, and the button."""
    identifier = _token_id(token_id)
    found = [v for v in token_views(session) if v.token.id == identifier]
    if not found or found[0].kind != "token":
        return missing(request)
    return confirm_page(
        request,
        {
            "section": "tokens",
            "what": "revoke",
            "token": found[0].token,
            "action": f"/admin/tokens/{identifier}/revoke",
            "back": "/admin/tokens",
        },
    )


@router.post("/admin/tokens/{token_id}/revoke")
def revoke(
    request: Request, token_id: str, user: Admin, session: DbSession, form: CheckedForm
) -> Response:
    """Revoke the token: the API refuses it from now on. A person's own row or the
    public pages' is refused (409), nothing changed."""
    identifier = _token_id(token_id)
    if identifier is None:
        return missing(request)
    try:
        row = revoke_api_token(session, identifier)
    except NotFound:
        return missing(request)
    except Conflict as exc:
        session.rollback()
        return _tokens_page(request, session, errors=problems(request, exc, "revoke"), status=409)
    _log.info("%s revoked the token %s (%s)", user.username, row.id, row.name)
    return RedirectResponse("/admin/tokens?done=revoked", status_code=303)

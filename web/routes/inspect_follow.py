"""The inspector's desk: companies followed, and the changes about them.

An inspector without a webhook server is still told: each follows companies by credit
code (``registry.enforcement.follows``), kept with their own account only, and reads
the changes about them (new listings, state changes, removals, in log order, newest
first), what came since they last read them marked as new. Reading the changes page
marks everything as read. A follow is cancelled after a confirmation step.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, WritingSnapshot
from api.limits import GatedRoute
from registry.enforcement.follows import (
    cancel_follow,
    follow_company,
    followed_changes,
    follows_of,
    mark_read,
)
from registry.errors import InvalidInput, NotFound
from registry.messages import translate
from registry.storage.models import FollowedCompany, UserAccount
from web.render import language_of, page
from web.routes.inspect_common import Inspector, authority_names, missing
from web.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

_FIELDS = ("credit_code", "name", "note")


def _following(
    request: Request,
    session: DbSession,
    user: UserAccount,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    context = {
        "follows": follows_of(session, user.id or 0),
        "values": values or {},
        "errors": errors or {},
        "section": "following",
    }
    return page(request, "inspect/following.html", context, status=status)


@router.get("/inspect/following")
def following(request: Request, user: Inspector, session: DbSession) -> Response:
    """The companies the inspector follows, and the form to follow one more."""
    return _following(request, session, user)


@router.post("/inspect/following")
def follow(request: Request, user: Inspector, form: CheckedForm, session: DbSession) -> Response:
    """Follow a company from now on; a refused form changes nothing."""
    values = {key: str(form.get(key) or "").strip() for key in _FIELDS}
    try:
        follow_company(
            session,
            user.id or 0,
            credit_code=values["credit_code"],
            name=values["name"],
            note=values["note"],
            now=dt.datetime.now(dt.UTC),
        )
    except InvalidInput as exc:
        session.rollback()
        lang = language_of(request)
        errors: dict[str, list[str]] = {}
        for error in exc.errors or ():
            errors.setdefault(error.field or "credit_code", []).append(
                translate(error.message, lang)
            )
        if not errors:
            errors["credit_code"] = [translate(exc.message, lang)]
        return _following(request, session, user, values, errors, status=422)
    return RedirectResponse("/inspect/following?followed=1", status_code=303)


def _own(session: DbSession, user: UserAccount, identifier: int) -> FollowedCompany | None:
    followed = session.get(FollowedCompany, identifier)
    if followed is None or followed.user_id != user.id or followed.cancelled_at is not None:
        return None
    return followed


@router.get("/inspect/following/{identifier}/cancel")
def cancel_form(request: Request, identifier: int, user: Inspector, session: DbSession) -> Response:
    """Confirm: stop following this company?"""
    followed = _own(session, user, identifier)
    if followed is None:
        return missing(request)
    return page(request, "inspect/cancel.html", {"followed": followed, "section": "following"})


@router.post("/inspect/following/{identifier}/cancel")
def cancel(
    request: Request, identifier: int, user: Inspector, form: CheckedForm, session: DbSession
) -> Response:
    """Stop following: its changes are shown no more."""
    try:
        cancel_follow(session, user.id or 0, identifier, now=dt.datetime.now(dt.UTC))
    except NotFound:
        return missing(request)
    return RedirectResponse("/inspect/following?cancelled=1", status_code=303)


@router.get("/inspect/changes")
def changes(request: Request, user: Inspector, session: WritingSnapshot) -> Response:
    """The newest changes about the companies followed, what is new since the last
    reading marked; reading them marks them read."""
    found = followed_changes(session, user.id or 0)
    follows = follows_of(session, user.id or 0)
    mark_read(session, user.id or 0, now=dt.datetime.now(dt.UTC))
    context = {
        "found": found,
        "following": len(follows),
        "names": authority_names(session),
        "section": "changes",
    }
    return page(request, "inspect/changes.html", context)

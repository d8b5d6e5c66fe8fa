"""Administration: users, API tokens, the access audit and the node's health.

Every page is for an account with the role ``admin``. The accounts' and the tokens'
pages are in ``_admin_users`` and ``_admin_tokens``; the audit and the health are
here. The audit shows what ``access_audit`` keeps (who, when, the action, how many
rows and results, the criteria as a keyed hash), never the criteria themselves: no ID
number, name or credit code is on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from registry.administration.health import node_health
from registry.administration.tokens import audit_names, token_views
from registry.calendar import day_start, parse_day
from registry.enforcement.audit import ACTIONS, access_trail
from registry.errors import InvalidInput
from web.i18n import N_
from web.render import page
from web.routes import _admin_tokens, _admin_users
from web.routes._admin import SHOWN_PATH, Admin, role_names, secret_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)
# Their routes themselves, not included routers: the role matrix reads this router's.
router.routes.extend([*_admin_users.router.routes, *_admin_tokens.router.routes])

_PER_PAGE = 50
_AUDIT_ERRORS = {
    "who": N_("Choose a person or token from the list."),
    "action": N_("Choose an action from the list."),
    "from": N_("Enter the date as year-month-day, for example 2026-01-31."),
    "to": N_("Enter the date as year-month-day, for example 2026-01-31."),
    "order": N_("The end date comes before the start date: swap or correct them."),
    "criteria": N_("A criteria hash has 64 characters 0-9 and a-f, as the audit shows it."),
    "before": N_("The page is not one of this list: start again from the first page."),
}


@router.get(SHOWN_PATH)
def shown_once(request: Request, user: Admin, session: DbSession) -> Response:
    """A new password or token, shown once after the post that made it."""
    return secret_page(request, session, user)


@router.get("/admin")
def home(user: Admin) -> Response:
    """Administration begins with the accounts."""
    return RedirectResponse("/admin/users", status_code=303)


def _day(text: str, problem: str, errors: dict[str, str]) -> dt.date | None:
    if not text:
        return None
    try:
        return parse_day(text)
    except InvalidInput:
        errors[problem] = _AUDIT_ERRORS[problem]
        return None


@router.get("/admin/audit")
def audit(
    request: Request,
    user: Admin,
    session: DbSession,
    *,
    who: Annotated[str, Query(max_length=20)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(alias="from", max_length=20)] = "",
    until: Annotated[str, Query(alias="to", max_length=20)] = "",
    criteria: Annotated[str, Query(max_length=80)] = "",
    before: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The access audit, newest first, a page at a time: filtered by person or token,
    action, days (China's) and criteria hash."""
    errors: dict[str, str] = {}
    tokens = token_views(session)
    token_id = int(who) if who.isdigit() and len(who) < 12 else None
    if who and all(v.token.id != token_id for v in tokens):
        errors["who"], token_id = _AUDIT_ERRORS["who"], None
    if action and action not in ACTIONS:
        errors["action"] = _AUDIT_ERRORS["action"]
    first, last = _day(since, "from", errors), _day(until, "to", errors)
    if first and last and last < first:
        errors["to"] = _AUDIT_ERRORS["order"]
    criteria = criteria.strip().lower()
    if criteria and (len(criteria) != 64 or any(c not in "0123456789abcdef" for c in criteria)):
        errors["criteria"] = _AUDIT_ERRORS["criteria"]
    older = int(before) if before.isdigit() and len(before) < 12 else None
    if before and older is None:
        errors["before"] = _AUDIT_ERRORS["before"]
    entries = []
    if not errors:
        entries = access_trail(
            session,
            limit=_PER_PAGE,
            before=older,
            token_id=token_id,
            action=action or None,
            since=day_start(first) if first else None,
            until=day_start(last + dt.timedelta(days=1)) if last else None,
            criteria=criteria or None,
        )
    asked = {"who": who, "action": action, "from": since, "to": until, "criteria": criteria}
    return page(
        request,
        "admin/audit.html",
        {
            "section": "audit",
            "entries": entries,
            "names": audit_names(session, {e.token_id for e in entries}),
            "tokens": tokens,
            "actions": ACTIONS,
            "asked": asked,
            "errors": errors,
            "more": entries[-1].id if len(entries) == _PER_PAGE else None,
            "first_page": older is None,
        },
        status=422 if errors else 200,
    )


@router.get("/admin/health")
async def health(request: Request, user: Admin, session: DbSession) -> Response:
    """The node at a glance: database, logs, peers, webhook queue, keys, version."""
    now = dt.datetime.now(dt.UTC)
    key_store = request.app.state.issuing.key_store
    found = await run_in_threadpool(node_health, engine_of(request), key_store=key_store, now=now)
    return page(
        request,
        "admin/health.html",
        {"section": "health", "health": found, "now": now, "role_names": role_names(session)},
    )

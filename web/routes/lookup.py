"""The public look-up of an engineer: a registration by its number and its holder's name.

The form posts (with its token): the name and number stay out of the address bar and
the access logs. Each client address may look up ``public_lookups_per_minute`` times in
any minute (the ``lookup`` kind of ``api.rates``); past it the page answers 429 with
Retry-After.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, Response

from api.deps import DbSession, Issuing, ReadOnly
from api.limits import GatedRoute
from api.rates import RateLimits
from registry.calendar import china_today
from registry.enforcement.audit import criteria_hash, public_caller, record_access
from registry.verification.public import public_registration
from web.render import page
from web.security import CheckedForm, Visitor, client_address

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

# Bounds of what the form takes: longer is refused on the page, never a 500.
_MAX_NUMBER = 64
_MAX_NAME = 100


def _limits(request: Request) -> RateLimits:
    limits = getattr(request.app.state, "rate_limits", None)
    if not isinstance(limits, RateLimits):
        raise TypeError("app.state.rate_limits is not set: build the app with create_app")
    return limits


@router.get("/lookup", response_class=HTMLResponse)
def lookup_form(request: Request, user: Visitor) -> Response:
    """The look-up form."""
    return page(request, "lookup.html", {"asked": False})


@router.post("/lookup", response_class=HTMLResponse)
def lookup(
    request: Request,
    *,
    session: DbSession,
    reads: ReadOnly,
    issuing: Issuing,
    user: Visitor,
    form: CheckedForm,
    registration_number: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """The registration with that number and that holder's name, as it stands today;
    "not found" alike for a number that does not exist and one under another name."""
    number, holder = registration_number.strip(), name.strip()
    errors = []
    if not number:
        errors.append("number-missing")
    elif len(number) > _MAX_NUMBER:
        errors.append("number-long")
    if not holder:
        errors.append("name-missing")
    elif len(holder) > _MAX_NAME:
        errors.append("name-long")
    context = {"asked": True, "number": number, "name": holder, "errors": errors}
    if errors:
        return page(request, "lookup.html", context, status=422)
    # Counted once the form is valid: a mistyped number costs no look-up.
    wait = _limits(request).take("lookup", caller=None, address=client_address(request))
    if wait is not None:
        response = page(request, "lookup.html", {**context, "wait": wait}, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    now = dt.datetime.now(dt.UTC)
    found = reads.read(
        lambda source: public_registration(
            source,
            lookup=issuing.lookup,
            registration_number=number,
            name=holder,
            on=china_today(now),
        ),
        session=session,
    )
    # Every look-up of a person is in the access audit, the public's too: on the
    # primary (the request's session), where the registration may be read from a replica.
    record_access(
        session,
        public_caller(session, now=now),
        action="public-lookup",
        criteria=criteria_hash(
            {"by": "registration-number", "number": number, "name": holder},
            node_secret=issuing.node_secret,
        ),
        rows=1,
        results=1 if found is not None else 0,
        now=now,
    )
    return page(request, "lookup.html", {**context, "found": found})

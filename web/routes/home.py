"""The front page, the language switch, signing in and out, and the API reference."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbSession
from api.limits import GatedRoute
from api.rates import rate_limit
from registry.accounts import SignInPolicy, end_session, sign_in, sign_out, start_session
from web.cookies import delete_cookie, read_cookie, set_cookie
from web.headers import EXPLORER_POLICY
from web.render import LANG_COOKIE, page
from web.security import (
    ACTIVE_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    Visitor,
    activity_stamp,
    client_address,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

_YEAR = 365 * 24 * 3600
_CLEARED = '"cache", "storage"'


def local_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path of this site (never another site's address)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: Visitor) -> Response:
    """What the registry is, and the ways in."""
    return page(request, "home.html")


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None) -> Response:
    """Show the pages in Chinese (``zh``) or English (``en``) from now on."""
    response = RedirectResponse(local_path(next), status_code=303)
    if code in ("zh", "en"):
        set_cookie(response, request, LANG_COOKIE, code, max_age=_YEAR)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, user: Visitor, next: str | None = None) -> Response:
    """The sign-in form."""
    return page(request, "sign_in.html", {"next": local_path(next, "/desk")})


@router.post("/sign-in", response_class=HTMLResponse, openapi_extra=rate_limit("sign-in"))
def sign_in_post(
    request: Request,
    *,
    session: DbSession,
    user: Visitor,
    form: CheckedForm,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/desk",
) -> Response:
    """Check the password; on success start a new session (ending the one this
    browser had, if any) and go where the visitor was going. Refused: the form
    again, saying why in words that do not tell whether the name exists."""
    settings = request.app.state.settings
    policy = SignInPolicy(
        delay_seconds=settings.sign_in_delay_seconds,
        lock_after=settings.sign_in_lock_after,
        lock_minutes=settings.sign_in_lock_minutes,
    )
    result = sign_in(session, username, password, policy=policy, client=client_address(request))
    if not result.ok or result.user is None:
        session.commit()  # the refusal and its count are kept
        wait = None
        if result.retry_at is not None and result.retry_at > datetime.now(UTC):
            wait = max(1, int((result.retry_at - datetime.now(UTC)).total_seconds() + 0.999))
        return page(
            request,
            "sign_in.html",
            {
                "next": local_path(next, "/desk"),
                "username": username,
                "refused": result.outcome,
                "wait": wait,
                # Locked out (not only slowed down): now, or by this refusal.
                "locked": wait is not None and wait > 60,
            },
            status=429 if result.outcome == "locked" else 401,
        )
    before = read_cookie(request, SESSION_COOKIE)
    if before:
        end_session(session, before)
    cookie = start_session(session, result.user)
    response = RedirectResponse(local_path(next, "/desk"), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie)
    secret = request.app.state.issuing.node_secret
    set_cookie(response, request, ACTIVE_COOKIE, activity_stamp(secret, cookie, int(time.time())))
    return response


@router.post("/sign-out")
def sign_out_post(request: Request, session: DbSession, form: CheckedForm) -> Response:
    """End the session and delete its cookies; the browser is also told to drop any
    cache and storage of the site (``Clear-Site-Data``). The language stays."""
    cookie = read_cookie(request, SESSION_COOKIE)
    if cookie:
        sign_out(session, cookie, client=client_address(request))
    response = RedirectResponse("/", status_code=303, headers={"Clear-Site-Data": _CLEARED})
    delete_cookie(response, request, SESSION_COOKIE)
    delete_cookie(response, request, ACTIVE_COOKIE)
    return response


@router.get("/desk")
def desk(request: Request, user: Visitor) -> Response:
    """Where a signed-in person starts: their role's desk."""
    if user is None:
        return RedirectResponse("/sign-in?next=/desk", status_code=303)
    return page(request, "desk.html")


_METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/docs", response_class=HTMLResponse)
def api_reference(request: Request, user: Visitor) -> Response:
    """The API reference, rendered here from the OpenAPI document: every operation with
    its parameters, body and answers, light enough for any connection."""
    document = request.app.openapi()
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "anchor": operation.get("operationId") or f"{method}-{path}",
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "body": list((operation.get("requestBody") or {}).get("content", {})),
                    "responses": operation.get("responses", {}),
                    "secured": bool(operation.get("security")),
                }
            )
    info = document.get("info", {})
    return page(request, "api_reference.html", {"info": info, "groups": groups})


_EXPLORER = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API explorer · YRD safety-engineer registry</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/js/explorer.js"></script>
</body>
</html>
"""


@router.get("/docs/explorer", response_class=HTMLResponse)
def api_explorer(request: Request) -> HTMLResponse:
    """Swagger UI, to try the API from the browser: its scripts and styles (1.7 MB)
    served by this node, started by a script file of its own (no inline script), under
    the explorer's own Content-Security-Policy (``web.headers.EXPLORER_POLICY``)."""
    return HTMLResponse(_EXPLORER, headers={"Content-Security-Policy": EXPLORER_POLICY})

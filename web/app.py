"""The pages added to the app: server-rendered from ``web/templates``, their
scripts and styles served from ``web/static`` by the node itself (nothing is
fetched from anywhere else), in Chinese first and English one click away."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from sqlmodel import Session
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from api.limits import PageAnswers
from web.headers import SecurityHeaders
from web.render import page
from web.routes import (
    admin,
    blacklist,
    certificate,
    console_authority,
    console_import,
    console_records,
    desk,
    home,
    inspect,
    lists,
    lookup,
)
from web.security import (
    FormTokens,
    NeedsSignIn,
    NotYourPage,
    StaleForm,
    is_page,
    session_key,
    visitor,
)

__all__ = ["install_pages"]

_STATIC = Path(__file__).resolve().parent / "static"


def install_pages(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    app.state.page_answers = PageAnswers(owns=is_page, session=session_key, refusal=_refusal)
    # Compressed for browsers that take it: the API explorer's script is 1.7 MB.
    static = GZipMiddleware(StaticFiles(directory=_STATIC), minimum_size=1024)
    app.mount("/static", static, name="static")
    app.include_router(home.router)
    app.include_router(certificate.router)
    app.include_router(lookup.router)
    app.include_router(blacklist.router)
    app.include_router(desk.router)
    app.include_router(lists.router)
    for area in (console_import, console_records, console_authority, inspect, admin):
        app.include_router(area.router)
    app.add_middleware(FormTokens)
    # Outside everything, Starlette's error middleware included: a 500 carries the
    # security headers too (middleware added the usual way runs inside it).
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]

    async def needs_sign_in(request: Request, exc: Exception) -> Response:
        back = exc.back if isinstance(exc, NeedsSignIn) else "/"
        return RedirectResponse(f"/sign-in?next={_quoted(back)}", status_code=303)

    async def not_your_page(request: Request, exc: Exception) -> Response:
        _visit(request)
        return page(request, "refused.html", {"why": "role"}, status=403)

    async def stale_form(request: Request, exc: Exception) -> Response:
        _visit(request)
        return page(request, "refused.html", {"why": "form"}, status=403)

    app.add_exception_handler(NeedsSignIn, needs_sign_in)
    app.add_exception_handler(NotYourPage, not_your_page)
    app.add_exception_handler(StaleForm, stale_form)


def _refusal(request: Request, status: int, values: dict[str, Any]) -> Response:
    """The page of a request over a limit (``api.limits``): what happened, what to do."""
    limit = int(values.get("limit", 0))
    megabytes = f"{limit / 1_000_000:g}" if limit >= 1_000_000 else f"{limit / 1_000_000:.2f}"
    return page(request, "limited.html", {**values, "megabytes": megabytes}, status=status)


def _quoted(path: str) -> str:
    return quote(path, safe="/")


def _visit(request: Request) -> None:
    """Who is at the page, for an error page rendered outside a route."""
    with Session(request.app.state.engine) as session:
        visitor(request, session)

"""Who is at a page, and whether a form really came from one of ours.

- **Sessions.** Signing in sets ``registry_session`` (HttpOnly, SameSite=Lax, Secure
  behind HTTPS); the database keeps only its hash (``registry.accounts``).
- **Form tokens (CSRF).** Every browser gets a random ``registry_csrf`` cookie
  (``FormTokens``, a middleware on the pages only); every form carries
  HMAC-SHA256(node secret, that cookie) and every form post must send it back
  (``checked_form``). Another site can make a browser post, but can neither read the
  cookie nor make the token: its post is refused and changes nothing.
- **Roles.** ``signed_in(*roles)`` lets a page through for an account of one of
  ``roles``; a visitor not signed in is sent to sign in first, one signed in with
  another role is refused (403).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import DbSession
from registry.accounts import session_user
from registry.storage.models import UserAccount

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "FormTokens",
    "NeedsSignIn",
    "NotYourPage",
    "StaleForm",
    "checked_form",
    "client_address",
    "cookie_flags",
    "form_token",
    "signed_in",
    "visitor",
]

SESSION_COOKIE = "registry_session"
CSRF_COOKIE = "registry_csrf"
_API_PREFIXES = ("/v1/", "/healthz", "/readyz", "/openapi.json")


class NeedsSignIn(Exception):
    """The page needs an account: send the visitor to sign in, then back."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


class NotYourPage(Exception):
    """The account signed in has another role than the page needs."""


class StaleForm(Exception):
    """A form post without the right token: refused, nothing changed."""


def cookie_flags(request: Request) -> dict[str, Any]:
    """The flags of the registry's cookies: HttpOnly, SameSite=Lax, Secure behind HTTPS."""
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
        "path": "/",
    }


class FormTokens:
    """Give every browser at a page a random ``registry_csrf`` cookie (the API's paths
    are left alone: machines send bearer tokens, not cookies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_API_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.cookies.get(CSRF_COOKIE, "")
        if 20 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
            scope.setdefault("state", {})["csrf_cookie"] = given
            await self.app(scope, receive, send)
            return
        made = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_cookie"] = made
        secure = "; Secure" if scope.get("scheme") == "https" else ""

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie", f"{CSRF_COOKIE}={made}; Path=/; HttpOnly; SameSite=Lax{secure}"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def client_address(request: Request) -> str | None:
    """The address the request came from (behind a proxy, as uvicorn takes it from
    ``X-Forwarded-For``), if known."""
    return request.client.host if request.client else None


def form_token(request: Request) -> str:
    """The token this browser's forms carry."""
    secret: bytes = request.app.state.issuing.node_secret
    cookie = str(getattr(request.state, "csrf_cookie", ""))
    return hmac.new(secret, f"form:{cookie}".encode(), hashlib.sha256).hexdigest()


def visitor(request: Request, session: DbSession) -> UserAccount | None:
    """The account signed in at this browser, if any; sets what every page shows."""
    cookie = request.cookies.get(SESSION_COOKIE)
    user = session_user(session, cookie) if cookie else None
    request.state.user = user
    request.state.csrf_token = form_token(request)
    return user


Visitor = Annotated[UserAccount | None, Depends(visitor)]


def signed_in(*roles: str) -> Callable[..., UserAccount]:
    """A dependency: the account signed in, which must have one of ``roles`` (an
    ``issuer:`` role matches ``"issuer"``)."""

    def dependency(request: Request, user: Visitor) -> UserAccount:
        if user is None:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise NeedsSignIn(back)
        kind = "issuer" if user.role.startswith("issuer:") else user.role
        if kind not in roles and user.role not in roles:
            raise NotYourPage
        return user

    dependency.roles = roles  # type: ignore[attr-defined]  # read by the role-matrix test
    return dependency


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form, once its token is this browser's; raises ``StaleForm``.

    Its uploaded files are closed when the request is done, answered or refused
    (a file over a megabyte is a temporary file on disk, kept open until then)."""
    form = await request.form()
    try:
        sent = form.get("csrf_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, form_token(request)):
            raise StaleForm
        yield form
    finally:
        await form.close()


CheckedForm = Annotated[FormData, Depends(checked_form)]
Handler = Callable[[Request, Exception], Awaitable[Any]]

"""Who is at a page, and whether a form really came from one of ours.

- **Sessions.** Signing in sets ``registry_session`` (HttpOnly, SameSite=Lax; over
  HTTPS ``Secure`` and named ``__Host-registry_session``: ``web.cookies``) and ends
  the session the browser had before; the database keeps only its hash
  (``registry.accounts``). A session lasts at most ``SESSION_HOURS`` and ends after
  ``IDLE_MINUTES`` without a page: beside it the browser holds ``registry_active``,
  the time of its last page under an HMAC of the node secret bound to the session
  (``activity_stamp``), renewed with every page; a session whose stamp is older, or
  missing, or not the node's, signs no one in.
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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import DbSession
from registry.accounts import session_user
from registry.storage.models import UserAccount
from web.cookies import cookie_header, read_cookie

__all__ = [
    "ACTIVE_COOKIE",
    "CSRF_COOKIE",
    "IDLE_MINUTES",
    "SESSION_COOKIE",
    "FormTokens",
    "NeedsSignIn",
    "NotYourPage",
    "StaleForm",
    "activity_stamp",
    "checked_form",
    "client_address",
    "form_token",
    "is_page",
    "session_key",
    "signed_in",
    "visitor",
]

SESSION_COOKIE = "registry_session"
CSRF_COOKIE = "registry_csrf"
ACTIVE_COOKIE = "registry_active"
IDLE_MINUTES = 30
"""A session unused this long ends (NIST SP 800-63B's inactivity limit at AAL2)."""
_CLOCK_SKEW = 60
_API_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json")


class NeedsSignIn(Exception):
    """The page needs an account: send the visitor to sign in, then back."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


class NotYourPage(Exception):
    """The account signed in has another role than the page needs."""


class StaleForm(Exception):
    """A form post without the right token: refused, nothing changed."""


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
        given = read_cookie(request, CSRF_COOKIE) or ""
        if 20 <= len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
            scope.setdefault("state", {})["csrf_cookie"] = given
            await self.app(scope, receive, send)
            return
        made = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf_cookie"] = made
        made_cookie = cookie_header(scope, CSRF_COOKIE, made)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", made_cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a page (not the API's JSON)."""
    return not request.url.path.startswith(_API_PREFIXES)


def session_key(request: Request) -> str | None:
    """A key of the signed-in session the request carries (its cookie's digest), if
    any: rate limits count a session's uses as they count a token's."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return "session:" + hashlib.sha256(cookie.encode()).hexdigest()[:32] if cookie else None


def client_address(request: Request) -> str | None:
    """The address the request came from (behind a proxy, as uvicorn takes it from
    ``X-Forwarded-For``), if known."""
    return request.client.host if request.client else None


def form_token(request: Request) -> str:
    """The token this browser's forms carry."""
    secret: bytes = request.app.state.issuing.node_secret
    cookie = str(getattr(request.state, "csrf_cookie", ""))
    return hmac.new(secret, f"form:{cookie}".encode(), hashlib.sha256).hexdigest()


def activity_stamp(secret: bytes, session_cookie: str, at: int) -> str:
    """The ``registry_active`` cookie's value: the browser's last page at ``at`` (Unix
    seconds) in session ``session_cookie``, under an HMAC of the node secret."""
    bound = hashlib.sha256(session_cookie.encode()).hexdigest()
    mac = hmac.new(secret, f"active:{bound}:{at}".encode(), hashlib.sha256).hexdigest()
    return f"{at}.{mac}"


def _active(secret: bytes, session_cookie: str, stamp: str | None, now: int) -> bool:
    """Whether ``stamp`` is this session's and no older than ``IDLE_MINUTES``."""
    if stamp is None:
        return False
    at_text, _, _ = stamp.partition(".")
    if not at_text.isdigit() or len(at_text) > 12:
        return False
    at = int(at_text)
    if not now - IDLE_MINUTES * 60 < at <= now + _CLOCK_SKEW:
        return False
    return hmac.compare_digest(stamp, activity_stamp(secret, session_cookie, at))


def visitor(request: Request, session: DbSession) -> UserAccount | None:
    """The account signed in at this browser, if any; sets what every page shows, and
    the session's new activity stamp, which the page renews (``web.render.page``)."""
    cookie = read_cookie(request, SESSION_COOKIE)
    user = None
    if cookie:
        secret: bytes = request.app.state.issuing.node_secret
        now = int(time.time())
        if _active(secret, cookie, read_cookie(request, ACTIVE_COOKIE), now):
            user = session_user(session, cookie)
        if user is not None:
            request.state.renew_cookies = {ACTIVE_COOKIE: activity_stamp(secret, cookie, now)}
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

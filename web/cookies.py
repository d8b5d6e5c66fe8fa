"""The pages' cookies: one way to name, set, read and delete them.

Every cookie the pages set is ``HttpOnly`` (no script of ours reads one), ``Path=/``
and without ``Domain``, ``SameSite=Lax`` unless its use asks for ``Strict``. When the
request came over HTTPS (``scope["scheme"]``: behind a proxy, as uvicorn takes it from
the ``X-Forwarded-Proto`` of a proxy it trusts) it is also ``Secure`` and its name
carries the ``__Host-`` prefix, so a browser keeps it only as sent by this host over
HTTPS: no other host under the same domain, and no plain-HTTP answer, can set or
overwrite it. Over HTTPS a cookie is read under its prefixed name only. Over plain
HTTP (a node tried on a laptop, ``make run``) the names are bare and nothing is
``Secure``, or the browser would never send them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from starlette.requests import HTTPConnection
from starlette.responses import Response

__all__ = [
    "HOST_PREFIX",
    "cookie_header",
    "cookie_name",
    "delete_cookie",
    "read_cookie",
    "set_cookie",
]

HOST_PREFIX = "__Host-"

SameSite = Literal["lax", "strict"]


def _secure(scope: Mapping[str, Any]) -> bool:
    return scope.get("scheme") == "https"


def cookie_name(scope: Mapping[str, Any], name: str) -> str:
    """The name cookie ``name`` has for a request of ``scope``: ``__Host-name`` over
    HTTPS, ``name`` over plain HTTP."""
    return f"{HOST_PREFIX}{name}" if _secure(scope) else name


def read_cookie(request: HTTPConnection, name: str) -> str | None:
    """The value of cookie ``name`` as this request's scheme names it, if sent."""
    return request.cookies.get(cookie_name(request.scope, name))


def set_cookie(
    response: Response,
    request: HTTPConnection,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: SameSite = "lax",
) -> None:
    """Set cookie ``name`` on ``response`` with the pages' attributes."""
    response.set_cookie(
        cookie_name(request.scope, name),
        value,
        max_age=max_age,
        path="/",
        secure=_secure(request.scope),
        httponly=True,
        samesite=samesite,
    )


def delete_cookie(
    response: Response, request: HTTPConnection, name: str, *, samesite: SameSite = "lax"
) -> None:
    """Delete cookie ``name``, with the attributes it was set with (a browser refuses
    a ``__Host-`` cookie's deletion that is not ``Secure``)."""
    response.delete_cookie(
        cookie_name(request.scope, name),
        path="/",
        secure=_secure(request.scope),
        httponly=True,
        samesite=samesite,
    )


def cookie_header(scope: Mapping[str, Any], name: str, value: str) -> str:
    """A ``Set-Cookie`` value for cookie ``name`` (a browser session's cookie), for
    middleware that answers below the routes."""
    secure = "; Secure" if _secure(scope) else ""
    return f"{cookie_name(scope, name)}={value}; HttpOnly; Path=/; SameSite=Lax{secure}"

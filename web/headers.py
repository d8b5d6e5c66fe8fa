"""The headers every answer of the node carries, whatever made it: a page, a redirect,
a static file, the API's JSON, an error or a 404.

- **Content-Security-Policy.** A page (``text/html``) may load scripts, styles and
  images from the node only, run no inline script, be framed by no one and post forms
  to the node only (``PAGE_POLICY``). Anything else (JSON, problem+json, CSV, XLSX,
  scripts, styles, PDFs, which are all downloads) is never a document a browser
  should run anything in: ``DATA_POLICY``. A route that needs another policy sets its
  own header, which is kept (the API explorer, ``EXPLORER_POLICY``).
- **X-Frame-Options** for browsers older than ``frame-ancestors``;
  **X-Content-Type-Options** so that nothing is taken for what it is not;
  **Referrer-Policy** ``no-referrer``: a certificate's address names the credential,
  and nothing of it goes to another site; **Cross-Origin-Opener-Policy**;
  **Permissions-Policy** denying the features no page uses (camera included: no page
  scans a QR code, the phone's own camera app does).
- **Strict-Transport-Security** only when the request came over HTTPS (behind a proxy,
  as uvicorn takes the scheme from ``X-Forwarded-Proto`` of a trusted proxy): sent over
  plain HTTP it would be ignored, and a node tried out on a laptop has no certificate.

``SecurityHeaders`` wraps the whole application, outside Starlette's own error
middleware, so that an unexpected error's 500 carries the headers too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DATA_POLICY",
    "EXPLORER_POLICY",
    "HSTS",
    "PAGE_POLICY",
    "SecurityHeaders",
    "policy_for",
]

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
"""A page's policy: everything from the node, no inline script or style."""

EXPLORER_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
"""Swagger UI's page: the pages' policy, but its stylesheet draws its icons as
``data:`` images. Its script is started by a file of the node's
(``web/static/js/explorer.js``), never inline; it needs no inline style either (React
sets styles through the DOM, which a policy does not restrict), as the browser test
that tries an operation shows."""

DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""Anything that is not a page: a browser opening it may load and run nothing."""

_EVERYWHERE = (
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), hid=(), "
        "midi=(), accelerometer=(), gyroscope=(), magnetometer=(), display-capture=()",
    ),
)
HSTS = "max-age=31536000; includeSubDomains"
"""A year, this host and every host under it: HTTPS only."""


def policy_for(content_type: str) -> str:
    """The Content-Security-Policy of an answer of ``content_type``."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/html":
        return PAGE_POLICY
    return DATA_POLICY


class SecurityHeaders:
    """Add the security headers to every HTTP answer (a header a route set itself is
    kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _EVERYWHERE:
                    headers.setdefault(name, value)
                headers.setdefault(
                    "content-security-policy", policy_for(headers.get("content-type", ""))
                )
                if secure:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)

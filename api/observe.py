"""Each request's id, its line in the log and its figures for ``/metrics``.

``Observed`` wraps the whole application (outside the security headers and Starlette's
error middleware, so a 500 is counted and carries its id too):

1. the request's id is its ``X-Request-ID`` if that is sane (``request_id_of``),
   else a new random one; it is the context's ``REQUEST_ID`` while the request is
   served, so every log line written meanwhile carries it, and the answer returns it
   in ``X-Request-ID``;
2. once answered, one line on the ``registry.access`` logger: method, route template,
   status, duration in milliseconds and the class of the client's address
   (``loopback``, ``private`` or ``public``); never the path sent, its query string,
   the body or the address itself;
3. the request's latency, by route template, method and status class, and the
   requests in flight (``api.metrics.RequestMetrics``).
"""

from __future__ import annotations

import logging
import re
import uuid
from ipaddress import ip_address
from time import perf_counter
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.node_log import REQUEST_ID

if TYPE_CHECKING:
    from api.metrics import RequestMetrics

__all__ = ["UNMATCHED", "Observed", "client_class", "request_id_of", "route_of"]

_log = logging.getLogger("registry.access")

_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Fifteen digits in a row are what a resident ID number (15 or 18 characters) holds:
# such an id would put one in clear in the log.
_DIGITS = re.compile(r"[0-9]{15}")

UNMATCHED = "(unmatched)"
"""The route template of a request no route took (a 404)."""


def request_id_of(header: str | None) -> str:
    """The id of a request sending ``header`` as its ``X-Request-ID``: the header if it
    is 1 to 64 letters, digits, dots, underscores and hyphens with no 15 digits in a
    row, else a new random one (32 hexadecimal digits)."""
    if header is not None and _SANE.fullmatch(header) and not _DIGITS.search(header):
        return header
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The template of the route that took the request (``/v1/credentials/{id}``)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else UNMATCHED


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(scope: Scope) -> str:
    """The request's method, or ``OTHER`` for one no route serves: a label's values
    stay a known few whatever clients send."""
    method = str(scope["method"])
    return method if method in _METHODS else "OTHER"


def client_class(scope: Scope) -> str:
    """``loopback``, ``private`` or ``public``: what the client's address is, not
    which it is (``unknown`` if it is not an IP address)."""
    client = scope.get("client")
    try:
        address = ip_address(client[0]) if client else None
    except ValueError:
        address = None
    if address is None:
        return "unknown"
    if address.is_loopback:
        return "loopback"
    return "private" if address.is_private else "public"


class Observed:
    """ASGI middleware: the request's id, its log line and its figures (see above)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        request_id = request_id_of(header)
        token = REQUEST_ID.set(request_id)
        status = 0
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            self.metrics.in_flight.dec()
            route, method = route_of(scope), _method(scope)
            self.metrics.observe(route, method, status, seconds)
            _log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status or "-",
                seconds * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "client": client_class(scope),
                },
            )
            REQUEST_ID.reset(token)

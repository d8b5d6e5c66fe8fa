"""Bodies: who may send one, and how large, decided before it is read.

FastAPI reads the body of a route that validates one before it runs the route's
dependencies, the token check among them: a 200 MB body with no token was read
whole before its 401. Every route is a ``GatedRoute``, which before the body is read:

1. checks the token against the roles the route requires (``api.auth.Requirement``):
   401 or 403, and the caller kept for the route's dependencies;
2. refuses a body whose ``Content-Length`` is over the route's limit: 413.

``BodyGate``, ASGI middleware in front of the routes, counts the bytes as they
arrive (a chunked body declares no length) and stops reading at the limit of the
route (``JSON_BODY`` where no route sets one): 413, whatever the route was doing with
them. A route's limit is its OpenAPI operation's ``x-body-limit`` (``body_limit``).
Every answer is problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Requirement, bearer_token, identify, requirement_of
from api.deps import loop_engine_of
from api.errors import problem_response, problem_responses, registry_problem
from api.schemas.records import BATCH_LIMIT
from registry.enforcement.search import MAX_CHECK
from registry.errors import RegistryError
from registry.tokens import Caller
from registry.verification.batch import MAX_BATCH

__all__ = [
    "ISSUE_BATCH_BODY",
    "JSON_BODY",
    "TABLE_BODY",
    "BodyGate",
    "GatedRoute",
    "body_limit",
    "too_large",
]

JSON_BODY = 256 * 1024
"""One record, status change, search or subscription: the largest, a subscription to
10,000 credit codes, is about 210 KB; a listing with 20 related persons and 20
measures of 200 characters each, about 60 KB."""

TABLE_BODY = max(MAX_BATCH, MAX_CHECK) * 800
"""A batch verification or check of 10,000 rows (JSON or CSV) at 800 bytes a row:
8,000,000 bytes. A row of the examples is 40 to 70 bytes; a name of 200 Chinese
characters written as JSON escapes, 1,200."""

ISSUE_BATCH_BODY = BATCH_LIMIT * 3_200
"""A batch of 10,000 records at 3,200 bytes an item: 32,000,000 bytes. The example
records are 220 to 630 bytes."""

_EXTENSION = "x-body-limit"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """An operation's limit, as ``openapi_extra`` (``x-body-limit``, in bytes)."""
    return {_EXTENSION: max_bytes}


def too_large(max_bytes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of a body over ``max_bytes`` (413)."""
    return problem_responses(
        (413, f"The body is over {max_bytes:,} bytes; it is not read further.")
    )


_LIMIT = "registry.body_limit"  # the route's limit, in the request's scope


class _TooLarge(Exception):
    """Raised into the route when its body passes the limit."""


class GatedRoute(APIRoute):
    """A route whose token and declared body length are checked before its body is
    read (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        requirement = requirement_of(self.dependant)
        max_bytes = int((self.openapi_extra or {}).get(_EXTENSION, JSON_BODY))

        async def gated(request: Request) -> Response:
            if requirement is not None:
                try:
                    Requirement.remember(request, _identify(request, requirement.allowed))
                except RegistryError as exc:
                    return registry_problem(request, exc)
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return _too_large(request, max_bytes)
            request.scope[_LIMIT] = max_bytes
            return await handler(request)

        return gated


class BodyGate:
    """ASGI middleware: stops reading a body at its route's limit and answers 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        over = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > scope.get(_LIMIT, JSON_BODY):
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if over:
                return  # the route's answer to a body cut short is replaced by the 413
            answered = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # FastAPI answers an error while reading a body it validates with a 400,
            # which is dropped; a route reading the body itself lets it through.
            if not over:
                raise
        if over and not answered:
            request = Request(scope)
            await _too_large(request, scope.get(_LIMIT, JSON_BODY))(scope, receive, send)


def _identify(request: Request, allowed: tuple[str, ...]) -> Caller:
    # On the event loop's own thread, with its own engine, as a verification reads
    # (api.app): one key lookup, never waiting on a lock. In autocommit: one statement
    # needs no transaction, and PostgreSQL is spared the BEGIN and COMMIT round trips
    # (a verification's whole answer takes a few milliseconds; they were a twentieth).
    with loop_engine_of(request).connect() as connection:
        single = connection.execution_options(isolation_level="AUTOCOMMIT")
        with Session(bind=single) as session:
            token = bearer_token(request.headers.get("authorization"))
            return identify(session, token, allowed)


def _too_large(request: Request, max_bytes: int) -> Response:
    return problem_response(
        request,
        status=413,
        slug="too-large",
        title="The request body is too large",
        detail=f"the body is over {max_bytes:,} bytes, the limit of this operation",
        headers={"Connection": "close"},
    )

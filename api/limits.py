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

A route of a rate-limited kind (``api.rates``, its operation's ``x-rate-limit``) takes
one use of it after the token check and before the body: 429 with ``Retry-After``
past the limit. A JSON body is read whole (within its limit) and refused if it nests
deeper than ``MAX_JSON_DEPTH`` before anything parses it: 422.

The API's answers are problem+json. A page's (its route is not in the OpenAPI
document) are pages, in Chinese first, saying what to do (``PageAnswers``, which the
pages install).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Requirement, bearer_token, identify, requirement_of
from api.deps import loop_engine_of
from api.errors import problem_response, problem_responses, registry_problem
from api.rates import Kind, RateLimits, kind_of, too_many
from api.schemas.records import BATCH_LIMIT
from registry.enforcement.search import MAX_CHECK
from registry.errors import RegistryError
from registry.tokens import Caller
from registry.verification.batch import MAX_BATCH

__all__ = [
    "ISSUE_BATCH_BODY",
    "JSON_BODY",
    "MAX_JSON_DEPTH",
    "TABLE_BODY",
    "BodyGate",
    "GatedRoute",
    "PageAnswers",
    "body_limit",
    "rate_refusal",
    "refusal",
    "too_deep",
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

MAX_JSON_DEPTH = 32
"""Arrays and objects a JSON body may nest: the deepest the API takes is 5 (a batch
issue's record's subject's related persons' measures)."""

_EXTENSION = "x-body-limit"


def body_limit(max_bytes: int) -> dict[str, Any]:
    """An operation's limit, as ``openapi_extra`` (``x-body-limit``, in bytes)."""
    return {_EXTENSION: max_bytes}


def too_large(max_bytes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of a body over ``max_bytes`` (413) or too slow
    to arrive (408)."""
    return problem_responses(
        (
            408,
            "The body did not arrive in time (the server's body timeout), or came slower "
            "than its floor; the connection is closed.",
        ),
        (413, f"The body is over {max_bytes:,} bytes; it is not read further."),
    )


_LIMIT = "registry.body_limit"  # the route's limit, in the request's scope


class _TooLarge(Exception):
    """Raised into the route when its body passes the limit."""


class GatedRoute(APIRoute):
    """A route whose token, rate and declared body length are checked before its body
    is read, and whose JSON body is refused past ``MAX_JSON_DEPTH`` before it is
    parsed (see the module's docstring). A rate-limited route's 429 is documented
    here, so that none is left out of the OpenAPI document."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kind = kind_of(kwargs.get("openapi_extra"))
        if kind is not None:
            kwargs["responses"] = {**(kwargs.get("responses") or {}), **too_many(kind)}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        requirement = requirement_of(self.dependant)
        max_bytes = int((self.openapi_extra or {}).get(_EXTENSION, JSON_BODY))
        kind = kind_of(self.openapi_extra)

        async def gated(request: Request) -> Response:
            caller: str | None = None
            if requirement is not None:
                try:
                    found = _identify(request, requirement.allowed)
                except RegistryError as exc:
                    return registry_problem(request, exc)
                Requirement.remember(request, found)
                caller = f"token:{found.token_id}"
            if kind is not None:
                refused = _rate(request, kind, caller)
                if refused is not None:
                    return refused
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return _too_large(request, max_bytes)
            request.scope[_LIMIT] = max_bytes
            if _sends_json(request) and too_deep(await request.body()):
                return _too_deep_answer(request)
            return await handler(request)

        return gated


_GRACE_SECONDS = 10.0


class BodyGate:
    """ASGI middleware: stops reading a body at its route's limit and answers 413; and
    answers 408 to a body that does not arrive within ``seconds`` of the request's
    head, or arrives slower than ``min_rate`` bytes a second on average once
    ``_GRACE_SECONDS`` (or a quarter of ``seconds``, if less) have passed."""

    def __init__(self, app: ASGIApp, *, seconds: float = 120.0, min_rate: int = 1024) -> None:
        self.app = app
        self.seconds = seconds
        self.min_rate = min_rate
        self.grace = min(_GRACE_SECONDS, seconds / 4)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        received = 0
        over = False
        slow: str | None = None  # why the body is refused as too slow
        done = False  # the whole body is in: what follows is waiting for a disconnect
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, over, slow, done
            if over or slow:
                raise _TooLarge
            if done:
                return await receive()
            ends = started + self.seconds
            floor = started + max(self.grace, received / self.min_rate) if self.min_rate else ends
            try:
                async with asyncio.timeout_at(min(ends, floor)):
                    message = await receive()
            except TimeoutError:
                slow = "timeout" if ends <= floor else "floor"
                raise _TooLarge from None
            if message["type"] != "http.request":
                done = True
                return message
            done = not message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > scope.get(_LIMIT, JSON_BODY):
                over = True
                raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if over or slow:
                return  # the route's answer to a body cut short is replaced by the 413/408
            answered = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # FastAPI answers an error while reading a body it validates with a 400,
            # which is dropped; a route reading the body itself lets it through.
            if not (over or slow):
                raise
        if answered:
            return
        request = Request(scope)
        if over:
            await _too_large(request, scope.get(_LIMIT, JSON_BODY))(scope, receive, send)
        elif slow:
            await self._too_slow(request, slow)(scope, receive, send)

    def _too_slow(self, request: Request, why: str) -> Response:
        detail = (
            f"the body did not arrive within {self.seconds:g} seconds"
            if why == "timeout"
            else f"the body came slower than {self.min_rate:,} bytes a second"
        )
        return refusal(
            request,
            status=408,
            slug="too-slow",
            title="The request body came too slowly",
            detail=detail,
            page={"why": "too-slow"},
            headers={"Connection": "close"},
        )


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


@dataclass(frozen=True)
class PageAnswers:
    """How the pages take part: which requests are theirs, the key of a signed-in
    session (rate limits count it as the API counts a token), and the page that
    answers a refusal (``why``: ``too-large``, ``too-many`` or ``too-slow``, with the
    limit in bytes or the seconds to wait). The pages install it as
    ``app.state.page_answers``."""

    owns: Callable[[Request], bool]
    session: Callable[[Request], str | None]
    refusal: Callable[[Request, int, dict[str, Any]], Response]


def _pages(request: Request) -> PageAnswers | None:
    pages = getattr(request.app.state, "page_answers", None)
    if isinstance(pages, PageAnswers) and pages.owns(request):
        return pages
    return None


def refusal(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    page: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response:
    """A limit's refusal: a page for a page (``page`` its values), else problem+json."""
    pages = _pages(request)
    if pages is None:
        return problem_response(
            request, status=status, slug=slug, title=title, detail=detail, headers=headers
        )
    answer = pages.refusal(request, status, page)
    answer.headers.update(headers or {})
    return answer


def rate_refusal(request: Request, kind: Kind) -> Response | None:
    """Take one use of ``kind`` for a page that only sometimes does what the kind
    limits (a search from its address's query), counted for its session and its
    client address: ``None``, or the 429 to answer."""
    return _rate(request, kind, None)


def _rate(request: Request, kind: Kind, caller: str | None) -> Response | None:
    limits = request.app.state.rate_limits
    if not isinstance(limits, RateLimits):
        raise TypeError("app.state.rate_limits is not set: build the app with create_app")
    if caller is None and (pages := _pages(request)) is not None:
        caller = pages.session(request)
    address = request.client.host if request.client else None
    wait = limits.take(kind, caller=caller, address=address)
    if wait is None:
        return None
    return refusal(
        request,
        status=429,
        slug="too-many-requests",
        title="Too many requests",
        detail=f"too many requests of this kind in the last minute; try again in {wait} seconds",
        page={"why": "too-many", "wait": wait},
        headers={"Retry-After": str(wait)},
    )


def _sends_json(request: Request) -> bool:
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


# Brackets as they are counted: every opening one as [, every closing one as ].
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``body`` opens more than ``limit`` arrays or objects inside
    each other, judged in time linear in its length and without recursion (bytes that
    are not JSON are left for the parser to refuse)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    # Outside strings: escapes dropped (\\ before \", as JSON pairs them), then every
    # other stretch between quotes is a string's inside.
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(text.split(b'"')[0::2]).translate(_BRACKETS, _NOT_BRACKETS)
    # Each pass takes away the innermost level: "[]" everywhere.
    for _ in range(limit):
        peeled = brackets.replace(b"[]", b"")
        if peeled == brackets:
            break
        brackets = peeled
    # Still a pair after ``limit`` levels: deeper. Otherwise what is left is "]]][[["
    # (the body is cut short or not JSON): the [ still open at its end were open at once.
    return b"[]" in brackets or brackets.count(b"[") > limit


def _too_deep_answer(request: Request) -> Response:
    return problem_response(
        request,
        status=422,
        slug="too-deep",
        title="The JSON is nested too deeply",
        detail=f"the JSON nests arrays and objects more than {MAX_JSON_DEPTH} deep; "
        "nothing of it was read",
    )


def _too_large(request: Request, max_bytes: int) -> Response:
    return refusal(
        request,
        status=413,
        slug="too-large",
        title="The request body is too large",
        detail=f"the body is over {max_bytes:,} bytes, the limit of this operation",
        page={"why": "too-large", "limit": max_bytes},
        headers={"Connection": "close"},
    )

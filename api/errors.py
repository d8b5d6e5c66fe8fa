"""RFC 9457 problem details: the one place that turns errors into HTTP responses."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.languages import answer_language
from api.observe import route_of
from api.schemas.common import Problem
from registry.credentials import CREDENTIAL_TYPES
from registry.errors import (
    Conflict,
    DatabaseNotReady,
    FieldError,
    Forbidden,
    InvalidInput,
    KeyStoreError,
    NotFound,
    OutOfRange,
    RegistryError,
    SigningHeld,
    Unauthenticated,
    VerificationError,
)
from registry.messages import translate

__all__ = [
    "PROBLEM_JSON",
    "field_path",
    "input_field",
    "install_error_handlers",
    "problem_response",
    "problem_responses",
    "registry_problem",
]

PROBLEM_JSON = "application/problem+json"

_log = logging.getLogger("registry.api")

# Most specific first: the first class an error is an instance of decides.
_STATUS: tuple[tuple[type[RegistryError], int, str, str], ...] = (
    (OutOfRange, 400, "out-of-range", "Outside what the log holds"),
    (Unauthenticated, 401, "unauthenticated", "A valid bearer token is needed"),
    (Forbidden, 403, "forbidden", "The token's role does not allow this"),
    (InvalidInput, 422, "invalid-input", "The request is not valid"),
    (VerificationError, 422, "verification-failed", "The document does not verify"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (DatabaseNotReady, 503, "not-ready", "The database is not ready"),
    (SigningHeld, 503, "signing-held", "The log signs nothing for now"),
    # A key the node cannot use now (its hardware token out of reach, its PIN changed):
    # the operator's to mend; nothing was signed or written.
    (KeyStoreError, 503, "signing-key-unavailable", "The signing key cannot be used"),
)
_FALLBACK = (500, "internal-error", "Internal error")

_DESCRIBED = {
    400: "Outside what the log holds.",
    401: "No valid token.",
    403: "The token's role does not allow this.",
    404: "Not found.",
    409: "The change is not allowed, or conflicts with another.",
    413: "The body is over this operation's limit; nothing of it was kept.",
    422: "The request is invalid; each bad field is named.",
    503: "Not ready, or the database is busy; `detail` says why, `Retry-After` when to try again.",
}


def problem_responses(*answers: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's problem answers: each a status code with
    its usual description, or ``(code, description)`` where the route says more."""
    documented: dict[int | str, dict[str, Any]] = {}
    for answer in answers:
        code, description = answer if isinstance(answer, tuple) else (answer, _DESCRIBED[answer])
        documented[code] = {
            "model": Problem,
            "description": description,
            # FastAPI also lists the model under application/json.
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return documented


@contextmanager
def input_field(name: str) -> Iterator[None]:
    """Attribute an ``InvalidInput`` raised inside to the request field ``name``.

    Domain parsers know what is wrong with a value, not where it came from; the
    route knows the field, so the problem names it.
    """
    try:
        yield
    except InvalidInput as exc:
        if not exc.errors:
            exc.errors = (FieldError(name, exc.message),)
        raise


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; ``type`` is a stable URN per kind of problem.

    The title, the detail and each field's message are in the request's language
    (``api.languages``): Chinese from the catalogue (``registry.messages``) where it
    knows the message, English otherwise."""
    lang = answer_language(request)
    body: dict[str, Any] = {
        "type": f"urn:yrd-registry:problem:{slug}",
        "title": translate(title, lang),
        "status": status,
        "detail": translate(detail, lang),
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [
            {**error, "message": translate(error["message"], lang)} for error in errors
        ]
    headers = {**(headers or {}), "Content-Language": "zh-CN" if lang == "zh" else "en"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RegistryError):
        raise TypeError("registered for RegistryError only")
    return registry_problem(request, exc)


def registry_problem(request: Request, exc: RegistryError) -> JSONResponse:
    """The problem answer of a domain error, with the status its class maps to."""
    status, slug, title = next(
        ((s, sl, t) for cls, s, sl, t in _STATUS if isinstance(exc, cls)), _FALLBACK
    )
    if status >= 500:
        # The server's own fault (an Inconsistency, say): its operators need the trace.
        # The route's template, never the path sent: it may hold an identifier.
        _log.error("%s %s failed: %s", request.method, route_of(request.scope), exc, exc_info=exc)
    errors = (
        [{"field": e.field, "message": e.message} for e in exc.errors]
        if isinstance(exc, InvalidInput)
        else None
    )
    # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return problem_response(
        request,
        status=status,
        slug=slug,
        title=title,
        detail=exc.message,
        errors=errors,
        headers=headers,
    )


def field_path(location: tuple[Any, ...]) -> str:
    """The request field a pydantic error's location names, as problems name it:
    ``("body", "items", 3, "hours")`` is ``items[3].hours``."""
    # ("body", "items", 3, "hours") -> "items[3].hours"; the location kind is dropped.
    path = ""
    for part in (
        location[1:]
        if location and location[0] in ("body", "query", "path", "header")
        else location
    ):
        if part in CREDENTIAL_TYPES:
            continue  # the union member pydantic tried: the request's `type`, not a field
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or str(location[0] if location else "request")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise TypeError("registered for RequestValidationError only")
    errors = [
        {
            "field": field_path(tuple(err.get("loc", ()))),
            "message": str(err.get("msg", "")).removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]
    fields = ", ".join(e["field"] for e in errors)
    return problem_response(
        request,
        status=422,
        slug="invalid-input",
        title="The request is not valid",
        detail=f"invalid fields: {fields}",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise TypeError("registered for HTTPException only")
    return problem_response(
        request,
        status=exc.status_code,
        slug="http-" + str(exc.status_code),
        title=str(exc.detail),
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


_BUSY_RETRY_SECONDS = 5


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # The embedded database has one writer at a time: a request that waited out its
    # busy timeout behind a long write (an import) is told to come back, and nothing
    # it did stays (its transaction is rolled back). Any other database failure is the
    # server's own: logged, and a 500.
    if isinstance(exc, OperationalError) and _sqlite_busy(exc):
        _log.warning("%s %s: the database stayed busy", request.method, route_of(request.scope))
        return _come_back(
            request,
            slug="busy",
            title="The database is busy",
            reason="a long write (an import, say) holds the database",
        )
    if isinstance(exc, OperationalError) and exc.statement is None:
        # No connection could be opened: PostgreSQL refusing more (every process's pool
        # full under a burst) or restarting. Not this request's fault, nor lasting.
        _log.warning(
            "%s %s: no database connection: %s",
            request.method,
            route_of(request.scope),
            type(exc.orig).__name__,
        )
        return _unavailable(request)
    # The error's type and traceback, not its message: it quotes the statement's
    # parameters, which may be a person's (``registry.node_log``).
    route = route_of(request.scope)
    _log.error("%s %s failed: %s", request.method, route, type(exc).__name__, exc_info=exc)
    return await _unexpected_error(request, exc)


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    # Every connection of the process's pool stayed in use past the pool's timeout.
    _log.warning("%s %s: no database connection free", request.method, route_of(request.scope))
    return _unavailable(request)


def _unavailable(request: Request) -> JSONResponse:
    return _come_back(
        request,
        slug="database-unavailable",
        title="The database cannot take the request now",
        reason="the database could not give this request a connection",
    )


def _come_back(request: Request, *, slug: str, title: str, reason: str) -> JSONResponse:
    """A 503 telling the client why, and to retry after ``_BUSY_RETRY_SECONDS``."""
    return problem_response(
        request,
        status=503,
        slug=slug,
        title=title,
        detail=f"{reason}; try again in {_BUSY_RETRY_SECONDS} seconds",
        headers={"Retry-After": str(_BUSY_RETRY_SECONDS)},
    )


def _sqlite_busy(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and str(exc.orig) in (
        "database is locked",
        "database is busy",
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log (Starlette re-raises after answering);
    # the client learns nothing about the internals.
    status, slug, title = _FALLBACK
    return problem_response(
        request, status=status, slug=slug, title=title, detail="the server failed; see its log"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through problem+json: domain, validation, HTTP and unexpected."""
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)

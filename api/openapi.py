"""The OpenAPI document, made to say exactly what the API answers.

FastAPI documents every error as ``application/json`` and adds its own 422 schema
(``HTTPValidationError``) to each operation with parameters; the registry answers
every error as RFC 9457 ``application/problem+json`` (``api.errors``). This module
rewrites the generated document once, so a client generated from it, or a fuzzer
checking answers against it, finds what is really sent:

- every answer of 400 and over is ``application/problem+json`` with ``Problem``, but
  those an operation lists under ``x-plain-errors`` (a protocol of another
  specification, such as C2SP ``tlog-witness``, whose answers are plain text);
- every operation that reads a JSON body documents 400 for a body that is not
  UTF-8 JSON at all (a JSON syntax error is a 422 naming the body);
- every operation that reads the database documents 503: the embedded database
  stayed busy with another connection's long write (``Retry-After`` says when to
  come back);
- issuing a record and changing its state link (OpenAPI `links`) to what a client
  does next with the answer's credential: change its state, read it;
- every operation that needs a token names the roles that may call it under
  ``x-roles`` (``issuer:*``: the issuer of any authority), as the token check reads
  them; an operation without it is public and answers everyone alike;
- FastAPI's unused validation schemas are dropped;
- a body a route reads itself (``named_body``: to report every problem at once) is
  documented under its model's name, as FastAPI documents a body it validates.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.auth import requirement_of
from api.errors import PROBLEM_JSON

__all__ = ["PLAIN_ERRORS", "ROLES", "exact_openapi", "named_body"]

PLAIN_ERRORS = "x-plain-errors"
"""``openapi_extra`` key of the error statuses an operation answers as it documents
them, not as problem+json."""

ROLES = "x-roles"
"""The operation's key naming the token roles that may call it (absent: public)."""

_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
_UNREADABLE = "The body is not text in UTF-8 that the server can parse."
_INVALID = "The request is invalid; each bad field is named."
_BUSY = "The database is busy with a long write, or not ready; try again after `Retry-After`."
_METHODS = ("get", "put", "post", "delete", "patch")
_NO_DATABASE = {"/healthz"}
_COMPONENT = "#/components/schemas/{model}"
# The models of the bodies routes read themselves, by name (filled by `named_body`).
_NAMED: dict[str, type[BaseModel]] = {}


def named_body(model: type[BaseModel], *, examples: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` (for ``openapi_extra``) of a JSON body that a route
    reads itself rather than through a parameter: ``model``'s schema, under its name
    in the components as for a body FastAPI validates, with ``examples``."""
    _NAMED[model.__name__] = model
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": _COMPONENT.format(model=model.__name__)},
                "examples": examples,
            }
        },
    }


def exact_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built once and rewritten as the module says."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method in _METHODS:
                if path not in _NO_DATABASE:
                    operation.setdefault("responses", {}).setdefault("503", {"description": _BUSY})
                _problems_only(operation)
    _name_roles(app, document)
    _link_records(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _NAMED.items():
        schema = model.model_json_schema(ref_template=_COMPONENT)
        for nested, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(nested, definition)
        schemas.setdefault(name, schema)
    schemas = dict(sorted(schemas.items()))
    document["components"]["schemas"] = schemas
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = document
    return document


# (from, to, the credential's id in the answer or the request): issue, then change,
# then read.
_LINKS = (
    ("/v1/credentials", "/v1/credentials/{credential_id}/status", "$response.body#/credential/id"),
    ("/v1/credentials", "/v1/credentials/{credential_id}", "$response.body#/credential/id"),
    (
        "/v1/credentials/{credential_id}/status",
        "/v1/credentials/{credential_id}/status",
        "$request.path.credential_id",
    ),
    (
        "/v1/credentials/{credential_id}/status",
        "/v1/credentials/{credential_id}",
        "$request.path.credential_id",
    ),
)
_LINK_NAMES = {
    "/v1/credentials/{credential_id}/status": "ChangeState",
    "/v1/credentials/{credential_id}": "Read",
}


def _link_records(document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    for source, target, value in _LINKS:
        issued = paths.get(source, {}).get("post", {}).get("responses", {}).get("201")
        operations = paths.get(target, {})
        then = operations.get("post" if target.endswith("/status") else "get")
        if issued is None or then is None:
            continue
        issued.setdefault("links", {})[_LINK_NAMES[target]] = {
            "operationId": then["operationId"],
            "parameters": {"credential_id": value},
        }


def _name_roles(app: FastAPI, document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    # As get_openapi walks them: the routes of included routers with their prefixes.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        requirement = requirement_of(route.dependant)
        if requirement is None:
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation[ROLES] = list(requirement.allowed)


def _problems_only(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422")
    if validation is not None and validation.get("description") == "Validation Error":
        validation["description"] = _INVALID
    body = operation.get("requestBody", {}).get("content", {})
    if any(media.endswith("json") or media.startswith("text/") for media in body):
        responses.setdefault("400", {"description": _UNREADABLE})
    own = set(operation.pop(PLAIN_ERRORS, ()))
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400 and int(status) not in own:
            response["content"] = {PROBLEM_JSON: dict(_PROBLEM)}

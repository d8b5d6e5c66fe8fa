"""Bearer-token authentication: which role the caller holds, and whether it may act.

The token is checked before anything else about a request, the body included: the
body gate (``api.limits``) finds the route, identifies the caller under the roles the
route's ``require_role`` or ``require_caller`` names, and keeps the caller in the
request's state, where those dependencies read it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from registry.errors import Forbidden, Unauthenticated
from registry.tokens import Caller, caller_of

__all__ = [
    "BearerCredentials",
    "Requirement",
    "bearer_token",
    "identify",
    "require_caller",
    "require_role",
    "requirement_of",
]

_bearer = HTTPBearer(auto_error=False, description="A registry token: `Bearer yrd_...`.")

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The bearer token presented, if any (checked by the gate: see ``Requirement``)."""


def bearer_token(authorization: str | None) -> HTTPAuthorizationCredentials | None:
    """The scheme and token of an ``Authorization`` header, as ``HTTPBearer`` reads it."""
    scheme, _, token = (authorization or "").partition(" ")
    if not scheme or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


def identify(
    session: Session, credentials: HTTPAuthorizationCredentials | None, allowed: Collection[str]
) -> Caller:
    """The caller, if their token's role is one of ``allowed``.

    ``issuer:*`` allows every issuer role. Raises ``Unauthenticated`` without a
    valid token and ``Forbidden`` for another role.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send a registry token as `Authorization: Bearer yrd_...`")
    caller = caller_of(session, credentials.credentials)
    if caller is None:
        raise Unauthenticated("the token is unknown or revoked")
    role = caller.role
    if role in allowed or ("issuer:*" in allowed and role.startswith("issuer:")):
        return caller
    raise Forbidden(f"role {role} may not do this; it needs {' or '.join(allowed)}")


_CALLER = "caller"


class Requirement:
    """The roles a route needs. As a dependency it answers the caller the gate
    identified before the body was read (``api.limits``)."""

    def __init__(self, allowed: Collection[str]) -> None:
        self.allowed = tuple(allowed)

    @staticmethod
    def remember(request: Request, caller: Caller) -> None:
        """Keep the caller the gate identified for the route's dependencies."""
        setattr(request.state, _CALLER, caller)

    def caller(self, request: Request) -> Caller:
        """The caller the gate identified; ``TypeError`` if no gate ran."""
        caller = getattr(request.state, _CALLER, None)
        if not isinstance(caller, Caller):
            raise TypeError("no caller identified: build the app with create_app")
        return caller


def requirement_of(dependant: Dependant) -> Requirement | None:
    """The roles a route requires (its ``require_role`` or ``require_caller``,
    however deep among its dependencies), or ``None`` for a public route."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Requirement):
            return dependency.call
        found = requirement_of(dependency)
        if found is not None:
            return found
    return None


class _CallerRequirement(Requirement):
    # BearerCredentials: so that the OpenAPI document names the scheme.
    async def __call__(self, request: Request, _token: BearerCredentials) -> Caller:
        return self.caller(request)


class _RoleRequirement(Requirement):
    async def __call__(self, request: Request, _token: BearerCredentials) -> str:
        return self.caller(request).role


def require_role(*allowed: str) -> _RoleRequirement:
    """A dependency returning the caller's role if it is one of ``allowed``, as
    ``identify`` decides (the gate decides it before the body is read)."""
    return _RoleRequirement(allowed)


def require_caller(*allowed: str) -> _CallerRequirement:
    """A dependency returning the caller if their role is one of ``allowed``, as
    ``identify`` decides (the gate decides it before the body is read)."""
    return _CallerRequirement(allowed)

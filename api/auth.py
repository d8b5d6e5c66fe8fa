"""Bearer-token authentication: which role the caller holds, and whether it may act."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.deps import DbSession
from registry.errors import Forbidden, Unauthenticated
from registry.tokens import Caller, caller_of

__all__ = ["BearerCredentials", "authorize", "identify", "require_caller", "require_role"]

_bearer = HTTPBearer(auto_error=False, description="A registry token: `Bearer yrd_...`.")

BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
"""The bearer token presented, if any (not yet checked: see ``authorize``)."""


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


def authorize(
    session: Session, credentials: HTTPAuthorizationCredentials | None, allowed: Collection[str]
) -> str:
    """The caller's role if it is one of ``allowed``, as ``identify`` decides."""
    return identify(session, credentials, allowed).role


def require_role(*allowed: str) -> Callable[..., str]:
    """A dependency returning the caller's role if it is one of ``allowed``, as
    ``authorize`` decides."""

    def dependency(session: DbSession, credentials: BearerCredentials) -> str:
        return authorize(session, credentials, allowed)

    return dependency


def require_caller(*allowed: str) -> Callable[..., Caller]:
    """A dependency returning the caller if their role is one of ``allowed``, as
    ``identify`` decides."""

    def dependency(session: DbSession, credentials: BearerCredentials) -> Caller:
        return identify(session, credentials, allowed)

    return dependency

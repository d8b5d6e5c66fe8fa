"""Bearer-token authentication: which role the caller holds, and whether it may act."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import DbSession
from registry.errors import Forbidden, Unauthenticated
from registry.tokens import role_of

__all__ = ["require_role"]

_bearer = HTTPBearer(auto_error=False, description="A registry token: `Bearer yrd_...`.")


def require_role(*allowed: str) -> Callable[..., str]:
    """A dependency returning the caller's role if it is one of ``allowed``.

    ``issuer:*`` allows every issuer role. Raises ``Unauthenticated`` without a
    valid token and ``Forbidden`` for another role.
    """

    def dependency(
        session: DbSession,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthenticated("send a registry token as `Authorization: Bearer yrd_...`")
        role = role_of(session, credentials.credentials)
        if role is None:
            raise Unauthenticated("the token is unknown or revoked")
        if role in allowed or ("issuer:*" in allowed and role.startswith("issuer:")):
            return role
        raise Forbidden(f"role {role} may not do this; it needs {' or '.join(allowed)}")

    return dependency

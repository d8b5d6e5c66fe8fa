"""Bearer tokens and the roles they carry.

A token is shown once, when it is made; the database keeps only its SHA-256. Roles:
``issuer:CN-xx`` (issue records for that authority only), ``verifier``,
``enforcement``, ``federation`` and ``admin``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from registry.authorities import get_authority
from registry.errors import FieldError, InvalidInput, NotFound
from registry.storage.db import PREPARED
from registry.storage.models import ApiToken

__all__ = [
    "PLAIN_ROLES",
    "Caller",
    "caller_of",
    "create_token",
    "list_tokens",
    "parse_role",
    "revoke_token",
    "role_of",
]

PLAIN_ROLES = ("verifier", "enforcement", "federation", "admin")
_PREFIX = "yrd_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=(FieldError(field, message),))


def parse_role(session: Session, role: str) -> str:
    """A role in its canonical spelling; raises ``InvalidInput`` or ``NotFound``."""
    role = role.strip()
    if role in PLAIN_ROLES:
        return role
    if role.startswith("issuer:"):
        return "issuer:" + get_authority(session, role.removeprefix("issuer:")).code
    raise InvalidInput(f"unknown role {role!r}: {', '.join(PLAIN_ROLES)} or issuer:CN-xx")


def create_token(
    session: Session,
    role: str,
    *,
    name: str,
    expires: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for ``role``, valid until ``expires`` (default: until revoked).

    Returns its record and the token, which is shown only now. Raises
    ``InvalidInput`` for an empty name, an unknown role or an expiry not in the future
    (naming the field: ``name``, ``role`` or ``expires``), or ``NotFound`` for an
    authority the node does not know.
    """
    now = now or datetime.now(UTC)
    name = name.strip()
    if not 0 < len(name) <= 200:
        raise _invalid("name", "give the token a name of 1 to 200 characters")
    if expires is not None and expires <= now:
        raise _invalid("expires", "a token's expiry must lie in the future")
    try:
        role = parse_role(session, role)
    except InvalidInput as exc:
        raise _invalid("role", exc.message) from exc
    token = _PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=_hash(token),
        role=role,
        name=name,
        created_at=now,
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return row, token


@dataclass(frozen=True)
class Caller:
    """Who presented a valid token: the token's id and name, and its role."""

    token_id: int
    name: str
    role: str


# Every authenticated request runs this: a Core statement built once.
_CALLER = (
    select(col(ApiToken.id), col(ApiToken.name), col(ApiToken.role), col(ApiToken.expires_at))
    .where(col(ApiToken.token_hash) == bindparam("token_hash"), col(ApiToken.revoked_at).is_(None))
    .execution_options(**PREPARED)
)


def caller_of(session: Session, token: str, *, now: datetime | None = None) -> Caller | None:
    """Who a presented token is, or ``None`` if it is unknown, revoked or expired."""
    if not token.startswith(_PREFIX) or len(token) > 128:
        return None
    row = session.connection().execute(_CALLER, {"token_hash": _hash(token)}).first()
    if row is None or (row.expires_at is not None and row.expires_at <= (now or datetime.now(UTC))):
        return None
    return Caller(int(row.id), str(row.name), str(row.role))


def role_of(session: Session, token: str, *, now: datetime | None = None) -> str | None:
    """The role a presented token carries, or ``None`` if unknown, revoked or expired."""
    caller = caller_of(session, token, now=now)
    return caller.role if caller is not None else None


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token record, oldest first (never the tokens themselves)."""
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id))))


def revoke_token(session: Session, token_id: int, *, now: datetime | None = None) -> ApiToken:
    """Revoke a token by its id; raises ``NotFound``."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
        session.add(row)
        session.flush()
    return row

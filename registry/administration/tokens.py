"""API tokens as an administrator sees them: which are tokens a machine presents and
which are rows that only name someone in the access audit, when each was last used
as far as the audit knows, and revoking a token (never such a row).

Two kinds of token row have a secret that is never made, so nobody can present
them: a person's own row (``UserAccount.token_id``), ended by disabling the account,
and the public pages' row (``registry.enforcement.audit.PUBLIC_PAGES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.enforcement.audit import PUBLIC_PAGES
from registry.errors import Conflict, NotFound
from registry.storage.models import AccessAudit, ApiToken, UserAccount
from registry.tokens import revoke_token

__all__ = ["TokenView", "audit_names", "revoke_api_token", "token_views"]


@dataclass(frozen=True)
class TokenView:
    """A token row: ``kind`` is ``token`` (presented by a machine), ``account`` (a
    person's own row, ``username`` theirs) or ``public`` (the public pages'); its
    state (``active``, ``expired``, ``revoked``) and its newest audited use."""

    token: ApiToken
    kind: str
    state: str
    last_used: datetime | None
    username: str | None = None
    display_name: str | None = None


def _state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def token_views(session: Session, *, now: datetime | None = None) -> list[TokenView]:
    """Every token row, oldest first, with its kind, state and newest audited use."""
    now = now or datetime.now(UTC)
    # Each token's newest entry, found from the index on (token_id, id).
    newest = (
        select(col(AccessAudit.at))
        .where(col(AccessAudit.token_id) == col(ApiToken.id))
        .order_by(col(AccessAudit.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    people = {user.token_id: user for user in session.exec(select(UserAccount)).all()}
    views = []
    rows = session.exec(select(ApiToken, newest).order_by(col(ApiToken.id))).all()
    for token, last_used in rows:
        person = people.get(token.id or 0)
        if person is not None:
            kind = "account"
        elif token.name == PUBLIC_PAGES:
            kind = "public"
        else:
            kind = "token"
        views.append(
            TokenView(
                token,
                kind,
                _state(token, now),
                last_used,
                person.username if person is not None else None,
                person.display_name if person is not None else None,
            )
        )
    return views


def revoke_api_token(session: Session, token_id: int, *, now: datetime | None = None) -> ApiToken:
    """Revoke a token a machine presents (``registry.tokens.revoke_token``). Raises
    ``NotFound``, or ``Conflict`` for a person's own row (disable the account) or
    the public pages' row, which no one can present."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if session.exec(select(UserAccount.id).where(col(UserAccount.token_id) == token_id)).first():
        raise Conflict("this is a person's own token row: disable the account instead")
    if row.name == PUBLIC_PAGES:
        raise Conflict("the public pages' token row is never presented: nothing to revoke")
    return revoke_token(session, token_id, now=now)


def audit_names(session: Session, token_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    """For each of ``token_ids``: the token's name, and for a person's own row the
    person's display name."""
    if not token_ids:
        return {}
    rows = session.exec(
        select(col(ApiToken.id), col(ApiToken.name), col(UserAccount.display_name))
        .outerjoin(UserAccount, col(UserAccount.token_id) == col(ApiToken.id))
        .where(col(ApiToken.id).in_(token_ids))
    ).all()
    return {int(token_id or 0): (name, person) for token_id, name, person in rows}

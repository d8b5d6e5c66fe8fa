"""People's accounts as an administrator sees them and changes them.

``registry.accounts`` makes accounts, signs people in and ends sessions; this module
adds what administering them needs: each account's state and last sign-in, enabling
a disabled account again, changing an account's role, and the guard that keeps a
node administered (an administrator cannot disable themselves or change their own
role, and the last active administrator stays one).

An account's own token row (``UserAccount.token_id``) stays the same through a
change of role: the access audit keeps naming the person, and each entry keeps the
role it was made under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.accounts import disable_user
from registry.errors import Conflict, FieldError, InvalidInput, NotFound
from registry.ids import parse_credit_code
from registry.storage.models import ApiToken, SignInEvent, UserAccount
from registry.tokens import parse_role

__all__ = [
    "AccountView",
    "account_views",
    "change_role",
    "disable_account",
    "enable_user",
    "find_user",
]


@dataclass(frozen=True)
class AccountView:
    """An account with its state today (``active``, ``disabled`` or ``locked``) and
    when it last signed in (``None``: never)."""

    user: UserAccount
    state: str
    last_sign_in: datetime | None


def _state(user: UserAccount, now: datetime) -> str:
    if user.disabled_at is not None:
        return "disabled"
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    return "active"


def account_views(session: Session, *, now: datetime | None = None) -> list[AccountView]:
    """Every account in the order they were made, with its state and last sign-in."""
    now = now or datetime.now(UTC)
    last = dict(
        session.exec(
            select(col(SignInEvent.user_id), func.max(col(SignInEvent.at)))
            .where(col(SignInEvent.outcome) == "signed-in")
            .group_by(col(SignInEvent.user_id))
        ).all()
    )
    users = session.exec(select(UserAccount).order_by(col(UserAccount.id))).all()
    return [AccountView(user, _state(user, now), last.get(user.id)) for user in users]


def find_user(session: Session, username: str) -> UserAccount:
    """The account named ``username``; raises ``NotFound``."""
    user = session.exec(
        select(UserAccount).where(col(UserAccount.username) == username.strip().lower())
    ).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def _active_admins(session: Session) -> int:
    return len(
        session.exec(
            select(UserAccount.id).where(
                col(UserAccount.role) == "admin", col(UserAccount.disabled_at).is_(None)
            )
        ).all()
    )


def _keeps_an_admin(session: Session, user: UserAccount, by: str) -> None:
    if user.username == by.strip().lower():
        raise Conflict("an administrator cannot disable their own account or change their role")
    if user.role == "admin" and user.disabled_at is None and _active_admins(session) <= 1:
        raise Conflict("the node's last active administrator stays one")


def disable_account(
    session: Session, username: str, *, by: str, now: datetime | None = None
) -> UserAccount:
    """Disable an account as administrator ``by`` (``registry.accounts.disable_user``:
    it can no longer sign in, its sessions end). Raises ``NotFound``, or
    ``Conflict`` for the administrator's own account or the last active one."""
    user = find_user(session, username)
    _keeps_an_admin(session, user, by)
    return disable_user(session, user.username, now=now)


def enable_user(session: Session, username: str, *, now: datetime | None = None) -> UserAccount:
    """Let a disabled account sign in again (with the password it had; a reset makes a
    new one): its token row counts again and any lock-out is lifted. Raises
    ``NotFound``, or ``Conflict`` if it is not disabled."""
    user = find_user(session, username)
    if user.disabled_at is None:
        raise Conflict(f"the account {user.username} is not disabled")
    user.disabled_at, user.failures, user.locked_until, user.last_failure_at = None, 0, None, None
    token = session.get(ApiToken, user.token_id)
    if token is not None:
        token.revoked_at = None
    session.flush()
    return user


def change_role(
    session: Session,
    username: str,
    *,
    role: str,
    by: str,
    company_code: str | None = None,
    company_name: str | None = None,
) -> UserAccount:
    """Give an account another role; an employer's (``verifier``) names its company,
    other roles none. The account's token row takes the role too, so what the
    person does next is recorded under it. Raises ``NotFound``, ``InvalidInput``
    (naming the field) or ``Conflict`` (the administrator's own account, the last
    active administrator)."""
    user = find_user(session, username)
    try:
        role = parse_role(session, role)
    except (InvalidInput, NotFound) as exc:
        raise InvalidInput(exc.message, errors=(FieldError("role", exc.message),)) from exc
    if role == "federation":
        message = "federation is a node's role, not a person's: make a token"
        raise InvalidInput(message, errors=(FieldError("role", message),))
    if role == "verifier":
        if not company_code:
            message = "an employer's account names its company's credit code"
            raise InvalidInput(message, errors=(FieldError("company_code", message),))
        try:
            company_code = parse_credit_code(company_code).code
        except InvalidInput as exc:
            raise InvalidInput(
                exc.message, errors=(FieldError("company_code", exc.message),)
            ) from exc
        company_name = (company_name or "").strip() or None
        if company_name is not None and len(company_name) > 200:
            message = "a company name has at most 200 characters"
            raise InvalidInput(message, errors=(FieldError("company_name", message),))
    else:
        company_code = company_name = None
    if role != user.role:
        _keeps_an_admin(session, user, by)
    user.role, user.company_code, user.company_name = role, company_code, company_name
    token = session.get(ApiToken, user.token_id)
    if token is not None:
        token.role = role
    session.flush()
    return user

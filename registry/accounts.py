"""People's accounts for the web pages: who they are, their passwords, their sessions.

Machines keep using bearer tokens (``registry.tokens``); a person signs in with a
password and gets a session. An account carries one role (``issuer:CN-xx``,
``verifier``, ``enforcement`` or ``admin``); an employer's (``verifier``) names its
company by its unified social credit code. Each account has a token row of its own
whose secret is never made (``UserAccount.token_id``): what the person does through
the pages is recorded under it, as a token's use is, so the access audit names the
person.

Passwords are kept only as Argon2id hashes (``argon2-cffi``'s defaults: 64 MiB, three
passes). Sign-in slows down and then locks (``SignInPolicy``): after a refused try,
the next is refused unanswered until ``delay`` has passed, doubling with each refusal
in a row; at ``lock_after`` refusals in a row the account is locked for
``lock_minutes``. A name nobody has gets the same answer as a wrong password, after the
same work. Every sign-in tried and every sign-out is recorded (``SignInEvent``).
Sessions are kept as the SHA-256 of their cookie; disabling an account or resetting
its password ends them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.errors import Conflict, FieldError, InvalidInput, NotFound
from registry.ids import parse_credit_code
from registry.storage.models import ApiToken, SignInEvent, UserAccount, WebSession
from registry.tokens import parse_role

__all__ = [
    "SESSION_HOURS",
    "SignIn",
    "SignInPolicy",
    "create_user",
    "disable_user",
    "end_session",
    "list_users",
    "reset_password",
    "session_user",
    "sign_in",
    "sign_out",
    "start_session",
]

SESSION_HOURS = 8
"""How long a session lasts: a working day."""

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
_MIN_PASSWORD = 10
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Checked when a name is unknown, so that it takes the time a wrong password
    takes; made on first use (a tenth of a second), not when the module is imported."""
    return _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignInPolicy:
    """How sign-in slows down and locks (``registry.settings`` sets them)."""

    delay_seconds: float = 1.0
    lock_after: int = 5
    lock_minutes: int = 15


@dataclass(frozen=True)
class SignIn:
    """How a sign-in ended: the account (signed in), or the outcome that refused it
    and, where waiting helps, until when."""

    outcome: str
    user: UserAccount | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "signed-in"


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _hash_of(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


def _invalid(field: str, message: str) -> InvalidInput:
    """``InvalidInput`` naming the field it is about (a form shows it beside it)."""
    return InvalidInput(message, errors=(FieldError(field, message),))


def _password(password: str | None) -> tuple[str, str]:
    """The password (given, or made: 16 characters) and its Argon2id hash."""
    if password is None:
        password = secrets.token_urlsafe(12)
    if len(password) < _MIN_PASSWORD:
        raise _invalid("password", f"a password has at least {_MIN_PASSWORD} characters")
    if len(password) > 256:
        raise _invalid("password", "a password has at most 256 characters")
    return password, _HASHER.hash(password)


def _role(session: Session, role: str) -> str:
    try:
        parsed = parse_role(session, role)
    except (InvalidInput, NotFound) as exc:
        raise _invalid("role", exc.message) from exc
    if parsed == "federation":
        raise _invalid("role", "federation is a node's role, not a person's: make a token")
    return parsed


def create_user(
    session: Session,
    username: str,
    *,
    role: str,
    display_name: str | None = None,
    company_code: str | None = None,
    company_name: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> tuple[UserAccount, str]:
    """Make an account; returns it and its password (made if not given), shown only
    now. An employer's account (``verifier``) must name its company's credit code, and
    only it may. Raises ``InvalidInput`` or ``Conflict`` (the name is taken)."""
    now = _now(now)
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise _invalid(
            "username",
            "a user name has 3 to 64 characters: lower-case letters, digits, '.', '_' or "
            "'-', beginning with a letter or digit",
        )
    role = _role(session, role)
    display_name = (display_name or username).strip()
    if not 0 < len(display_name) <= 100:
        raise _invalid("display_name", "a display name has 1 to 100 characters")
    if role == "verifier":
        if not company_code:
            raise _invalid("company_code", "an employer's account names its company's credit code")
        try:
            company_code = parse_credit_code(company_code).code
        except InvalidInput as exc:
            exc.errors = exc.errors or (FieldError("company_code", exc.message),)
            raise
        company_name = (company_name or "").strip() or None
        if company_name is not None and len(company_name) > 200:
            raise _invalid("company_name", "a company name has at most 200 characters")
    elif company_code or company_name:
        raise _invalid("role", "only an employer's account (verifier) names a company")
    if session.exec(select(UserAccount.id).where(col(UserAccount.username) == username)).first():
        raise Conflict(f"the user name {username} is taken")
    password, hashed = _password(password)
    # The account's own token row: its secret is never made, so it cannot be presented.
    token = ApiToken(
        token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        role=role,
        name=f"user {username}",
        created_at=now,
    )
    session.add(token)
    session.flush()
    user = UserAccount(
        username=username,
        display_name=display_name,
        role=role,
        company_code=company_code,
        company_name=company_name,
        password_hash=hashed,
        token_id=_id(token.id),
        created_at=now,
        password_set_at=now,
    )
    session.add(user)
    session.flush()
    return user, password


def list_users(session: Session) -> list[UserAccount]:
    """Every account, in the order they were made."""
    return list(session.exec(select(UserAccount).order_by(col(UserAccount.id))))


def _user(session: Session, username: str) -> UserAccount:
    user = session.exec(
        select(UserAccount).where(col(UserAccount.username) == username.strip().lower())
    ).first()
    if user is None:
        raise NotFound(f"no user {username}")
    return user


def _end_sessions(session: Session, user: UserAccount, now: datetime) -> None:
    session.execute(
        update(WebSession)
        .where(col(WebSession.user_id) == user.id, col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )


def disable_user(session: Session, username: str, *, now: datetime | None = None) -> UserAccount:
    """Disable an account: it can no longer sign in, its sessions end, and its token
    row is revoked. Raises ``NotFound``."""
    now = _now(now)
    user = _user(session, username)
    if user.disabled_at is None:
        user.disabled_at = now
        token = session.get(ApiToken, user.token_id)
        if token is not None and token.revoked_at is None:
            token.revoked_at = now
        _end_sessions(session, user, now)
        session.flush()
    return user


def reset_password(
    session: Session, username: str, *, password: str | None = None, now: datetime | None = None
) -> tuple[UserAccount, str]:
    """Set a new password (made if not given), lift a lock-out, end the account's
    sessions; returns the account and the password. Raises ``NotFound``."""
    now = _now(now)
    user = _user(session, username)
    password, user.password_hash = _password(password)
    user.password_set_at, user.failures, user.locked_until = now, 0, None
    user.last_failure_at = None
    _end_sessions(session, user, now)
    session.flush()
    return user, password


def _id(value: int | None) -> int:
    """A row's id, once flushed."""
    if value is None:
        raise RuntimeError("the row has no id: flush it first")
    return value


def _record(
    session: Session,
    username: str,
    outcome: str,
    user: UserAccount | None,
    *,
    client: str | None,
    now: datetime,
) -> None:
    session.add(
        SignInEvent(
            at=now,
            username=username[:64],
            user_id=user.id if user is not None else None,
            outcome=outcome,
            client=(client or None) and client[:64],
        )
    )
    session.flush()


def _wait_until(user: UserAccount, policy: SignInPolicy) -> datetime | None:
    """Until when a try is refused unanswered: the lock, or the slow-down after the
    refusals in a row so far (``delay``, doubled for each after the first)."""
    if user.locked_until is not None:
        return user.locked_until
    if user.failures and user.last_failure_at is not None:
        delay = policy.delay_seconds * 2 ** (user.failures - 1)
        return user.last_failure_at + timedelta(seconds=delay)
    return None


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    policy: SignInPolicy,
    client: str | None = None,
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in and record it. Refusals: ``unknown-user`` and
    ``wrong-password`` (which a page must not tell apart), ``locked`` (too soon after
    refusals, or locked out: ``retry_at`` says until when) and ``disabled``."""
    moment = now or datetime.now(UTC)
    now = _now(now)
    name = username.strip().lower()[:64]
    user = session.exec(select(UserAccount).where(col(UserAccount.username) == name)).first()
    if user is None:
        _matches(_dummy_hash(), password)
        _record(session, name, "unknown-user", None, client=client, now=now)
        return SignIn("unknown-user")
    waiting = _wait_until(user, policy)
    if waiting is not None and moment < waiting:
        _record(session, name, "locked", user, client=client, now=now)
        return SignIn("locked", retry_at=waiting)
    if user.locked_until is not None:  # the lock has run out: a fresh start
        user.locked_until, user.failures = None, 0
    if not _matches(user.password_hash, password):
        user.failures += 1
        user.last_failure_at = moment
        if user.failures >= policy.lock_after:
            user.locked_until = now + timedelta(minutes=policy.lock_minutes)
            user.failures = 0
        _record(session, name, "wrong-password", user, client=client, now=now)
        return SignIn("wrong-password", retry_at=_wait_until(user, policy))
    user.failures, user.last_failure_at = 0, None
    if user.disabled_at is not None:
        _record(session, name, "disabled", user, client=client, now=now)
        return SignIn("disabled")
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    _record(session, name, "signed-in", user, client=client, now=now)
    return SignIn("signed-in", user)


def _matches(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def start_session(session: Session, user: UserAccount, *, now: datetime | None = None) -> str:
    """A new session for a signed-in account; returns the cookie's value (kept only
    as its hash)."""
    now = _now(now)
    cookie = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_hash_of(cookie),
            user_id=_id(user.id),
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    session.flush()
    return cookie


def session_user(
    session: Session, cookie: str, *, now: datetime | None = None
) -> UserAccount | None:
    """The account a session cookie stands for, or ``None`` (unknown, ended, expired,
    or its account disabled)."""
    if not 20 <= len(cookie) <= 100:
        return None
    now = now or datetime.now(UTC)
    row = session.get(WebSession, _hash_of(cookie))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(UserAccount, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return user


def end_session(session: Session, cookie: str, *, now: datetime | None = None) -> None:
    """End a session (nothing if it is unknown or ended)."""
    row = session.get(WebSession, _hash_of(cookie)) if len(cookie) <= 100 else None
    if row is not None and row.ended_at is None:
        row.ended_at = _now(now)
        session.flush()


def sign_out(
    session: Session, cookie: str, *, client: str | None = None, now: datetime | None = None
) -> None:
    """End the session and record the sign-out."""
    now = _now(now)
    user = session_user(session, cookie, now=now)
    end_session(session, cookie, now=now)
    if user is not None:
        _record(session, user.username, "signed-out", user, client=client, now=now)

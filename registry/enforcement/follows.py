"""Companies an inspector follows, and the changes about them: webhooks for the
inspector who has no server to receive them.

A follow belongs to the inspector's account and names a company by its credit code;
no one else sees or cancels it (another account is told there is no such follow,
``NotFound``). The changes about the companies an account follows are read from the
transparency logs, as the change feed (``registry.enforcement.feed``) carries them:
every listing that names a followed company (as the listed organisation) and every
signed change of such a listing, newest first. A cancelled follow shows nothing more.
What is new is what the logs took in since the inspector last read the changes: each
log's size then is kept (``FollowReading``) and moves when they read them again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.credentials import CredentialType
from registry.errors import FieldError, InvalidInput, NotFound
from registry.ids import parse_credit_code
from registry.storage.db import PREPARED
from registry.storage.models import (
    FollowedCompany,
    FollowReading,
    LogEntry,
    RecordParty,
    StatusChangeRow,
    StoredCredential,
)
from registry.tlog.proofs import log_heads

__all__ = [
    "MAX_CHANGES",
    "MAX_FOLLOWS",
    "FollowedChange",
    "FollowedChanges",
    "cancel_follow",
    "follow_company",
    "followed_changes",
    "follows_of",
    "mark_read",
]

MAX_FOLLOWS = 1000
"""Companies one account follows at most."""
MAX_CHANGES = 200
"""Changes one reading shows at most, the newest."""
_MAX_NAME = 200
_MAX_NOTE = 500


def follow_company(
    session: Session,
    user_id: int,
    *,
    credit_code: str,
    name: str | None = None,
    note: str | None = None,
    now: datetime,
) -> FollowedCompany:
    """Follow a company from now on. The first follow of an account marks everything
    the logs hold now as read. The caller commits.

    Raises ``InvalidInput`` naming the field for a credit code that is not one (a
    code whose check character fails is taken: an early pilot code may), a name or
    note too long, a company already followed, or too many follows."""
    errors: list[FieldError] = []
    code = ""
    try:
        code = parse_credit_code(credit_code).code
    except InvalidInput as exc:
        errors.append(FieldError("credit_code", exc.message))
    name = (name or "").strip() or None
    note = (note or "").strip() or None
    if name is not None and len(name) > _MAX_NAME:
        errors.append(FieldError("name", f"a name has at most {_MAX_NAME} characters"))
    if note is not None and len(note) > _MAX_NOTE:
        errors.append(FieldError("note", f"a note has at most {_MAX_NOTE} characters"))
    active = _active(session, user_id)
    if code and any(f.credit_code == code for f in active):
        errors.append(FieldError("credit_code", "this company is followed already"))
    if len(active) >= MAX_FOLLOWS:
        errors.append(FieldError("credit_code", f"an account follows at most {MAX_FOLLOWS}"))
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=tuple(errors))
    if session.get(FollowReading, user_id) is None:
        session.add(FollowReading(user_id=user_id, seen=_sizes(session), read_at=now))
    followed = FollowedCompany(
        user_id=user_id, credit_code=code, name=name, note=note, created_at=now
    )
    session.add(followed)
    session.flush()
    return followed


def _active(session: Session, user_id: int) -> list[FollowedCompany]:
    return list(
        session.exec(
            select(FollowedCompany)
            .where(
                col(FollowedCompany.user_id) == user_id,
                col(FollowedCompany.cancelled_at).is_(None),
            )
            .order_by(col(FollowedCompany.created_at).desc(), col(FollowedCompany.id).desc())
        )
    )


def follows_of(session: Session, user_id: int) -> list[FollowedCompany]:
    """The companies an account follows now, the latest followed first."""
    return _active(session, user_id)


def cancel_follow(session: Session, user_id: int, follow_id: int, *, now: datetime) -> None:
    """Stop following. Raises ``NotFound`` for a follow that is not the account's or
    is cancelled already. The caller commits."""
    followed = session.get(FollowedCompany, follow_id)
    if followed is None or followed.user_id != user_id or followed.cancelled_at is not None:
        raise NotFound(f"no follow {follow_id}")
    followed.cancelled_at = now
    session.add(followed)


@dataclass(frozen=True)
class FollowedChange:
    """A change about a followed company: where the log holds it, what it is
    (``listing``, or ``listing-change`` with its action), the day it takes effect, the
    listing, the company, and whether it is new since the account last read."""

    authority: str
    leaf_index: int
    recorded_at: datetime
    kind: str
    credential_id: str
    listing_id: str
    action: str | None
    effective_on: date | None
    credit_code: str
    company: str
    decision_number: str | None
    new: bool


@dataclass(frozen=True)
class FollowedChanges:
    """The newest changes about the companies an account follows, and when it last
    read them (``None``: never)."""

    changes: list[FollowedChange]
    read_at: datetime | None


_LISTED: Any = (
    sa.select(col(RecordParty.credential_id), col(RecordParty.credit_code), col(RecordParty.name))
    .join(StoredCredential, col(StoredCredential.id) == col(RecordParty.credential_id))
    .join(
        FollowedCompany,
        (col(FollowedCompany.credit_code) == col(RecordParty.credit_code))
        & (col(FollowedCompany.user_id) == sa.bindparam("user_id"))
        & col(FollowedCompany.cancelled_at).is_(None),
    )
    .where(col(StoredCredential.type) == CredentialType.LISTING)
)


def _entries(listings: list[str]) -> Any:
    return (
        sa.select(
            col(LogEntry.authority_code),
            col(LogEntry.leaf_index),
            col(LogEntry.recorded_at),
            col(StoredCredential.id),
            col(StoredCredential.canonical),
            col(StatusChangeRow.target_id),
            col(StatusChangeRow.action),
            col(StatusChangeRow.effective_on),
        )
        .join(StoredCredential, col(StoredCredential.id) == col(LogEntry.credential_id))
        .outerjoin(StatusChangeRow, col(StatusChangeRow.credential_id) == col(StoredCredential.id))
        .where(
            col(StoredCredential.id).in_(listings) | col(StatusChangeRow.target_id).in_(listings)
        )
        .order_by(col(LogEntry.recorded_at).desc(), col(LogEntry.leaf_index).desc())
        .limit(MAX_CHANGES)
    )


def followed_changes(session: Session, user_id: int) -> FollowedChanges:
    """The newest changes (at most ``MAX_CHANGES``) about the companies the account
    follows now, each marked new if the logs took it in after the account last read
    them. Read it in one snapshot."""
    reading = session.get(FollowReading, user_id)
    seen: dict[str, int] = json.loads(reading.seen) if reading is not None else {}
    connection = session.connection()
    listed: dict[str, tuple[str, str]] = {}
    for credential_id, code, name in connection.execute(_LISTED, {"user_id": user_id}):
        listed.setdefault(credential_id, (code, name))
    if not listed:
        return FollowedChanges([], reading.read_at if reading else None)
    rows = connection.execute(_entries(sorted(listed)).execution_options(**PREPARED))
    changes = []
    for row in rows:
        listing_id = row.target_id or row.id
        code, name = listed[listing_id]
        subject = json.loads(row.canonical)["credentialSubject"]
        number = subject.get("decisionNumber") or subject.get("listingDecisionNumber")
        changes.append(
            FollowedChange(
                authority=row.authority_code,
                leaf_index=row.leaf_index,
                recorded_at=row.recorded_at,
                kind="listing-change" if row.target_id else "listing",
                credential_id=row.id,
                listing_id=listing_id,
                action=row.action,
                # A new listing takes effect on its listing date.
                effective_on=row.effective_on
                if row.target_id
                else date.fromisoformat(subject["listedOn"]),
                credit_code=code,
                company=name,
                decision_number=number,
                new=row.leaf_index >= seen.get(row.authority_code, 0),
            )
        )
    # Newest first: by time across logs, by position within one (as the feed, reversed).
    changes.sort(key=lambda c: (c.recorded_at, c.authority, c.leaf_index), reverse=True)
    return FollowedChanges(changes, reading.read_at if reading else None)


def mark_read(session: Session, user_id: int, *, now: datetime) -> None:
    """Everything the logs hold now is read: what comes after is new. The caller
    commits."""
    reading = session.get(FollowReading, user_id)
    if reading is None:
        reading = FollowReading(user_id=user_id, seen=_sizes(session), read_at=now)
    else:
        reading.seen, reading.read_at = _sizes(session), now
    session.add(reading)


def _sizes(session: Session) -> str:
    heads = log_heads(session)
    return json.dumps({authority: head.size for authority, head in sorted(heads.items())})

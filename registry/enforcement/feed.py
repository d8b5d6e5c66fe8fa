"""The change feed: every new listing, registration and state change, in log order.

The feed reads the transparency logs, so it is exactly what the authorities signed
and logged, in the order each log holds it: a log is appended to one transaction at
a time, and its head moves in the same transaction, so every entry below the head's
size (read in the same snapshot) is committed and none can appear there later. The
logs of the peers this node mirrors (``registry.federation.mirror``) are read alike:
a batch's entries and the head move in one transaction too. The cursor is each log's
next position; a consumer that keeps the ``next`` cursor of each page misses nothing
and sees nothing twice, across restarts on either side, and a log the cursor does not
name is read from its start. Within a page, entries of different logs are merged by
the time they were recorded; that time is never a cursor, since a peer's entry is
mirrored later than its time (the peer's checkpoint's), behind entries of other logs
already read.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.storage.db import PREPARED
from registry.storage.models import LogEntry, Record, StatusChangeRow, StoredCredential
from registry.tlog.proofs import log_heads

__all__ = [
    "FEED_TYPES",
    "MAX_FEED_PAGE",
    "FeedItem",
    "FeedPage",
    "end_cursor",
    "read_changes",
]

FEED_TYPES = (CredentialType.LISTING, CredentialType.REGISTRATION)
"""The records the feed carries, with every state change of them."""

MAX_FEED_PAGE = 1000
_WINDOW = 10_000  # log entries read per log and page, relevant or not

_TARGET = aliased(Record)
_FEED: Any = (  # a Select of 9 columns
    sa.select(
        col(LogEntry.leaf_index),
        col(LogEntry.recorded_at),
        col(StoredCredential.id),
        col(StoredCredential.type),
        col(StoredCredential.canonical),
        col(StatusChangeRow.target_id),
        col(StatusChangeRow.action),
        col(StatusChangeRow.effective_on),
        col(_TARGET.type).label("target_type"),
    )
    .join(StoredCredential, col(StoredCredential.id) == col(LogEntry.credential_id))
    .outerjoin(StatusChangeRow, col(StatusChangeRow.credential_id) == col(StoredCredential.id))
    .outerjoin(_TARGET, col(_TARGET.credential_id) == col(StatusChangeRow.target_id))
    .where(
        col(LogEntry.authority_code) == sa.bindparam("authority"),
        col(LogEntry.leaf_index) >= sa.bindparam("start"),
        col(LogEntry.leaf_index) < sa.bindparam("end"),
        sa.or_(
            col(StoredCredential.type).in_(FEED_TYPES),
            col(_TARGET.type).in_(FEED_TYPES),
        ),
    )
    .order_by(col(LogEntry.leaf_index))
    .limit(sa.bindparam("limit"))
    .execution_options(**PREPARED)
)


@dataclass(frozen=True)
class FeedItem:
    """One change: which log holds it where, what it is, and the signed credential."""

    authority: str
    leaf_index: int
    recorded_at: datetime
    kind: str
    credential_id: str
    record_type: str
    target: str | None
    action: str | None
    effective_on: str | None
    canonical: str

    def as_json(self) -> dict[str, Any]:
        """The item as the API and the webhooks carry it."""
        value: dict[str, Any] = {
            "id": f"{self.authority}/{self.leaf_index}",
            "authority": self.authority,
            "leafIndex": self.leaf_index,
            "recordedAt": self.recorded_at.isoformat(),
            "kind": self.kind,
            "recordType": self.record_type,
            "credentialId": self.credential_id,
        }
        if self.target is not None:
            value["target"] = self.target
            value["action"] = self.action
            value["effectiveOn"] = self.effective_on
        value["credential"] = json.loads(self.canonical)
        return value


@dataclass(frozen=True)
class FeedPage:
    """A page of changes, the cursor to ask with next, and whether more is waiting."""

    items: list[FeedItem]
    next: str
    more: bool


def _encode(positions: dict[str, int]) -> str:
    text = json.dumps(dict(sorted(positions.items())), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


_MAX_CURSOR = 2000  # characters: far more than one position per log needs


def _decode(cursor: str) -> dict[str, int]:
    if len(cursor) > _MAX_CURSOR:
        raise InvalidInput("the cursor is not one this feed gave")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput("the cursor is not one this feed gave") from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in value.items()
    ):
        raise InvalidInput("the cursor is not one this feed gave")
    return value


def end_cursor(session: Session) -> str:
    """The cursor at the end of every log: what comes after it is new."""
    return _encode({authority: head.size for authority, head in log_heads(session).items()})


def read_changes(session: Session, *, since: str | None, limit: int = 100) -> FeedPage:
    """The changes after ``since`` (``None``: from the start), at most ``limit``.

    Raises ``InvalidInput`` for a cursor this feed did not give, or one beyond a
    log's end. Read it in one snapshot (``begin_snapshot``).
    """
    if not 1 <= limit <= MAX_FEED_PAGE:
        raise InvalidInput(f"limit is between 1 and {MAX_FEED_PAGE}")
    heads = log_heads(session)
    positions = dict.fromkeys(heads, 0)
    if since is not None:
        given = _decode(since)
        unknown = sorted(set(given) - set(heads))
        if unknown:
            raise InvalidInput(f"the cursor names logs this node does not keep: {unknown}")
        beyond = sorted(a for a, at in given.items() if at > heads[a].size)
        if beyond:
            raise InvalidInput(f"the cursor is beyond the end of the log of {beyond}")
        positions.update(given)
    items: list[FeedItem] = []
    more = False
    connection = session.connection()
    for authority in sorted(heads):
        start, size = positions[authority], heads[authority].size
        end = min(start + _WINDOW, size)
        room = limit - len(items)
        if start >= end:
            continue
        if room <= 0:
            more = True
            continue
        rows = connection.execute(
            _FEED, {"authority": authority, "start": start, "end": end, "limit": room}
        ).all()
        for row in rows:
            items.append(_item(authority, row))
        if len(rows) == room:
            positions[authority] = rows[-1].leaf_index + 1
        else:
            positions[authority] = end
        more = more or positions[authority] < size
    items.sort(key=lambda item: (item.recorded_at, item.authority, item.leaf_index))
    return FeedPage(items, _encode(positions), more)


def _item(authority: str, row: Any) -> FeedItem:
    changed = row.target_id is not None
    record_type = row.target_type if changed else row.type
    noun = "listing" if record_type == CredentialType.LISTING else "registration"
    return FeedItem(
        authority=authority,
        leaf_index=row.leaf_index,
        recorded_at=row.recorded_at,
        kind=f"{noun}-change" if changed else noun,
        credential_id=row.id,
        record_type=record_type,
        target=row.target_id,
        action=row.action,
        effective_on=row.effective_on.isoformat() if row.effective_on else None,
        canonical=row.canonical,
    )

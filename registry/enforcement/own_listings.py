"""An authority's own listings, as its console shows them: each with the days that
matter and what the law lets the authority do on the day asked.

The days come from the listing itself (``listedOn``, ``earliestRemovalOn``,
``expiresOn``) and its signed changes (``registry.enforcement.timeline``). What may be
done on a day follows ``registry.credentials.lifecycle``:

1. a listing withdrawn, revoked or superseded is final: nothing more;
2. an expired listing left the list by itself on its expiry date: nothing more;
3. a lifted listing may have its lift reversed (the repair was obtained by fraud) or
   be withdrawn (the penalty decision was overturned);
4. a listing in force (or not yet in force) may always be corrected or withdrawn;
   from its earliest removal date on, credit repair may also lift it early.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from registry.credentials import CredentialType
from registry.enforcement.measures import measure_labels
from registry.enforcement.timeline import ListingStatus, status_on
from registry.errors import FieldError, InvalidInput, NotFound
from registry.ids import name_key, parse_credit_code
from registry.storage.models import LogEntry, StatusChangeRow, StoredCredential

__all__ = [
    "LISTING_STATES",
    "ListingChange",
    "ListingsPage",
    "OwnListing",
    "listing_actions",
    "own_listing",
    "own_listings",
]

LISTING_STATES = ("in-force", "ended")
"""What the console filters by: listings in force (or not yet), and those that ended."""

_CURRENT = ("in-force", "not-yet-in-force")
_FINAL = ("withdrawn", "revoked", "superseded")
_MAX_WORDS = 8


@dataclass(frozen=True)
class ListingChange:
    """One signed change of a listing: what it did, from which day, why, by which decision."""

    credential_id: str
    action: str
    state_before: str
    state_after: str
    effective_on: date
    recorded_at: datetime
    reason: str | None
    decision_number: str | None
    cancelled: bool


@dataclass(frozen=True)
class OwnListing:
    """A listing as its authority sees it on one day: what it says, its status, and
    the actions (``registry.credentials.lifecycle.Action`` values, and ``correct``
    for a correction) the law allows that day."""

    credential_id: str
    authority: str
    subject: dict[str, Any]
    status: ListingStatus
    actions: tuple[str, ...]
    changes: tuple[ListingChange, ...] = field(default=())

    @property
    def listed(self) -> dict[str, Any]:
        """The listed organisation or person, as the credential names them."""
        value: dict[str, Any] = self.subject["listed"]
        return value

    @property
    def identifier(self) -> str:
        """The credit code of an organisation, the masked ID number of a person."""
        listed = self.listed
        if listed["kind"] == "organisation":
            return str(listed["creditCode"])
        return str(listed["identifier"]["masked"])

    @property
    def listed_on(self) -> date:
        """The first day in force."""
        return date.fromisoformat(self.subject["listedOn"])

    @property
    def earliest_removal_on(self) -> date:
        """The first day credit repair may lift it."""
        return date.fromisoformat(self.subject["earliestRemovalOn"])

    @property
    def expires_on(self) -> date:
        """The day it leaves the list by itself."""
        return date.fromisoformat(self.subject["expiresOn"])

    @property
    def measure_labels(self) -> list[str]:
        """Its coded measures, in Chinese."""
        return measure_labels(self.subject)


@dataclass(frozen=True)
class ListingsPage:
    """One page of an authority's listings, and how many there are in all."""

    entries: list[OwnListing]
    page: int
    pages: int
    total: int


def listing_actions(
    status: ListingStatus, *, earliest_removal_on: date, on: date
) -> tuple[str, ...]:
    """What the deciding authority may do to a listing of ``status`` on ``on``
    (the rules in the module's docstring, numbered alike)."""
    # 1. Final.
    if status.status in _FINAL:
        return ()
    # 2. Left the list by itself.
    if status.status == "expired":
        return ()
    # 3. Lifted by credit repair.
    if status.status == "lifted":
        return ("reverse-lift", "withdraw")
    # 4. In force, or not yet: credit repair only from the earliest removal date.
    if on >= earliest_removal_on and status.status == "in-force":
        return ("lift", "correct", "withdraw")
    return ("correct", "withdraw")


_CHANGES: Any = (
    sa.select(
        col(StatusChangeRow.target_id),
        col(StatusChangeRow.credential_id),
        col(StatusChangeRow.action),
        col(StatusChangeRow.state_before),
        col(StatusChangeRow.state_after),
        col(StatusChangeRow.effective_on),
        col(StatusChangeRow.recorded_at),
        col(StatusChangeRow.cancelled_by),
        col(StoredCredential.canonical),
    )
    .join(StoredCredential, col(StoredCredential.id) == col(StatusChangeRow.credential_id))
    .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StatusChangeRow.credential_id))
    .order_by(
        col(StatusChangeRow.recorded_at),
        # Within one second, the listing's log says which change came first.
        col(LogEntry.leaf_index),
        col(StatusChangeRow.credential_id),
    )
)


def _changes(session: Session, ids: Sequence[str]) -> dict[str, list[ListingChange]]:
    found: dict[str, list[ListingChange]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = session.connection().execute(
            _CHANGES.where(col(StatusChangeRow.target_id).in_(chunk))
        )
        for row in rows:
            subject = json.loads(row.canonical)["credentialSubject"]
            found.setdefault(row.target_id, []).append(
                ListingChange(
                    row.credential_id,
                    row.action,
                    row.state_before,
                    row.state_after,
                    row.effective_on,
                    row.recorded_at,
                    subject.get("reason"),
                    subject.get("decisionNumber"),
                    row.cancelled_by is not None,
                )
            )
    return found


def _judged(
    credential_id: str, authority: str, canonical: str, changes: list[ListingChange], on: date
) -> OwnListing:
    subject = json.loads(canonical)["credentialSubject"]
    # A cancelled change never applies; its cancellation changes nothing.
    applying = [
        (c.effective_on, c.state_after)
        for c in changes
        if not c.cancelled and c.action != "cancel-scheduled"
    ]
    status = status_on(subject, applying, on)
    actions = listing_actions(
        status, earliest_removal_on=date.fromisoformat(subject["earliestRemovalOn"]), on=on
    )
    return OwnListing(credential_id, authority, subject, status, actions, tuple(changes))


def _names(listing: OwnListing) -> list[str]:
    return [name_key(listing.listed["name"])] + [
        name_key(person["name"]) for person in listing.subject.get("relatedPersons", [])
    ]


def _query_errors(words: Sequence[str], state: str | None, page: int) -> list[FieldError]:
    errors = []
    if len(words) > _MAX_WORDS:
        errors.append(FieldError("q", f"search with at most {_MAX_WORDS} words"))
    if state is not None and state not in LISTING_STATES:
        errors.append(FieldError("state", "the state is in force or ended"))
    if page < 1:
        errors.append(FieldError("page", "pages are numbered from 1"))
    return errors


def own_listings(
    session: Session,
    authority: str,
    *,
    on: date,
    words: Sequence[str] = (),
    credit_code: str | None = None,
    state: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> ListingsPage:
    """The listings ``authority`` decided, newest listing first, judged on ``on``: those
    whose listed party or related persons' names hold every one of ``words`` (width,
    spacing and case aside), of one ``credit_code``, in one ``state`` (``LISTING_STATES``),
    page ``page`` (past the last: the last). Raises ``InvalidInput`` naming each field
    that is wrong."""
    errors = _query_errors(words, state, page)
    code = None
    if credit_code:
        try:
            code = parse_credit_code(credit_code).code
        except InvalidInput as exc:
            errors.append(FieldError("q", exc.message))
    if errors:
        raise InvalidInput("; ".join(e.message for e in errors), errors=tuple(errors))
    rows = (
        session.connection()
        .execute(
            sa.select(col(StoredCredential.id), col(StoredCredential.canonical)).where(
                col(StoredCredential.type) == CredentialType.LISTING,
                col(StoredCredential.issuer_code) == authority,
            )
        )
        .all()
    )
    changes = _changes(session, [row.id for row in rows])
    keys = [key for key in (name_key(word) for word in words) if key]
    kept = []
    for row in rows:
        listing = _judged(row.id, authority, row.canonical, changes.get(row.id, []), on)
        current = listing.status.status in _CURRENT
        if state is not None and current != (state == "in-force"):
            continue
        if code is not None and listing.listed.get("creditCode") != code:
            continue
        names = _names(listing)
        if all(any(key in name for name in names) for key in keys):
            kept.append(listing)
    kept.sort(key=lambda x: (x.listed_on, x.credential_id), reverse=True)
    pages = max(1, -(-len(kept) // per_page))
    number = min(page, pages)
    start = (number - 1) * per_page
    return ListingsPage(kept[start : start + per_page], number, pages, len(kept))


def own_listing(session: Session, authority: str, credential_id: str, *, on: date) -> OwnListing:
    """One listing ``authority`` decided, judged on ``on``, with its whole history
    (cancelled changes included, marked). Raises ``NotFound`` for any other id."""
    stored = session.get(StoredCredential, credential_id)
    if stored is None or stored.type != CredentialType.LISTING or stored.issuer_code != authority:
        raise NotFound(f"{authority} decided no listing {credential_id}")
    changes = _changes(session, [credential_id]).get(credential_id, [])
    return _judged(credential_id, authority, stored.canonical, changes, on)

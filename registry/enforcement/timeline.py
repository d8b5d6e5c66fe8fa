"""Whether a listing is in force on a day: computed from its dates and its changes.

The law fixes the dates, so no job runs at midnight to expire anything; any day,
past or future, is answered the same way:

- a listing is in force from its listing date;
- it ends by itself on its expiry date, the day after its three years (counted as
  the Civil Code counts periods: ``registry.calendar``), which is the first day it
  is no longer in force;
- credit repair lifts it from the lift's effective date, never before the earliest
  removal date (``registry.credentials.lifecycle`` refuses an earlier lift);
- a reversed lift (the repair was obtained by fraud) restores it from the
  reversal's effective date; dated on the lift's own day, it is as if never lifted;
- a withdrawal (the penalty decision was overturned) removes it from its effective
  date as if it had never been in force: dated on the listing date, the listing was
  never in force at all;
- a revocation (a correction replaced it) removes it from its effective date.

Changes apply in the order they were recorded, each from its effective date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["TERMS", "ListingStatus", "listing_status", "listing_terms", "status_on"]

TERMS = (
    "legalBasis",
    "penaltyDecisionNumber",
    "listingDecisionNumber",
    "listedOn",
    "earliestRemovalOn",
    "expiresOn",
    "measures",
)
"""What a listing decided, as its credential states it: basis, decisions, dates, measures."""


@dataclass(frozen=True)
class ListingStatus:
    """A listing on one day.

    ``status`` is ``in-force``, ``not-yet-in-force``, ``lifted``, ``expired``,
    ``withdrawn``, ``revoked`` or ``superseded``; ``since`` is the day that status began (for
    ``not-yet-in-force``, the day it will come into force).
    """

    status: str
    since: date

    @property
    def in_force(self) -> bool:
        """Whether joint punishment applies on that day."""
        return self.status == "in-force"


def listing_status(
    *,
    listed_on: date,
    expires_on: date,
    changes: Sequence[tuple[date, str]],
    on: date,
) -> ListingStatus:
    """The listing's status on ``on``, from its dates and its ``changes``: each
    (effective day, state after: ``listed``, ``lifted``, ``withdrawn``, ``revoked``
    or ``superseded`` by a correction), in the order they were recorded."""
    state, since = "listed", listed_on
    for effective_on, after in changes:
        if effective_on <= on and after != state:
            state, since = after, effective_on
    if state in ("withdrawn", "revoked", "superseded"):
        return ListingStatus(state, since)
    if on < listed_on:
        return ListingStatus("not-yet-in-force", listed_on)
    if on >= expires_on:
        return ListingStatus("expired", expires_on)
    if state == "lifted":
        return ListingStatus("lifted", since)
    return ListingStatus("in-force", max(since, listed_on))


def status_on(
    subject: Mapping[str, Any], changes: Sequence[tuple[date, str]], on: date
) -> ListingStatus:
    """``listing_status`` with the dates a listing's ``credentialSubject`` states."""
    return listing_status(
        listed_on=date.fromisoformat(subject["listedOn"]),
        expires_on=date.fromisoformat(subject["expiresOn"]),
        changes=changes,
        on=on,
    )


def listing_terms(subject: Mapping[str, Any]) -> dict[str, Any]:
    """The ``TERMS`` of a listing's ``credentialSubject``, as it states them."""
    return {term: subject[term] for term in TERMS}

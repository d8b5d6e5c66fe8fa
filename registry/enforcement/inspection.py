"""What an inspector asks of the list, answered and recorded in the access audit.

A search and a bulk check each read the listings and add one entry to the access
audit (``registry.enforcement.audit``) in the same session, so the caller's one
commit stores both: an answer is never given for a question the audit does not
hold. On a node with a read replica (``registry.storage.replica``) the listings are
read there, and the entry still goes into the caller's session, on the primary, and
commits before the answer is sent. A question refused (a bad credit code, ID number,
name or province) is no question asked: it raises before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from registry.calendar import china_today
from registry.enforcement.audit import criteria_hash, record_access
from registry.enforcement.search import (
    Checked,
    CheckRow,
    ListingQuery,
    SearchResult,
    check_parties,
    search_listings,
)
from registry.ids import LookupSecrets, province
from registry.storage.replica import Reads
from registry.tlog.cache import SubtreeCache
from registry.tokens import Caller

__all__ = ["CheckQuery", "CheckResult", "check_audited", "search_audited"]


@dataclass(frozen=True)
class CheckQuery:
    """One bulk check: the rows (a string is a row already found invalid, answered
    as its error), the province where the inspection takes place (every listing
    binds there: it is checked, not a filter), only one authority's listings, and
    the day (default: today in China)."""

    rows: Sequence[CheckRow | str]
    region: str | None = None
    decided_by: str | None = None
    on: date | None = None


@dataclass(frozen=True)
class CheckResult:
    """Each row's answer, in order, and the day they were checked for."""

    on: date
    parties: list[Checked]


def search_audited(
    session: Session,
    query: ListingQuery,
    *,
    caller: Caller,
    lookup: LookupSecrets,
    node_secret: bytes,
    now: datetime,
    subtrees: SubtreeCache | None = None,
    reads: Reads | None = None,
) -> SearchResult:
    """``search_listings`` for the day asked (default: ``now``'s day in China), and
    its entry in the access audit: the criteria's keyed hash and how many listings
    were found. Raises ``InvalidInput`` for a bad credit code, ID number, name or
    province, writing nothing. Read it in one snapshot (``begin_snapshot``); the
    caller commits. With ``reads`` (a node's replica), the listings are read there
    and only the entry goes into ``session``, on the primary."""

    def search(source: Session) -> SearchResult:
        return search_listings(
            source,
            query,
            lookup=lookup,
            node_secret=node_secret,
            today=china_today(now),
            subtrees=subtrees,
        )

    result = search(session) if reads is None else reads.read(search, session=session)
    record_access(
        session,
        caller,
        action="blacklist-search",
        criteria=criteria_hash(result.criteria, node_secret=node_secret),
        rows=1,
        results=len(result.matches) + len(result.possible),
        now=now,
    )
    return result


def check_audited(
    session: Session,
    query: CheckQuery,
    *,
    caller: Caller,
    lookup: LookupSecrets,
    node_secret: bytes,
    now: datetime,
    reads: Reads | None = None,
) -> CheckResult:
    """``check_parties`` for the day asked (default: ``now``'s day in China), and
    its entry in the access audit: the keyed hash of the whole list checked, how
    many rows and how many of them are listed. Raises ``InvalidInput`` for an
    unknown province or too many rows, writing nothing. Read it in one snapshot
    (``begin_snapshot``); the caller commits. With ``reads`` (a node's replica), the
    listings are read there and only the entry goes into ``session``, on the primary."""
    on = query.on or china_today(now)
    if query.region is not None:
        province(query.region)  # checked: every listing binds there

    def check(source: Session) -> list[Checked]:
        return check_parties(
            source,
            query.rows,
            lookup=lookup,
            node_secret=node_secret,
            on=on,
            decided_by=query.decided_by,
        )

    checked = check(session) if reads is None else reads.read(check, session=session)
    criteria = {
        "by": "check",
        "rows": ",".join(c.key or "" for c in checked),
        "date": on.isoformat(),
        **({"decidedBy": query.decided_by} if query.decided_by else {}),
    }
    record_access(
        session,
        caller,
        action="blacklist-check",
        criteria=criteria_hash(criteria, node_secret=node_secret),
        rows=len(query.rows),
        results=sum(1 for c in checked if c.listings),
        now=now,
    )
    return CheckResult(on, checked)

"""Finding listings across the federation: by credit code, ID number or name.

A listing by any authority binds in every province, so a search reads every
authority's listings: those naming the party as the listed organisation or person,
and those naming a person as a related person (legal representative, principal,
...). By name, exact matches (``registry.ids.name_key``) and possible matches
(``name_core``: the same name once brackets, punctuation and the legal form are set
aside) come back apart, never mixed. Each listing comes with its status on the day
asked, its whole history of state changes, and a proof bundle: its inclusion proof
at its log's newest checkpoint, read from the same snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from registry.enforcement.timeline import ListingStatus, listing_status
from registry.errors import InvalidInput
from registry.ids import (
    lookup_key,
    mask_resident_id,
    name_core,
    name_key,
    parse_credit_code,
    parse_resident_id,
    province,
)
from registry.storage.db import PREPARED
from registry.storage.models import LogEntry, RecordParty, StatusChangeRow, StoredCredential
from registry.tlog.cache import SubtreeCache
from registry.verification.service import Head, log_heads, prove

__all__ = ["Found", "ListingQuery", "SearchResult", "search_listings"]

LISTING = "UntrustworthinessListing"


@dataclass(frozen=True)
class ListingQuery:
    """One search: exactly one of credit code, ID number or name; optionally the
    province where the inspection takes place (every listing binds there: it is
    checked and recorded, not a filter), only the listings one authority decided,
    and the day (default: today in China)."""

    credit_code: str | None = None
    id_number: str | None = None
    name: str | None = None
    region: str | None = None
    decided_by: str | None = None
    on: date | None = None


@dataclass(frozen=True)
class Change:
    """A state change of a listing, as its signed ``StatusChange`` records it."""

    credential_id: str
    action: str
    state_before: str
    state_after: str
    effective_on: date
    recorded_at: datetime
    reason: str | None
    decision_number: str | None


@dataclass
class Found:
    """A listing that names the party, how it names them, and its status that day."""

    credential_id: str
    authority: str
    canonical: str
    leaf_index: int | None
    role: str
    matched_name: str
    changes: list[Change] = field(default_factory=list)
    status: ListingStatus | None = None

    @property
    def document(self) -> dict[str, Any]:
        """The signed listing credential."""
        value: dict[str, Any] = json.loads(self.canonical)
        return value


@dataclass(frozen=True)
class SearchResult:
    """Listings in force on ``on``: ``matches`` name the party exactly, ``possible``
    only by a name that may be theirs. ``proofs`` holds each listing's inclusion
    proof (by credential id) and ``checkpoints`` each log's checkpoint."""

    on: date
    query: dict[str, str]
    matches: list[Found]
    possible: list[Found]
    checkpoints: dict[str, str]
    proofs: dict[str, tuple[int, int, list[bytes]]]


_CHANGE = aliased(StoredCredential)

_LISTINGS: Any = (  # a Select of 14 columns
    sa.select(
        col(StoredCredential.id),
        col(StoredCredential.issuer_code),
        col(StoredCredential.canonical),
        col(LogEntry.leaf_index),
        col(RecordParty.role),
        col(RecordParty.name),
        col(RecordParty.name_key),
        col(StatusChangeRow.credential_id).label("change_id"),
        col(StatusChangeRow.action),
        col(StatusChangeRow.state_before),
        col(StatusChangeRow.state_after),
        col(StatusChangeRow.effective_on),
        col(StatusChangeRow.recorded_at),
        col(_CHANGE.canonical).label("change_canonical"),
    )
    .join(RecordParty, col(RecordParty.credential_id) == col(StoredCredential.id))
    .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StoredCredential.id))
    .outerjoin(StatusChangeRow, col(StatusChangeRow.target_id) == col(StoredCredential.id))
    .outerjoin(_CHANGE, col(_CHANGE.id) == col(StatusChangeRow.credential_id))
    .where(col(StoredCredential.type) == LISTING)
    .order_by(
        col(StoredCredential.id),
        col(RecordParty.position),
        col(StatusChangeRow.recorded_at),
        col(StatusChangeRow.credential_id),
    )
)


def _criterion(query: ListingQuery, node_secret: bytes) -> tuple[Any, Any, dict[str, str]]:
    """The exact condition, the near one (by name only), and the query as answered
    (an ID number masked)."""
    given = [v for v in (query.credit_code, query.id_number, query.name) if v is not None]
    if len(given) != 1:
        raise InvalidInput("search by exactly one of credit_code, id_number or name")
    if query.credit_code is not None:
        code = parse_credit_code(query.credit_code).code
        return col(RecordParty.credit_code) == code, None, {"by": "credit-code", "creditCode": code}
    if query.id_number is not None:
        number = parse_resident_id(query.id_number)
        key = lookup_key(number, node_secret=node_secret)
        asked = {"by": "resident-id", "residentIdMasked": mask_resident_id(number)}
        return col(RecordParty.lookup_key) == key, None, asked
    name = (query.name or "").strip()
    if not name_core(name):
        raise InvalidInput("a name to search by has letters or characters in it")
    exact = col(RecordParty.name_key) == name_key(name)
    near = (col(RecordParty.name_core) == name_core(name)) & (
        col(RecordParty.name_key) != name_key(name)
    )
    return exact, near, {"by": "name", "name": name}


def _read(session: Session, condition: Any, decided_by: str | None) -> list[Found]:
    statement = _LISTINGS.where(condition)
    if decided_by is not None:
        statement = statement.where(col(StoredCredential.issuer_code) == decided_by)
    found: dict[str, Found] = {}
    for row in session.connection().execute(statement.execution_options(**PREPARED)):
        listing = found.get(row.id)
        if listing is None:
            listing = found[row.id] = Found(
                row.id, row.issuer_code, row.canonical, row.leaf_index, row.role, row.name
            )
        elif listing.role != row.role or listing.matched_name != row.name:
            continue  # named twice in one listing: once, in the first role it gives
        if row.change_id is not None and all(
            c.credential_id != row.change_id for c in listing.changes
        ):
            subject = json.loads(row.change_canonical)["credentialSubject"]
            listing.changes.append(
                Change(
                    row.change_id,
                    row.action,
                    row.state_before,
                    row.state_after,
                    row.effective_on,
                    row.recorded_at,
                    subject.get("reason"),
                    subject.get("decisionNumber"),
                )
            )
    return list(found.values())


def _in_force(listings: Sequence[Found], on: date) -> list[Found]:
    kept = []
    for listing in listings:
        subject = listing.document["credentialSubject"]
        listing.status = listing_status(
            listed_on=date.fromisoformat(subject["listedOn"]),
            expires_on=date.fromisoformat(subject["expiresOn"]),
            changes=[(c.effective_on, c.state_after) for c in listing.changes],
            on=on,
        )
        if listing.status.in_force:
            kept.append(listing)
    return sorted(kept, key=lambda f: (f.authority, f.credential_id))


def search_listings(
    session: Session,
    query: ListingQuery,
    *,
    node_secret: bytes,
    today: date,
    subtrees: SubtreeCache | None = None,
) -> SearchResult:
    """Every listing in force on the day asked that names the party, across the
    federation, with proofs. Raises ``InvalidInput`` for a bad credit code, ID
    number, name or province. Read it in one snapshot (``begin_snapshot``)."""
    region = province(query.region).iso if query.region is not None else None
    decided_by = province(query.decided_by).iso if query.decided_by is not None else None
    exact, near, asked = _criterion(query, node_secret)
    on = query.on or today
    if region:
        asked["region"] = region
    if decided_by:
        asked["decidedBy"] = decided_by
    asked["date"] = on.isoformat()
    matches = _in_force(_read(session, exact, decided_by), on)
    possible = _in_force(_read(session, near, decided_by), on) if near is not None else []
    heads: dict[str, Head] = log_heads(session)
    every = matches + possible
    evidence = prove(
        session, [(f.canonical, f.authority, f.leaf_index) for f in every], heads, subtrees
    )
    by_text = {logged.canonical: logged for logged in evidence.credentials}
    proofs = {
        found.credential_id: (
            by_text[found.canonical].leaf_index,
            by_text[found.canonical].tree_size,
            by_text[found.canonical].hashes,
        )
        for found in every
    }
    return SearchResult(on, asked, matches, possible, evidence.checkpoints, proofs)

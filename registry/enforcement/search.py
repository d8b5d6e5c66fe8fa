"""Finding listings across the federation: by credit code, ID number or name.

A listing by any authority binds in every province, so a search reads every
authority's listings: those naming the party as the listed organisation or person,
and those naming a person as a related person (principal, directly responsible
person, ...). A credit code or an ID number identifies the party: its hits are
matches. A name does not (the same names are common, a person's above all): every
hit by name, the same name (``registry.ids.name_key``), a near one (``name_core``:
the same once brackets, punctuation and the legal form are set aside) or one holding
every word given (``name_words``: ``矿业`` finds ``浙江丽水某矿业有限公司``), is a
possible match, never a match. Each listing comes with its status on the day
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

from registry.credentials import CredentialType
from registry.enforcement.timeline import ListingStatus, status_on
from registry.errors import InvalidInput, RegistryError
from registry.ids import (
    LookupSecrets,
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
from registry.tlog.proofs import Head, log_heads, prove

__all__ = [
    "CHECK_MISMATCH",
    "MAX_CHECK",
    "MAX_NAME_WORDS",
    "MIN_WORD",
    "CheckRow",
    "Checked",
    "Found",
    "ListingQuery",
    "SearchResult",
    "check_parties",
    "name_words",
    "read_listings",
    "search_listings",
]


CHECK_MISMATCH = "check-character-does-not-match"
"""How a search or a check says that a credit code's check character does not match:
probably mistyped, perhaps an early pilot code. It is still looked for, but finding
nothing under it is no clean "not listed"."""


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
    """A listing that names the party, how it names them, and its status that day.

    ``party`` is the party's credit code or lookup key, ``position`` where the
    listing first names them."""

    credential_id: str
    authority: str
    canonical: str
    leaf_index: int | None
    role: str
    matched_name: str
    party: str
    position: int
    changes: list[Change] = field(default_factory=list)
    status: ListingStatus | None = None

    @property
    def document(self) -> dict[str, Any]:
        """The signed listing credential."""
        value: dict[str, Any] = json.loads(self.canonical)
        return value


@dataclass(frozen=True)
class SearchResult:
    """Listings in force on ``on``: ``matches`` name the party by its credit code or
    ID number, ``possible`` only by a name that may be theirs (a search by name has
    no ``matches``). ``query`` is the question as answered (an
    ID number masked); ``criteria`` the same, normalised, with an ID number as its
    lookup key (what the access audit hashes). ``proofs`` holds each listing's
    inclusion proof (by credential id) and ``checkpoints`` each log's checkpoint."""

    on: date
    query: dict[str, str]
    criteria: dict[str, str]
    matches: list[Found]
    possible: list[Found]
    checkpoints: dict[str, str]
    proofs: dict[str, tuple[int, int, list[bytes]]]


_CHANGE = aliased(StoredCredential)
_CHANGE_ENTRY = aliased(LogEntry)

_LISTINGS: Any = (  # a Select of 17 columns
    sa.select(
        col(StoredCredential.id),
        col(StoredCredential.issuer_code),
        col(StoredCredential.canonical),
        col(LogEntry.leaf_index),
        col(RecordParty.role),
        col(RecordParty.position),
        col(RecordParty.name),
        col(RecordParty.name_key),
        col(RecordParty.credit_code),
        col(RecordParty.lookup_key),
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
    .outerjoin(
        StatusChangeRow,
        (col(StatusChangeRow.target_id) == col(StoredCredential.id))
        # A cancelled change never applies; its cancellation changes nothing.
        & col(StatusChangeRow.cancelled_by).is_(None)
        & (col(StatusChangeRow.action) != "cancel-scheduled"),
    )
    .outerjoin(_CHANGE, col(_CHANGE.id) == col(StatusChangeRow.credential_id))
    .outerjoin(
        _CHANGE_ENTRY, col(_CHANGE_ENTRY.credential_id) == col(StatusChangeRow.credential_id)
    )
    .where(col(StoredCredential.type) == CredentialType.LISTING)
    .order_by(
        col(StoredCredential.id),
        col(RecordParty.position),
        col(StatusChangeRow.recorded_at),
        # Two changes signed within one second: the listing's log, where every change
        # to it is, says which came first (``registry.verification.dossier``).
        col(_CHANGE_ENTRY.leaf_index),
        col(StatusChangeRow.credential_id),
    )
)


def _criterion(
    query: ListingQuery, lookup: LookupSecrets, node_secret: bytes
) -> tuple[Any, Any, dict[str, str], dict[str, str]]:
    """The condition of a match (by credit code or ID number; none by name), that of a
    possible match (by name only), the query as answered (an ID number masked) and
    as the access audit hashes it (an ID number as its HMAC under the node secret)."""
    given = [v for v in (query.credit_code, query.id_number, query.name) if v is not None]
    if len(given) != 1:
        raise InvalidInput("search by exactly one of credit_code, id_number or name")
    if query.credit_code is not None:
        parsed = parse_credit_code(query.credit_code)
        code = parsed.code
        asked = {"by": "credit-code", "creditCode": code}
        audited = dict(asked)
        if not parsed.check_ok:
            # Probably mistyped, perhaps an early pilot code: still searched (a listing
            # may name it), but finding nothing is no clean answer.
            asked["creditCodeCheck"] = CHECK_MISMATCH
        return col(RecordParty.credit_code) == code, None, asked, audited
    if query.id_number is not None:
        number = parse_resident_id(query.id_number)
        keys = list(lookup.keys(number).values())
        asked = {"by": "resident-id", "residentIdMasked": mask_resident_id(number)}
        audited = {"by": "resident-id", "key": lookup_key(number, secret=node_secret)}
        return col(RecordParty.lookup_key).in_(keys), None, asked, audited
    name = (query.name or "").strip()
    if not name_core(name):
        raise InvalidInput("a name to search by has letters or characters in it")
    # A name never identifies anyone: the same name, like a near one or one that holds
    # every word given, is possible only.
    named = (col(RecordParty.name_key) == name_key(name)) | (
        col(RecordParty.name_core) == name_core(name)
    )
    words = name_words(name)
    if words:
        named = named | sa.and_(
            *(col(RecordParty.name_key).contains(word, autoescape=True) for word in words)
        )
    return None, named, {"by": "name", "name": name}, {"by": "name", "name": name_key(name)}


MIN_WORD = 2
"""Characters a word of a name needs to be looked for within names: one character
(``某``, a surname) is in too many to tell anything apart."""
MAX_NAME_WORDS = 8


def name_words(name: str) -> list[str]:
    """The words of a name searched for within the names listings give (each as
    ``name_key`` compares it), or none when a word is shorter than ``MIN_WORD`` or
    there are more than ``MAX_NAME_WORDS``: then only the same or a near name is."""
    words = [name_key(word) for word in name.split()]
    if not words or len(words) > MAX_NAME_WORDS or any(len(w) < MIN_WORD for w in words):
        return []
    return words


def read_listings(session: Session, condition: Any, decided_by: str | None) -> list[Found]:
    """Every listing naming a party that meets ``condition`` (on ``RecordParty``,
    ``StoredCredential``), with its changes; one ``Found`` per listing and party."""
    statement = _LISTINGS.where(condition)
    if decided_by is not None:
        statement = statement.where(col(StoredCredential.issuer_code) == decided_by)
    found: dict[tuple[str, str], Found] = {}
    for row in session.connection().execute(statement.execution_options(**PREPARED)):
        party = row.credit_code or row.lookup_key
        listing = found.get((row.id, party))
        if listing is None:
            listing = found[(row.id, party)] = Found(
                row.id,
                row.issuer_code,
                row.canonical,
                row.leaf_index,
                row.role,
                row.name,
                party,
                row.position,
            )
        elif listing.position != row.position:
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
        changes = [(c.effective_on, c.state_after) for c in listing.changes]
        listing.status = status_on(subject, changes, on)
        if listing.status.in_force:
            kept.append(listing)
    return sorted(kept, key=lambda f: (f.authority, f.credential_id))


def _once(found: list[Found]) -> list[Found]:
    # By name, one listing may name two parties of that name: it is answered once.
    seen: set[str] = set()
    kept = []
    for listing in found:
        if listing.credential_id not in seen:
            seen.add(listing.credential_id)
            kept.append(listing)
    return kept


def search_listings(
    session: Session,
    query: ListingQuery,
    *,
    lookup: LookupSecrets,
    node_secret: bytes,
    today: date,
    subtrees: SubtreeCache | None = None,
) -> SearchResult:
    """Every listing in force on the day asked that names the party, across the
    federation, with proofs. Raises ``InvalidInput`` for a bad credit code, ID
    number, name or province. Read it in one snapshot (``begin_snapshot``)."""
    region = province(query.region).iso if query.region is not None else None
    decided_by = province(query.decided_by).iso if query.decided_by is not None else None
    exact, named, asked, criteria = _criterion(query, lookup, node_secret)
    on = query.on or today
    for answer in (asked, criteria):
        if region:
            answer["region"] = region
        if decided_by:
            answer["decidedBy"] = decided_by
        answer["date"] = on.isoformat()
    matches = (
        _once(_in_force(read_listings(session, exact, decided_by), on)) if exact is not None else []
    )
    possible = (
        _once(_in_force(read_listings(session, named, decided_by), on)) if named is not None else []
    )
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
    return SearchResult(on, asked, criteria, matches, possible, evidence.by_authority(), proofs)


MAX_CHECK = 10_000
"""Rows one bulk check takes."""

_CHUNK = 1000  # parties per IN list


@dataclass(frozen=True)
class CheckRow:
    """One party to check: a credit code or an ID number."""

    credit_code: str | None = None
    id_number: str | None = None


@dataclass(frozen=True)
class Checked:
    """A row's answer: the party as shown (an ID number masked) and as the access
    audit hashes it (a credit code, or an ID number's HMAC under the node secret),
    the listings in force that name it, or the row's error. ``check_mismatch``: the
    credit code's check character does not match (probably mistyped), so that
    finding nothing is no clean "not listed"."""

    party: str | None
    key: str | None
    listings: list[Found]
    error: str | None = None
    check_mismatch: bool = False


def _party(
    row: CheckRow, lookup: LookupSecrets, node_secret: bytes
) -> tuple[str, str, tuple[str, ...], bool, bool]:
    """(how it is shown, how the audit hashes it, the keys it is found by, whether it
    is an organisation, whether its credit code's check character fails)."""
    if (row.credit_code is None) == (row.id_number is None):
        raise InvalidInput("give credit_code or id_number")
    if row.credit_code is not None:
        parsed = parse_credit_code(row.credit_code)
        return parsed.code, parsed.code, (parsed.code,), True, not parsed.check_ok
    number = parse_resident_id(row.id_number or "")
    audited = lookup_key(number, secret=node_secret)
    return mask_resident_id(number), audited, tuple(lookup.keys(number).values()), False, False


def check_parties(
    session: Session,
    rows: Sequence[CheckRow | str],
    *,
    lookup: LookupSecrets,
    node_secret: bytes,
    on: date,
    decided_by: str | None = None,
) -> list[Checked]:
    """For each row, the listings in force on ``on`` naming that party, whichever
    authority decided them (or only ``decided_by``'s); a string is a row already
    found invalid, kept as its error. Reads two statements per 1,000 parties."""
    if len(rows) > MAX_CHECK:
        raise InvalidInput(f"at most {MAX_CHECK} rows a check, not {len(rows)}")
    authority = province(decided_by).iso if decided_by is not None else None
    parties: list[tuple[str, str, tuple[str, ...], bool] | str] = []
    codes: set[str] = set()
    keys: set[str] = set()
    for row in rows:
        if isinstance(row, str):
            parties.append(row)
            continue
        try:
            shown, audited, found_by, organisation, mismatch = _party(row, lookup, node_secret)
        except RegistryError as exc:
            parties.append(exc.message)
            continue
        (codes if organisation else keys).update(found_by)
        parties.append((shown, audited, found_by, mismatch))
    listed: dict[str, list[Found]] = {}
    for column, wanted in ((RecordParty.credit_code, codes), (RecordParty.lookup_key, keys)):
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            for found in _in_force(read_listings(session, col(column).in_(chunk), authority), on):
                listed.setdefault(found.party, []).append(found)
    return [
        Checked(None, None, [], party)
        if isinstance(party, str)
        else Checked(
            party[0],
            party[1],
            [f for key in party[2] for f in listed.get(key, [])],
            check_mismatch=party[3],
        )
        for party in parties
    ]

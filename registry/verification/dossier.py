"""What the registry holds on one person: their records, as signed, with their changes.

Found by the HMAC lookup key of the resident ID number, or by a registration number
together with the holder's name (which must match: a number alone never reveals
whose it is). Each record comes with its stored credential, its state changes and
its log position, read in a few queries whatever the person holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry.calendar import CHINA, parse_aware
from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.ids import LookupSecrets, ResidentId, mask_resident_id, name_key, parse_resident_id
from registry.storage.db import PREPARED
from registry.storage.models import (
    LogEntry,
    Record,
    RecordParty,
    StatusChangeRow,
    StoredCredential,
)

__all__ = [
    "Dossier",
    "Held",
    "Subject",
    "find_dossier",
    "person_key",
    "records_by_key",
    "records_of",
    "same_name",
]

_ENGINEER_TYPES = (
    CredentialType.QUALIFICATION,
    CredentialType.REGISTRATION,
    CredentialType.CE_CREDIT,
    CredentialType.LISTING,
)


@dataclass(frozen=True)
class Held:
    """One of the person's records: its signed credential, its changes, its role.

    ``changes`` are (effective day, state after), in the order they were made;
    ``first_day`` and ``last_day`` are the credential's validity as days in China
    (``last_day`` ``None``: open-ended).
    """

    id: str
    type: str
    issuer: str
    canonical: str
    initial: str
    changes: tuple[tuple[date, str], ...]
    role: str
    leaf_index: int | None

    @cached_property
    def document(self) -> dict[str, Any]:
        """The signed credential (read once; treat it as read-only)."""
        value: dict[str, Any] = json.loads(self.canonical)
        return value

    @property
    def subject(self) -> dict[str, Any]:
        """Its ``credentialSubject``."""
        value: dict[str, Any] = self.document["credentialSubject"]
        return value

    @cached_property
    def first_day(self) -> date:
        """The first day the credential holds."""
        return _day(self.document["validFrom"])

    @cached_property
    def last_day(self) -> date | None:
        """The last day it holds, if it ends."""
        until = self.document.get("validUntil")
        return _day(until) - timedelta(days=1) if until else None

    def state_on(self, day: date) -> str:
        """Its state on ``day``, as the changes effective by then leave it."""
        state = self.initial
        for effective_on, after in self.changes:
            if effective_on <= day:
                state = after
        return state


def _day(stamp: str) -> date:
    moment: datetime = parse_aware(stamp, "a validity time")
    return moment.astimezone(CHINA).date()


@dataclass(frozen=True)
class Subject:
    """Who was asked about: by ID number or by registration number and name."""

    masked: str | None = None
    registration_number: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Dossier:
    """Everything held on the person, and how they were asked about.

    ``name_mismatch``: asked by registration number and name, the number exists but
    names someone else (whose name the dossier never carries).
    """

    subject: Subject
    records: tuple[Held, ...]
    name_mismatch: bool = False

    @property
    def name(self) -> str | None:
        """The holder's name, as their newest record gives it."""
        for held in sorted(self.records, key=lambda h: h.first_day, reverse=True):
            person = _person_of(held)
            if person and person.get("name"):
                return str(person["name"])
        return self.subject.name

    @property
    def masked(self) -> str | None:
        """The masked ID number, as the records carry it."""
        if self.subject.masked:
            return self.subject.masked
        for held in self.records:
            person = _person_of(held)
            if person:
                return str(person["identifier"]["masked"])
        return None

    def of_type(self, kind: str) -> list[Held]:
        """The records of one type, oldest first."""
        return sorted(
            (h for h in self.records if h.type == kind), key=lambda h: (h.first_day, h.id)
        )


def _person_of(held: Held) -> dict[str, Any] | None:
    subject = held.subject
    if held.type != CredentialType.LISTING:
        person = subject.get("holder")
        return person if isinstance(person, dict) else None
    for candidate in (subject.get("listed"), *subject.get("relatedPersons", ())):
        if isinstance(candidate, dict) and "identifier" in candidate:
            return candidate
    return None


def same_name(first: str, second: str) -> bool:
    """Whether two spellings name the same person: width and spacing aside."""
    return name_key(first) == name_key(second)


def person_key(id_number: str, *, lookup: LookupSecrets) -> tuple[str, tuple[str, ...]]:
    """The masked form of an ID number and its look-up key under every version of the
    federation's secret (newest first); raises ``InvalidResidentId``."""
    number: ResidentId = parse_resident_id(id_number)
    return mask_resident_id(number), tuple(reversed(lookup.keys(number).values()))


def find_dossier(
    session: Session,
    *,
    lookup: LookupSecrets,
    id_number: str | None = None,
    registration_number: str | None = None,
    name: str | None = None,
) -> Dossier:
    """The person's records, found by ID number or by registration number and name.

    Raises ``InvalidInput`` unless exactly one way of finding them is given, or for
    an ID number that is not valid. Someone the registry holds nothing on gets an
    empty dossier: the report then says so. A registration number that exists under
    another name gets an empty dossier marked ``name_mismatch``, which says no more
    about whose the number is.
    """
    if (id_number is None) == (registration_number is None):
        raise InvalidInput("give the resident ID number, or the registration number and name")
    if id_number is not None:
        masked, keys = person_key(id_number, lookup=lookup)
        subject = Subject(masked=masked)
        return Dossier(subject, tuple(records_of(records_by_key(session, keys), keys)))
    if not name or not name.strip():
        raise InvalidInput("a registration number is looked up together with the holder's name")
    number_text = (registration_number or "").strip()
    subject = Subject(registration_number=number_text, name=name.strip())
    rows = session.exec(
        select(RecordParty.lookup_key, RecordParty.lookup_version, RecordParty.name)
        .join(Record, col(Record.credential_id) == col(RecordParty.credential_id))
        .where(
            col(Record.type) == CredentialType.REGISTRATION,
            col(Record.number) == number_text,
            col(RecordParty.role) == "holder",
        )
    ).all()
    # One holder: one key under each version of the look-up secret their registrations
    # were keyed under. Two keys under one version are two people: no answer.
    by_version: dict[str | None, set[str]] = {}
    for key, version, holder in rows:
        if key and same_name(holder, name):
            by_version.setdefault(version, set()).add(key)
    if not by_version:
        return Dossier(subject, (), name_mismatch=bool(rows))
    if any(len(keys) != 1 for keys in by_version.values()):
        return Dossier(subject, ())
    keys = tuple(key for found in by_version.values() for key in found)
    return Dossier(subject, tuple(records_of(records_by_key(session, keys), keys)))


def records_of(found: dict[str, list[Held]], keys: Sequence[str]) -> list[Held]:
    """One person's records from ``records_by_key``'s answer, under any of their keys."""
    return [held for key in keys for held in found.get(key, ())]


_CHUNK = 1000  # identifiers per IN list: well within every driver's parameter limit


def records_by_key(session: Session, keys: Sequence[str]) -> dict[str, list[Held]]:
    """The records of each person (by lookup key), in three queries per 1,000 keys."""
    found: dict[str, list[Held]] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), _CHUNK):
        found.update(_chunk(session, unique[start : start + _CHUNK]))
    return found


_CHANGE_ENTRY = aliased(LogEntry)

# One statement for a chunk of people: each record they are party to (its signed
# credential says of which type and authority), its log position and its state
# changes (a record with none comes once, with NULLs). Built once; Core, not ORM:
# nothing here is an entity to track.
_RECORDS = (
    sa.select(
        col(RecordParty.lookup_key),
        col(RecordParty.role),
        col(RecordParty.position),
        col(StoredCredential.id),
        col(StoredCredential.type),
        col(StoredCredential.issuer_code),
        col(StoredCredential.canonical),
        col(LogEntry.leaf_index),
        col(StatusChangeRow.effective_on),
        col(StatusChangeRow.state_after),
    )
    .join(StoredCredential, col(StoredCredential.id) == col(RecordParty.credential_id))
    .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StoredCredential.id))
    .outerjoin(
        StatusChangeRow,
        (col(StatusChangeRow.target_id) == col(StoredCredential.id))
        # A cancelled change never applies; its cancellation changes nothing.
        & col(StatusChangeRow.cancelled_by).is_(None)
        & (col(StatusChangeRow.action) != "cancel-scheduled"),
    )
    .outerjoin(
        _CHANGE_ENTRY, col(_CHANGE_ENTRY.credential_id) == col(StatusChangeRow.credential_id)
    )
    .where(
        col(RecordParty.lookup_key).in_(sa.bindparam("keys", expanding=True)),
        col(StoredCredential.type).in_(_ENGINEER_TYPES),
    )
    .order_by(
        col(RecordParty.credential_id),
        col(RecordParty.position),
        col(StatusChangeRow.recorded_at),
        # Two changes signed within one second (a mirror records each at its signed
        # time): the record's log, where every change to it is, says which came first.
        col(_CHANGE_ENTRY.leaf_index),
        col(StatusChangeRow.credential_id),
    )
    .execution_options(**PREPARED)
)


def _chunk(session: Session, keys: list[str]) -> dict[str, list[Held]]:
    found: dict[str, list[Held]] = {}
    # (lookup key, credential id) -> its first position, its fields, its changes.
    held: dict[tuple[str | None, str], tuple[int, tuple[Any, ...], list[tuple[date, str]]]] = {}
    for row in session.connection().execute(_RECORDS, {"keys": keys}):
        key, role, position, credential_id, kind, authority, canonical, leaf_index = row[:8]
        entry = held.get((key, credential_id))
        if entry is None:
            fields = (credential_id, kind, authority, canonical, role, leaf_index)
            entry = held[(key, credential_id)] = (position, fields, [])
        elif entry[0] != position:
            # A person named twice in one record (listed, and a related person) counts
            # once, in the first role the record gives them; its changes came already.
            continue
        if row.effective_on is not None:
            entry[2].append((row.effective_on, row.state_after))
    for (key, _), (_, fields, changes) in held.items():
        credential_id, kind, authority, canonical, role, leaf_index = fields
        found.setdefault(key or "", []).append(
            Held(
                id=credential_id,
                type=kind,
                issuer=authority,
                canonical=canonical,
                # The state before the first change is the one it was issued in.
                initial=_initial(kind),
                changes=tuple(changes),
                role=role,
                leaf_index=leaf_index,
            )
        )
    return found


def _initial(kind: str) -> str:
    return "listed" if kind == CredentialType.LISTING else "active"

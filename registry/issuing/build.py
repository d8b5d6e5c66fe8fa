"""From a validated record input to its unsigned credential and the parties it names.

Dates are days in China. A credential's ``validFrom`` is the first instant of its
first day; ``validUntil`` is the first instant of the first day it no longer holds
(the day after a registration's last day; a listing's expiry day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from registry.calendar import day_start
from registry.credentials import new_credential
from registry.credentials.records import (
    ContinuingEducationIn,
    HolderIn,
    ListedIndividualIn,
    ListingIn,
    OrganisationIn,
    QualificationIn,
    RecordIn,
    RegistrationIn,
    identify_person,
)
from registry.ids import LookupSecrets

__all__ = ["Draft", "Party", "draft_of"]


@dataclass(frozen=True)
class Party:
    """A person (by look-up key, with the salt of their binding: their disclosure) or
    an organisation (by credit code) a record names."""

    role: str
    name: str
    lookup_key: str | None = None
    lookup_version: str | None = None
    credit_code: str | None = None
    disclosure: bytes | None = None


@dataclass
class Draft:
    """A record about to be issued: its unsigned credential and what indexes it."""

    document: dict[str, Any]
    parties: list[Party]
    number: str | None
    subject_lookup: str | None
    earliest_removal_on: date | None = None


class _People:
    """Identifies each person once per credential: a fresh salt every time."""

    def __init__(self, lookup: LookupSecrets) -> None:
        self._lookup = lookup
        self.parties: list[Party] = []

    def person(self, holder: HolderIn, role: str) -> dict[str, Any]:
        named, identifier, salt = identify_person(holder, self._lookup)
        self.parties.append(
            Party(
                role=role,
                name=holder.name,
                lookup_key=identifier.lookup_key,
                lookup_version=identifier.lookup_secret,
                disclosure=salt,
            )
        )
        return named

    def organisation(self, organisation: OrganisationIn, role: str) -> None:
        self.parties.append(
            Party(role=role, name=organisation.name, credit_code=organisation.credit_code)
        )


def draft_of(
    item: RecordIn,
    *,
    lookup: LookupSecrets,
    qualification_id: str | None = None,
) -> Draft:
    """The unsigned credential for ``item`` (without ``credentialStatus`` yet).

    ``qualification_id`` is the resolved id of the qualification a registration
    rests on.
    """
    people = _People(lookup)
    valid_until: datetime | None = None
    number: str | None = None
    earliest_removal_on: date | None = None
    if isinstance(item, QualificationIn):
        subject = item.subject(people.person(item.holder, "holder"))
        valid_from = day_start(item.issued_on)
        number = item.certificate_number
    elif isinstance(item, RegistrationIn):
        holder = people.person(item.holder, "holder")
        people.organisation(item.employer, "employer")
        subject = item.subject(holder)
        subject["qualification"] = qualification_id or item.qualification
        valid_from = day_start(item.valid_from)
        valid_until = day_start(item.valid_until + timedelta(days=1))
        number = item.registration_number
    elif isinstance(item, ContinuingEducationIn):
        holder = people.person(item.holder, "holder")
        people.organisation(item.provider, "provider")
        subject = item.subject(holder)
        valid_from = day_start(item.completed_on)
    else:
        subject = _listing_subject(item, people)
        valid_from = day_start(item.listed_on)
        valid_until = day_start(item.expires_on)
        earliest_removal_on = item.earliest_removal_on
        number = item.listing_decision_number[:64]
    if item.replaces is not None:
        subject["replaces"] = item.replaces
    document = new_credential(
        type_=item.type,
        issuer_code=item.authority,
        subject=subject,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    holder_lookup = next((p.lookup_key for p in people.parties if p.role == "holder"), None)
    if isinstance(item, ListingIn) and isinstance(item.listed, ListedIndividualIn):
        holder_lookup = people.parties[0].lookup_key
    return Draft(
        document=document,
        parties=people.parties,
        number=number,
        subject_lookup=holder_lookup,
        earliest_removal_on=earliest_removal_on,
    )


def _listing_subject(item: ListingIn, people: _People) -> dict[str, Any]:
    committed = []
    if isinstance(item.listed, ListedIndividualIn):
        committed.append(people.person(item.listed, "listed"))
    else:
        people.organisation(item.listed, "listed")
    committed.extend(people.person(person, person.role) for person in item.related_persons)
    return item.subject(committed)

"""The public look-up of an engineer: a registration, by its number and its holder's name.

What a licence look-up shows and no more: the registration's number, its holder's
name as the record writes it, its category, kind and employer, the registering
authority, its term and its state on the day. No ID number, masked or not, and
nothing derived from one: the look-up starts from the registration number and the
name, both printed on the certificate, so nothing in it lets anyone test a guess of
an ID number. A number that exists under another name is answered exactly as a
number that does not exist (``None``), so the answer never tells which half was
wrong.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from registry.authorities import list_authorities
from registry.credentials import CredentialType
from registry.errors import InvalidInput
from registry.ids import LookupSecrets, province
from registry.verification.dossier import Held, find_dossier

__all__ = ["PUBLIC_STATES", "PublicRegistration", "public_registration"]

PUBLIC_STATES = (
    "active",
    "not-yet-valid",
    "expired",
    "suspended",
    "revoked",
    "cancelled",
    "superseded",
)
"""A registration's state as the public look-up states it: in force (``active``),
not yet begun or past its last day, or ended or paused by a signed decision."""

_MAX_NUMBER = 64
_MAX_NAME = 100


@dataclass(frozen=True)
class PublicRegistration:
    """One registration as the public sees it on ``on``."""

    registration_number: str
    name: str
    category: str
    kind: str
    employer: str
    authority: str
    """The registering authority's ISO 3166-2 code (``CN-SH``)."""
    authority_zh: str
    authority_en: str
    region_zh: str
    region_en: str
    """The authority's province, where the registration is held."""
    valid_from: date
    valid_to: date | None
    """The last day of its term (``None``: open-ended)."""
    state: str
    """One of ``PUBLIC_STATES`` (a state a later version stores is passed on as it is)."""
    on: date

    @property
    def in_force(self) -> bool:
        """Whether the holder may practise on it that day."""
        return self.state == "active"


def _number(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).split())


def public_registration(
    session: Session,
    *,
    lookup: LookupSecrets,
    registration_number: str,
    name: str,
    on: date,
) -> PublicRegistration | None:
    """The registration numbered ``registration_number`` whose holder is named ``name``
    (width, spacing and case aside), as it stands on ``on``; ``None`` if there is no
    such registration or it names someone else.

    Raises ``InvalidInput`` if either is empty or longer than any such value.
    """
    number = _number(registration_number)
    name = name.strip()
    if not number or not name:
        raise InvalidInput("give the registration number and the holder's name")
    if len(number) > _MAX_NUMBER or len(name) > _MAX_NAME:
        raise InvalidInput("the registration number or the name is too long")
    found = _registrations(session, lookup, number, name)
    if not found and number.upper() != number:
        # People type the letters of a number in small letters as often as not.
        number = number.upper()
        found = _registrations(session, lookup, number, name)
    if not found:
        return None
    held = _current(found, on)
    subject = held.subject
    names = {a.code: (a.name_zh, a.name_en) for a in list_authorities(session)}
    region = province(held.issuer)
    authority_zh, authority_en = names.get(held.issuer, (region.name_zh, region.name_en))
    holder = subject.get("holder", {})
    return PublicRegistration(
        registration_number=str(subject["registrationNumber"]),
        name=str(holder.get("name", name)),
        category=str(subject["category"]),
        kind=str(subject.get("kind", "initial")),
        employer=str(subject.get("employer", {}).get("name", "")),
        authority=held.issuer,
        authority_zh=authority_zh,
        authority_en=authority_en,
        region_zh=region.name_zh,
        region_en=region.name_en,
        valid_from=held.first_day,
        valid_to=held.last_day,
        state=_state(held, on),
        on=on,
    )


def _registrations(session: Session, lookup: LookupSecrets, number: str, name: str) -> list[Held]:
    dossier = find_dossier(session, lookup=lookup, registration_number=number, name=name)
    return [
        held
        for held in dossier.of_type(CredentialType.REGISTRATION)
        if held.subject.get("registrationNumber") == number
    ]


def _current(found: list[Held], on: date) -> Held:
    """Of the records of one number (a correction keeps the number), the one that
    stands: not superseded if any is not, then the latest begun by ``on``."""
    standing = [h for h in found if h.state_on(on) != "superseded"] or found
    begun = [h for h in standing if h.first_day <= on] or standing
    return max(begun, key=lambda h: (h.first_day, h.id))


def _state(held: Held, on: date) -> str:
    state = held.state_on(on)
    if state != "active":
        return state
    if held.first_day > on:
        return "not-yet-valid"
    if held.last_day is not None and on > held.last_day:
        return "expired"
    return "active"

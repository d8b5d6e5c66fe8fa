"""The qualification a registration rests on: found by credential id or certificate
number, active, the same person's (under any version of the look-up secret) and in
the registration's category."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from registry.credentials import CredentialType
from registry.credentials.lifecycle import State
from registry.credentials.records import RegistrationIn
from registry.ids import LookupSecrets, ResidentId
from registry.storage.credentials import document_of
from registry.storage.models import Record, RecordParty, StoredCredential

__all__ = ["Qualification", "find_qualification", "resolve_qualification"]


@dataclass(frozen=True)
class Qualification:
    """A qualification found: its id, its holder's look-up key and its category."""

    credential_id: str
    holder_lookup: str | None
    category: str | None


def find_qualification(session: Session, reference: str) -> Qualification | str:
    """The active qualification a reference names, or why there is none."""
    if reference.startswith("urn:"):
        found = session.get(Record, reference)
        candidates = [found] if found and found.type == CredentialType.QUALIFICATION else []
    else:
        candidates = list(
            session.exec(
                select(Record).where(
                    col(Record.type) == CredentialType.QUALIFICATION,
                    col(Record.number) == reference,
                    col(Record.state) == State.ACTIVE.value,
                )
            )
        )
    if not candidates:
        return f"no active qualification {reference} in the registry"
    if len(candidates) > 1:
        return f"certificate number {reference} is ambiguous: give the credential id"
    qualification = candidates[0]
    if qualification.state != State.ACTIVE.value:
        return f"qualification {reference} is {qualification.state}"
    holder = session.exec(
        select(RecordParty).where(
            col(RecordParty.credential_id) == qualification.credential_id,
            col(RecordParty.role) == "holder",
        )
    ).first()
    stored = session.get(StoredCredential, qualification.credential_id)
    category = document_of(stored)["credentialSubject"].get("category") if stored else None
    return Qualification(
        qualification.credential_id, holder.lookup_key if holder else None, category
    )


def resolve_qualification(
    session: Session,
    item: RegistrationIn,
    lookup: LookupSecrets,
    known: dict[str, Qualification | str],
) -> tuple[str | None, str | None]:
    """The qualification's credential id, or why it cannot carry this registration."""
    reference = item.qualification
    if reference not in known:
        known[reference] = find_qualification(session, reference)
    found = known[reference]
    if isinstance(found, str):
        return None, found
    # The qualification may be keyed under an older version of the look-up secret.
    if found.holder_lookup not in lookup.keys(ResidentId(item.holder.id_number)).values():
        return None, f"qualification {reference} belongs to someone else"
    if found.category != item.category.value:
        return (
            None,
            f"qualification {reference} is in category {found.category}, not {item.category}",
        )
    return found.credential_id, None

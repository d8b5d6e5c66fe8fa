"""The qualification a registration rests on: found by credential id or certificate
number, active, the same person's (under any version of the look-up secret) and in
the registration's category."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import or_
from sqlmodel import Session, col

from registry.credentials import CredentialType
from registry.credentials.lifecycle import State
from registry.credentials.records import RegistrationIn
from registry.ids import LookupSecrets, ResidentId
from registry.storage.models import Record, RecordParty, StoredCredential

__all__ = [
    "Qualification",
    "find_qualification",
    "find_qualifications",
    "resolve_qualification",
]


@dataclass(frozen=True)
class Qualification:
    """A qualification found: its id, its holder's look-up key and its category."""

    credential_id: str
    holder_lookup: str | None
    category: str | None


def find_qualification(session: Session, reference: str) -> Qualification | str:
    """The active qualification a reference names, or why there is none."""
    return find_qualifications(session, [reference])[reference]


_CHUNK = 1000  # references per IN list


def find_qualifications(
    session: Session, references: Sequence[str]
) -> dict[str, Qualification | str]:
    """Each reference's active qualification (by credential id or certificate number),
    or why there is none: a few queries for every 1,000 references, however many
    people a batch registers."""
    unique = list(dict.fromkeys(references))
    rows: list[tuple[str, str | None, str, str | None, str]] = []
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        ids = [r for r in chunk if r.startswith("urn:")]
        numbers = [r for r in chunk if not r.startswith("urn:")]
        # By number only an active one counts; by id, any, and its state is said.
        by_number = (col(Record.number).in_(numbers)) & (col(Record.state) == State.ACTIVE.value)
        # Through the session, which flushes first: a due change applied in this
        # transaction is seen.
        rows.extend(
            session.execute(
                sa.select(
                    col(Record.credential_id),
                    col(Record.number),
                    col(Record.state),
                    col(RecordParty.lookup_key),
                    col(StoredCredential.canonical),
                )
                .join(StoredCredential, col(StoredCredential.id) == col(Record.credential_id))
                .outerjoin(
                    RecordParty,
                    (col(RecordParty.credential_id) == col(Record.credential_id))
                    & (col(RecordParty.role) == "holder"),
                )
                .where(
                    col(Record.type) == CredentialType.QUALIFICATION,
                    or_(col(Record.credential_id).in_(ids), by_number),
                )
            ).all()
        )
    wanted = set(unique)
    named: dict[str, list[tuple[str, str, str | None, str]]] = {}
    for credential_id, number, state, holder, canonical in rows:
        for reference in (credential_id, number):
            if reference in wanted and (reference == credential_id or state == "active"):
                found = named.setdefault(reference, [])
                if all(existing[0] != credential_id for existing in found):
                    found.append((credential_id, state, holder, canonical))
    answers: dict[str, Qualification | str] = {}
    for reference in unique:
        candidates = named.get(reference, [])
        if not candidates:
            answers[reference] = f"no active qualification {reference} in the registry"
        elif len(candidates) > 1:
            answers[reference] = (
                f"certificate number {reference} is ambiguous: give the credential id"
            )
        else:
            credential_id, state, holder, canonical = candidates[0]
            if state != State.ACTIVE.value:
                answers[reference] = f"qualification {reference} is {state}"
            else:
                subject = json.loads(canonical)["credentialSubject"]
                answers[reference] = Qualification(credential_id, holder, subject.get("category"))
    return answers


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

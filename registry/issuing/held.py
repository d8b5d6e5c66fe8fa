"""A person's registrations as this node holds them, of every authority: each as
signed, with the status changes in effect, to judge on any day."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from registry.calendar import CHINA, add_years, parse_aware
from registry.credentials import CredentialType
from registry.credentials.lifecycle import Action, State
from registry.storage.models import LogEntry, RecordParty, StatusChangeRow, StoredCredential

__all__ = ["HOLDING", "HeldChange", "HeldRegistration", "registrations_held", "subject_of"]

HOLDING = (State.ACTIVE.value, State.SUSPENDED.value)
"""The states in which a registration holds its post: a suspended engineer still does."""


@dataclass(frozen=True)
class HeldChange:
    effective_on: date
    action: str
    state_after: str
    credential_id: str


@dataclass(frozen=True)
class HeldRegistration:
    """One of the person's registrations, as signed, with its changes in effect."""

    credential_id: str
    authority: str
    number: str
    first_day: date
    last_day: date
    term_starts_on: date
    changes: tuple[HeldChange, ...]

    def state_on(self, day: date) -> str:
        state = State.ACTIVE.value
        for change in self.changes:
            if change.effective_on <= day:
                state = change.state_after
        return state

    def holding_on(self, first: date, last: date) -> date | None:
        """The first day in ``first``..``last`` it is in force, if any."""
        start, end = max(first, self.first_day), min(last, self.last_day)
        if start > end:
            return None
        days = [start, *(c.effective_on for c in self.changes if start < c.effective_on <= end)]
        return next((day for day in days if self.state_on(day) in HOLDING), None)


def _day(stamp: str) -> date:
    return parse_aware(stamp, "a validity time").astimezone(CHINA).date()


_CHUNK = 1000  # identifiers per IN list: well within every driver's parameter limit


def _chunks(values: Sequence[str]) -> list[list[str]]:
    unique = sorted(set(values))
    return [unique[start : start + _CHUNK] for start in range(0, len(unique), _CHUNK)]


def registrations_held(session: Session, keys: Sequence[str]) -> dict[str, list[HeldRegistration]]:
    """The registrations naming each of ``keys`` as holder, of any authority held here,
    by look-up key: a few queries for every 1,000 keys, however many people a batch
    names."""
    documents: dict[str, tuple[str, str]] = {}
    holders: dict[str, list[str]] = {}
    for chunk in _chunks(keys):
        for key, credential_id, issuer, canonical in session.exec(
            select(
                RecordParty.lookup_key,
                StoredCredential.id,
                StoredCredential.issuer_code,
                StoredCredential.canonical,
            )
            .join(RecordParty, col(RecordParty.credential_id) == col(StoredCredential.id))
            .where(
                col(RecordParty.lookup_key).in_(chunk),
                col(RecordParty.role) == "holder",
                col(StoredCredential.type) == CredentialType.REGISTRATION,
            )
        ):
            documents[credential_id] = (issuer, canonical)
            holders.setdefault(key or "", []).append(credential_id)
    changes: dict[str, list[HeldChange]] = {}
    for chunk in _chunks(list(documents)):
        for row in session.exec(
            select(StatusChangeRow)
            .outerjoin(LogEntry, col(LogEntry.credential_id) == col(StatusChangeRow.credential_id))
            .where(
                col(StatusChangeRow.target_id).in_(chunk),
                col(StatusChangeRow.cancelled_by).is_(None),
                col(StatusChangeRow.action) != Action.CANCEL_SCHEDULED.value,
            )
            # Within one second, the log's order (``registry.verification.dossier``).
            .order_by(
                col(StatusChangeRow.recorded_at),
                col(LogEntry.leaf_index),
                col(StatusChangeRow.credential_id),
            )
        ):
            changes.setdefault(row.target_id, []).append(
                HeldChange(row.effective_on, row.action, row.state_after, row.credential_id)
            )
    held: dict[str, HeldRegistration] = {}
    for credential_id, (issuer, canonical) in documents.items():
        document = json.loads(canonical)
        subject = document["credentialSubject"]
        first = _day(document["validFrom"])
        term = subject.get("termStartsOn")
        held[credential_id] = HeldRegistration(
            credential_id=credential_id,
            authority=issuer,
            number=str(subject.get("registrationNumber", "")),
            first_day=first,
            # Every registration issued here ends; one without an end (from elsewhere)
            # is taken to run the longest term a registration may.
            last_day=(
                _day(document["validUntil"]) - timedelta(days=1)
                if "validUntil" in document
                else add_years(first, 5)
            ),
            term_starts_on=date.fromisoformat(term) if isinstance(term, str) else first,
            changes=tuple(changes.get(credential_id, ())),
        )
    return {
        key: sorted((held[i] for i in ids), key=lambda h: h.credential_id)
        for key, ids in holders.items()
    }


def subject_of(session: Session, credential_id: str) -> dict[str, Any]:
    """The ``credentialSubject`` of a stored credential (empty if none is stored)."""
    stored = session.get(StoredCredential, credential_id)
    if stored is None:
        return {}
    subject: dict[str, Any] = json.loads(stored.canonical).get("credentialSubject", {})
    return subject

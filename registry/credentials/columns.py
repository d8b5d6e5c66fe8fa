"""The columns of the tables projected from a credential, as the credential states
them: what the issuing path writes, what a mirror of a peer's log writes
(``registry.federation.mirror``), and what the log audit rebuilds and compares
(``registry.verification.log_projections``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from registry.calendar import parse_aware
from registry.credentials.envelope import CredentialType, credential_type
from registry.credentials.records import NamedParty
from registry.credentials.status_list import entry_index
from registry.errors import RegistryError

__all__ = [
    "RecordColumns",
    "change_columns",
    "holder_position",
    "record_columns",
    "terminated_agreement",
]


@dataclass(frozen=True)
class RecordColumns:
    """The columns of a ``record`` row its credential states."""

    type: str
    number: str | None
    revocation_index: int | None
    suspension_index: int | None
    earliest_removal_on: date | None
    replaces: str | None


def _text(value: Mapping[str, Any], key: str) -> str:
    found = value[key]
    if not isinstance(found, str):
        raise TypeError(f"{key} is not a string")
    return found


def record_columns(kind: str, document: Mapping[str, Any]) -> RecordColumns:
    """The ``record`` columns a record's credential states (its ``state`` aside: its
    changes give that). Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a
    credential that does not state them, ``InvalidInput`` for a bad status entry."""
    subject = document["credentialSubject"]
    number: str | None = None
    earliest: date | None = None
    if kind == CredentialType.QUALIFICATION:
        number = _text(subject, "certificateNumber")
    elif kind == CredentialType.REGISTRATION:
        number = _text(subject, "registrationNumber")
    elif kind == CredentialType.LISTING:
        number = _text(subject, "listingDecisionNumber")[:64]
        earliest = date.fromisoformat(_text(subject, "earliestRemovalOn"))
    status = document.get("credentialStatus")
    entries = status if isinstance(status, list) else [status] if status is not None else []
    indexes = {_text(entry, "statusPurpose"): entry_index(entry) for entry in entries}
    replaces = subject.get("replaces")
    return RecordColumns(
        type=kind,
        number=number,
        revocation_index=indexes.get("revocation"),
        suspension_index=indexes.get("suspension"),
        earliest_removal_on=earliest,
        replaces=replaces if isinstance(replaces, str) else None,
    )


def holder_position(parties: Sequence[NamedParty]) -> int | None:
    """Which party's lookup key the credential row keeps as ``subject_lookup``."""
    if parties and parties[0].person and parties[0].role in ("holder", "listed"):
        return 0
    return None


def change_columns(document: Mapping[str, Any]) -> dict[str, object]:
    """The ``status_change`` columns a ``StatusChange`` of a record signs."""
    subject = document["credentialSubject"]
    return {
        "target_id": _text(subject, "id"),
        "action": _text(subject, "action"),
        "state_before": _text(subject, "previousState"),
        "state_after": _text(subject, "state"),
        "effective_on": date.fromisoformat(_text(subject, "effectiveOn")),
        "recorded_at": parse_aware(_text(document, "validFrom"), "validFrom"),
    }


def terminated_agreement(document: Mapping[str, Any] | None) -> str | None:
    """The agreement a ``StatusChange`` terminates, if it is one that does."""
    try:
        if document is None or credential_type(document) != CredentialType.STATUS_CHANGE:
            return None
        subject = document["credentialSubject"]
        if subject.get("credentialType") != CredentialType.RECOGNITION_AGREEMENT:
            return None
        return _text(subject, "id")
    except (RegistryError, KeyError, TypeError, AttributeError):
        return None

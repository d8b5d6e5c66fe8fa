"""What goes over the wire when records are issued, changed and read."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from registry.credentials.records import RecordIn

__all__ = [
    "BATCH_LIMIT",
    "BatchIn",
    "BatchIssuedOut",
    "ChangeOut",
    "CredentialOut",
    "IssuedItemOut",
    "IssuedOut",
    "StatusChangedOut",
]

BATCH_LIMIT = 10_000
"""The most records one batch may carry."""


class IssuedOut(BaseModel):
    """A record just issued: signed, logged, and the checkpoint that commits to it."""

    credential: dict[str, Any] = Field(description="The signed credential.")
    state: str = Field(description="Its state now: `active`, or `listed` for a listing.")
    leaf_index: int = Field(description="Its index in its authority's log.")
    tree_size: int = Field(description="The size of the log at `checkpoint`.")
    checkpoint: str = Field(description="The C2SP signed checkpoint that includes it.")
    status_change: str | None = Field(
        default=None,
        description="For a correction: the id of the StatusChange revoking the replaced record.",
    )


class BatchIn(BaseModel):
    """Up to 10,000 records of one authority, issued all together or not at all."""

    items: list[RecordIn] = Field(min_length=1, max_length=BATCH_LIMIT)


class IssuedItemOut(BaseModel):
    """One record of an issued batch."""

    credential: dict[str, Any]
    state: str
    leaf_index: int
    status_change: str | None = None


class BatchIssuedOut(BaseModel):
    """A batch issued in one log append: its records in order, and one checkpoint."""

    tree_size: int
    checkpoint: str
    items: list[IssuedItemOut]


class StatusChangedOut(BaseModel):
    """A status change: the signed StatusChange and the record's new state."""

    credential: dict[str, Any] = Field(description="The signed StatusChange.")
    state: str = Field(
        description="The record's state after the change, from its `effectiveOn` (for a "
        "change dated ahead, the record keeps its state until that day)."
    )
    leaf_index: int
    tree_size: int
    checkpoint: str


class ChangeOut(BaseModel):
    """One change in a record's history."""

    id: str = Field(description="The StatusChange credential's id.")
    action: str
    state_before: str
    state_after: str
    effective_on: date
    cancelled_by: str | None = Field(
        default=None,
        description="The StatusChange (`cancel-scheduled`) that cancelled this one before "
        "its day: it never took effect.",
    )


class CredentialOut(BaseModel):
    """A stored credential and what the registry knows of it now."""

    credential: dict[str, Any] = Field(description="The signed credential, as issued.")
    type: str
    authority: str
    leaf_index: int | None = Field(description="Its index in its authority's log.")
    state: str | None = Field(
        description="A record's state today; none for credentials without one."
    )
    scheduled_change: str | None = Field(
        default=None,
        description="The StatusChange decided to take effect on a later day, pending "
        "until then (its `effective_on` is in `changes`).",
    )
    replaces: str | None = Field(description="The record this one corrects.")
    replaced_by: str | None = Field(description="The record that corrects this one.")
    changes: list[ChangeOut] = Field(description="Its status changes, oldest first.")


class DisclosureOut(BaseModel):
    """One person's disclosure for one credential: what their certificate prints."""

    position: int = Field(description="The person's place among the parties the record names.")
    role: str = Field(description="How the record names them (`holder`, `listed`, ...).")
    name: str
    masked: str = Field(description="Their masked ID number, as the credential shows it.")
    disclosure: str = Field(
        description=(
            "The salt of their binding, 22 characters of base64url: with it and the number "
            "on their ID card, anyone can check offline that the credential is theirs "
            "(`registry verify FILE --disclosure ...`). Hand it to this person only."
        )
    )
    qr_text: str = Field(
        description=(
            "The text of the QR code for their certificate, "
            "`YRD1 <authority> <credential id> <digest> <disclosure>`."
        )
    )


class DisclosuresOut(BaseModel):
    """The disclosures of the people a credential names."""

    credential_id: str
    disclosures: list[DisclosureOut]

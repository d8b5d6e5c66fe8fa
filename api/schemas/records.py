"""What goes over the wire when records are issued, changed and read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from registry.credentials.records import RecordIn
from registry.ids import ResidentIdText
from registry.issuing.views import ChangeView

__all__ = [
    "BATCH_LIMIT",
    "BatchIn",
    "BatchIssuedOut",
    "ChangeOut",
    "CredentialOut",
    "FoundRecordOut",
    "IssuedItemOut",
    "IssuedOut",
    "ReceiptLineOut",
    "ReceiptOut",
    "ReceiptSummaryOut",
    "ReceiptsOut",
    "RecordSearchIn",
    "RecordsFoundOut",
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
        description=(
            "For a correction or a change registration: the id of the StatusChange "
            "superseding the record it replaces or changes."
        ),
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
    receipt_id: str | None = Field(
        default=None,
        description=(
            "The batch's receipt: `GET /v1/imports/{id}` lists each item's index with the "
            "credential it became, `GET /v1/imports/{id}/receipt` as CSV or XLSX. (A "
            "retry of a batch issued before receipts were kept has none.)"
        ),
    )


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

    @classmethod
    def of(cls, change: ChangeView) -> ChangeOut:
        """A record's change as the API answers it."""
        return cls(
            id=change.id,
            action=change.action,
            state_before=change.state_before,
            state_after=change.state_after,
            effective_on=change.effective_on,
            cancelled_by=change.cancelled_by,
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
            "What the QR code for their certificate carries: the address of the "
            "credential's page with their disclosure in the fragment, "
            "`<node>/c/<credential id>#a=<authority>&h=<digest>&d=<disclosure>`."
        )
    )


class DisclosuresOut(BaseModel):
    """The disclosures of the people a credential names."""

    credential_id: str
    disclosures: list[DisclosureOut]


class RecordSearchIn(BaseModel):
    """What to look for among the authority's own records; every criterion given
    must hold, and at least one is given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_number: ResidentIdText | None = Field(
        default=None,
        description=(
            "The person's resident ID number (found by its look-up key under every version "
            "of the federation's secret; the search is recorded in the access audit)."
        ),
        repr=False,
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="A name the record names, exactly (width, spaces and case folded).",
    )
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="A certificate, registration or listing decision number.",
    )
    import_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The receipt of the import or batch the record came in."
    )
    type: (
        Literal[
            "SafetyEngineerQualification",
            "SafetyEngineerRegistration",
            "ContinuingEducationCredit",
            "UntrustworthinessListing",
        ]
        | None
    ) = Field(default=None, description="The record type.")
    state: (
        Literal[
            "active",
            "suspended",
            "revoked",
            "cancelled",
            "listed",
            "lifted",
            "withdrawn",
            "superseded",
        ]
        | None
    ) = Field(default=None, description="The record's state now.")
    issued_from: date | None = Field(
        default=None, description="Issued on this day (in China) or later."
    )
    issued_until: date | None = Field(
        default=None, description="Issued on this day (in China) or earlier."
    )
    limit: int = Field(default=50, ge=1, le=200, description="Records per page (at most 200).")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Records to skip.")


class FoundRecordOut(BaseModel):
    """One of the authority's records: what it is, whom it is about, its state now and
    its changes, oldest first. A person is shown by a masked number only."""

    credential_id: str
    type: str
    number: str | None = Field(description="Its certificate, registration or decision number.")
    state: str
    issued_at: datetime
    name: str | None = Field(description="The person or organisation the record is about.")
    masked: str | None = Field(description="That person's masked ID number.")
    credit_code: str | None = Field(description="That organisation's credit code.")
    replaces: str | None = Field(description="The record this one corrects.")
    import_id: str | None = Field(description="The receipt it was issued under, if any.")
    changes: list[ChangeOut]


class RecordsFoundOut(BaseModel):
    """A page of records, newest first; `next_offset` asks for the next page."""

    records: list[FoundRecordOut]
    next_offset: int | None = Field(description="The `offset` of the next page, if there is one.")


class ReceiptLineOut(BaseModel):
    """One input row (its row number in the file, or its index in the batch) and the
    credential it became."""

    row: int
    credential_id: str
    type: str
    leaf_index: int


class ReceiptSummaryOut(BaseModel):
    """One import or batch: who issued it, when, for which authority, from which file."""

    id: str
    kind: Literal["import", "batch"]
    authority: str
    type: str | None = Field(description="The record type, unless the batch mixed types.")
    file_name: str | None = Field(description="The file imported (imports only).")
    issued_by: str = Field(description="The token's name, or `cli` for `registry import`.")
    role: str
    rows: int
    created_at: datetime


class ReceiptOut(ReceiptSummaryOut):
    """A receipt and its rows, in input order."""

    lines: list[ReceiptLineOut]


class ReceiptsOut(BaseModel):
    """A page of receipts, newest first, and how many there are in all."""

    receipts: list[ReceiptSummaryOut]
    total: int

"""What goes over the wire for enforcement: searching and checking the
untrustworthiness list, the public list, the access audit, the change feed and its
subscriptions.

Field names are camelCase on the wire (``alias_generator=to_camel``); FastAPI
answers by alias. A listing's ``proof`` has the fields of ``ProofBundleOut`` but
``credential``, which the listing carries beside it (a test keeps them equal).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.alias_generators import to_camel

from api.schemas.common import LogProofOut, ProvinceCode, one_way_of
from registry.calendar import Day
from registry.enforcement.audit import ACTIONS
from registry.enforcement.search import CHECK_MISMATCH, MAX_CHECK, ListingQuery
from registry.enforcement.webhooks import KINDS, URL_PATTERN
from registry.ids import CreditCodeText, ResidentIdText
from registry.text import OrganisationName, Printable

__all__ = [
    "AccessEntryOut",
    "AccessTrailOut",
    "CheckIn",
    "CheckListingOut",
    "CheckOut",
    "CheckRowErrorOut",
    "CheckRowIn",
    "CheckedPartyOut",
    "DeliveriesOut",
    "DeliveryOut",
    "FeedChangeOut",
    "FeedPageOut",
    "ListingChangeOut",
    "ListingOut",
    "ListingStatusOut",
    "PublicEntryOut",
    "PublicListOut",
    "PublicRelatedPersonOut",
    "SearchIn",
    "SearchOut",
    "SecretOut",
    "SubscriptionFilterOut",
    "SubscriptionIn",
    "SubscriptionListedOut",
    "SubscriptionOut",
    "SubscriptionsOut",
]

IsoDateTime = Annotated[
    dt.datetime,
    # As ``datetime.isoformat`` writes it (``+00:00``), as these answers always have.
    PlainSerializer(dt.datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# -- requests ---------------------------------------------------------------------------


class SearchIn(BaseModel):
    """Whom to look for (exactly one of credit code, ID number or name), where, when."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=one_way_of(("credit_code",), ("id_number",), ("name",)),
    )

    credit_code: CreditCodeText | None = Field(
        default=None, description="Unified social credit code."
    )
    id_number: ResidentIdText | None = Field(
        default=None, repr=False, description="Resident ID number (GB 11643)."
    )
    name: OrganisationName | None = Field(
        default=None,
        max_length=200,
        description="A name, width and spacing aside: every listing naming it, a near "
        "one, or one holding every word given (words of two characters or more, "
        "separated by spaces), comes back as a possible match only (a name identifies "
        "no one). A "
        "person's or an organisation's: the characters an organisation's name may hold.",
    )
    region: ProvinceCode | None = Field(
        default=None,
        description="Where the inspection takes place (`CN-xx`): every listing binds there.",
    )
    decided_by: ProvinceCode | None = Field(
        default=None, description="Only listings this authority decided (`CN-xx`)."
    )
    date: Day | None = Field(default=None, description="The day asked about (default today).")

    def query(self) -> ListingQuery:
        """The domain's question."""
        return ListingQuery(
            credit_code=self.credit_code,
            id_number=self.id_number,
            name=self.name,
            region=self.region,
            decided_by=self.decided_by,
            on=self.date,
        )


class CheckIn(BaseModel):
    """Up to 10,000 parties to check, each by credit code or ID number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_CHECK,
        description='Each `{"credit_code": ...}` or `{"id_number": ...}`; a bad row is '
        "answered as that row's error.",
    )
    region: ProvinceCode | None = Field(
        default=None, description="Where the inspection takes place."
    )
    decided_by: ProvinceCode | None = Field(
        default=None, description="Only this authority's listings."
    )
    date: Day | None = Field(default=None, description="The day asked about (default today).")


class CheckRowIn(BaseModel):
    """One row of a bulk check: a credit code or an ID number."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    credit_code: Printable | None = None
    id_number: Printable | None = Field(default=None, repr=False)


_Kind = Annotated[Printable, WithJsonSchema({"type": "string", "enum": list(KINDS)})]


class SubscriptionIn(BaseModel):
    """Where to send changes, and which."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: Annotated[
        Printable, WithJsonSchema({"type": "string", "maxLength": 2000, "pattern": URL_PATTERN})
    ] = Field(
        max_length=2000,
        description="An http or https URL that takes a POST, whose host resolves only to "
        "public addresses (unless the node allows the network).",
    )
    credit_codes: list[CreditCodeText] = Field(
        min_length=1,
        max_length=10_000,
        description="Organisations to follow: listings naming them, and registrations of "
        "engineers they employ, with every change of those.",
    )
    kinds: list[Annotated[str, WithJsonSchema({"type": "string", "enum": list(KINDS)})]] | None = (
        Field(default=None, description=f"Only these kinds of change: {', '.join(KINDS)}.")
    )


# -- POST /v1/blacklist/search ----------------------------------------------------------


class ListingStatusOut(_Out):
    """A listing's status on the day asked, and the day it began."""

    status: str = Field(
        description="`in-force` (all a search answers), `not-yet-in-force`, `lifted`, "
        "`expired`, `withdrawn`, `revoked` or `superseded` (by a correction)."
    )
    since: dt.date


class ListingChangeOut(_Out):
    """A state change of a listing, as its signed StatusChange records it."""

    id: str = Field(description="The StatusChange credential's id.")
    action: str
    from_: str = Field(alias="from", description="The state before.")
    to: str = Field(description="The state after.")
    effective_on: dt.date
    recorded_at: IsoDateTime
    reason: str | None
    decision_number: str | None


class ListingOut(_Out):
    """A listing that names the party: how, what it decided, its status and history,
    the signed credential and its inclusion proof."""

    id: str = Field(description="The listing credential's id.")
    decided_by: str = Field(description="The deciding authority.", examples=["CN-AH"])
    matched_as: str = Field(description="The role the listing names the party in.")
    matched_name: str = Field(description="The name the listing gives the party.")
    listed: dict[str, Any] = Field(description="Whom it lists, as the credential states it.")
    related_persons: list[dict[str, Any]] = Field(
        description="Related persons, as the credential states them."
    )
    legal_basis: str
    penalty_decision_number: str
    listing_decision_number: str
    listed_on: dt.date
    earliest_removal_on: dt.date
    expires_on: dt.date
    measures: list[str]
    measure_codes: list[str] = Field(
        description="The measures coded (措施代码: `registry.labels.MEASURE`), if the "
        "listing codes them; empty otherwise."
    )
    measure_labels: list[str] = Field(description="The Chinese label of each coded measure.")
    status: ListingStatusOut | None
    history: list[ListingChangeOut] = Field(description="Its state changes, as recorded.")
    credential: dict[str, Any] = Field(description="The signed listing credential.")
    proof: LogProofOut


class SearchOut(_Out):
    """Matches (by credit code or ID number) and possible matches (by name), never
    mixed: a name identifies no one, so a search by name answers only possible
    matches."""

    query: dict[str, str] = Field(
        description="The question as answered: `by`, then `creditCode`, `residentIdMasked` "
        "or `name`, `region` and `decidedBy` if given, and `date`. A credit code whose "
        "check character does not match is searched for as given, and `creditCodeCheck` "
        f"says `{CHECK_MISMATCH}`: probably mistyped (or an early pilot code), so that no "
        "listing found is no clean answer."
    )
    listings: list[ListingOut] = Field(
        description="Listings naming the party by the credit code or ID number asked."
    )
    possible_matches: list[ListingOut] = Field(
        description="Listings naming someone of the name asked, a near one or one "
        "holding every word asked: "
        "possibly the party, never surely (the same names are common)."
    )


# -- POST /v1/blacklist/check -----------------------------------------------------------


class CheckListingOut(_Out):
    """A listing in force against a checked party."""

    id: str
    decided_by: str
    matched_as: str
    listing_decision_number: str
    listed_on: dt.date
    expires_on: dt.date
    measure_codes: list[str] = Field(
        description="The measures coded (措施代码), if the listing codes them."
    )
    measure_labels: list[str] = Field(description="The Chinese label of each coded measure.")


class CheckedPartyOut(_Out):
    """A row checked: the party (an ID number masked) and the listings against it."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(description="The row's number, from 1.")
    party: str
    listed: bool
    status: Literal["listed", "not-listed", "check-character-does-not-match"] = Field(
        description="`listed`, `not-listed`, or `check-character-does-not-match`: no listing "
        "names the credit code, whose check character does not match (probably mistyped, "
        "perhaps an early pilot code): check the code, never read it as not listed."
    )
    listings: list[CheckListingOut]
    date: dt.date


class CheckRowErrorOut(_Out):
    """A row that could not be checked, and why."""

    model_config = ConfigDict(extra="forbid")

    row: int = Field(description="The row's number, from 1.")
    error: str


class CheckOut(_Out):
    """One result per row, in order."""

    results: list[CheckedPartyOut | CheckRowErrorOut]


# -- GET /v1/blacklist/public -----------------------------------------------------------


class PublicRelatedPersonOut(_Out):
    """A related person as the public list shows them."""

    role: str
    name: str
    resident_id_masked: str


class PublicEntryOut(_Out):
    """A listing in force, as the public list shows it."""

    decided_by: str
    kind: Literal["organisation", "person"]
    name: str
    identifier: str = Field(description="The credit code, or the masked ID number.")
    related_persons: list[PublicRelatedPersonOut]
    legal_basis: str
    penalty_decision_number: str
    listing_decision_number: str
    listed_on: dt.date
    earliest_removal_on: dt.date
    expires_on: dt.date
    measures: list[str]
    measure_codes: list[str] = Field(
        description="The measures coded (措施代码), if the listing codes them."
    )
    measure_labels: list[str] = Field(description="The Chinese label of each coded measure.")
    id: str


class PublicListOut(_Out):
    """The public list on one day."""

    date: dt.date
    region: str | None = Field(description="The one deciding authority, if asked.")
    columns: dict[str, str] = Field(description="Each entry's keys, with their Chinese headers.")
    entries: list[PublicEntryOut]


# -- GET /v1/audit/access ---------------------------------------------------------------


class AccessEntryOut(_Out):
    """One search, check or verification: when, who, what, how much; the criteria only
    as a hash."""

    id: int
    at: IsoDateTime
    token_id: int
    role: str
    action: str = Field(description=", ".join(ACTIONS))
    criteria_hash: str = Field(description="HMAC-SHA256 (hex) under the node secret.")
    rows: int
    results: int


class AccessTrailOut(_Out):
    """A page of the access audit, newest first."""

    entries: list[AccessEntryOut]
    next: int | None = Field(description="The `before` of the following page.")


# -- GET /v1/changes --------------------------------------------------------------------


def _absent(value: object) -> bool:
    return value is None


class FeedChangeOut(_Out):
    """One change, with its log position; `target`, `action` and `effectiveOn` only
    for a state change."""

    id: str = Field(description="`authority/leafIndex`: unique and stable.")
    authority: str
    leaf_index: int
    recorded_at: IsoDateTime
    kind: Literal["listing", "listing-change", "registration", "registration-change"]
    record_type: str
    credential_id: str
    target: str | None = Field(default=None, exclude_if=_absent)
    action: str | None = Field(default=None, exclude_if=_absent)
    effective_on: str | None = Field(default=None, exclude_if=_absent)
    credential: dict[str, Any] = Field(description="The signed credential.")


class FeedPageOut(_Out):
    """A page of changes, the cursor to ask with next, and whether more is waiting."""

    changes: list[FeedChangeOut]
    next: str
    more: bool


# -- /v1/subscriptions ------------------------------------------------------------------


class SubscriptionFilterOut(_Out):
    """What a subscription follows."""

    credit_codes: list[str]
    kinds: list[str]


class SubscriptionOut(_Out):
    """A subscription just made, with its secret (shown this once)."""

    id: str
    url: str
    filter: SubscriptionFilterOut
    secret: str = Field(description="Signs every delivery; shown this once.")


class SubscriptionListedOut(_Out):
    """One of the caller's subscriptions (its secret is never shown again)."""

    id: str
    url: str
    filter: SubscriptionFilterOut
    created_at: IsoDateTime


class SubscriptionsOut(_Out):
    """The caller's subscriptions, oldest first."""

    subscriptions: list[SubscriptionListedOut]


class SecretOut(_Out):
    """A subscription's new secret, shown this once."""

    id: str
    secret: str = Field(
        description="Signs every delivery attempt from now on (those pending too); shown this once."
    )


class DeliveryOut(_Out):
    """One delivery and its state."""

    id: str
    change: str = Field(description="The change's `id` in the feed.")
    state: str = Field(description="`pending` or `delivered`.")
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: IsoDateTime | None
    delivered_at: IsoDateTime | None


class DeliveriesOut(_Out):
    """A subscription's deliveries, oldest first."""

    deliveries: list[DeliveryOut]

"""The untrustworthiness list for inspectors: searching every province's listings.

POST only: resident ID numbers never go into a URL, where access logs would keep
them. Nothing is written.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_role
from api.deps import DbSession
from api.examples import blacklist_search_examples
from api.schemas import Problem
from registry.enforcement.search import Found, ListingQuery, SearchResult, search_listings
from registry.issuing.context import china_today
from registry.storage.db import begin_snapshot

__all__ = ["router"]

router = APIRouter(prefix="/v1/blacklist", tags=["enforcement"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid token."},
    403: {"model": Problem, "description": "The token's role is not `enforcement`."},
    422: {"model": Problem, "description": "The request is invalid; each bad field is named."},
}


class SearchIn(BaseModel):
    """Whom to look for (exactly one of credit code, ID number or name), where, when."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    credit_code: str | None = Field(default=None, description="Unified social credit code.")
    id_number: str | None = Field(
        default=None, repr=False, description="Resident ID number (GB 11643)."
    )
    name: str | None = Field(
        default=None,
        max_length=200,
        description="Exact name, width and spacing aside; near names come back apart.",
    )
    region: str | None = Field(
        default=None,
        description="Where the inspection takes place (`CN-xx`): every listing binds there.",
    )
    decided_by: str | None = Field(
        default=None, description="Only listings this authority decided (`CN-xx`)."
    )
    date: dt.date | None = Field(default=None, description="The day asked about (default today).")

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


def _listing(found: Found, result: SearchResult) -> dict[str, Any]:
    document = found.document
    subject = document["credentialSubject"]
    status = found.status
    index, size, hashes = result.proofs[found.credential_id]
    return {
        "id": found.credential_id,
        "decidedBy": found.authority,
        "matchedAs": found.role,
        "matchedName": found.matched_name,
        "listed": subject["listed"],
        "relatedPersons": subject["relatedPersons"],
        "legalBasis": subject["legalBasis"],
        "penaltyDecisionNumber": subject["penaltyDecisionNumber"],
        "listingDecisionNumber": subject["listingDecisionNumber"],
        "listedOn": subject["listedOn"],
        "earliestRemovalOn": subject["earliestRemovalOn"],
        "expiresOn": subject["expiresOn"],
        "measures": subject["measures"],
        "status": {"status": status.status, "since": status.since.isoformat()} if status else None,
        "history": [
            {
                "id": change.credential_id,
                "action": change.action,
                "from": change.state_before,
                "to": change.state_after,
                "effectiveOn": change.effective_on.isoformat(),
                "recordedAt": change.recorded_at.isoformat(),
                "reason": change.reason,
                "decisionNumber": change.decision_number,
            }
            for change in found.changes
        ],
        "credential": document,
        "proof": {
            "authority": found.authority,
            "leafIndex": index,
            "treeSize": size,
            "inclusionProof": [base64.b64encode(h).decode("ascii") for h in hashes],
            "checkpoint": result.checkpoints[found.authority],
        },
    }


@router.post(
    "/search",
    summary="Listings in force against a party, across every province",
    responses={
        200: {
            "description": (
                "Every listing in force on the day asked that names the party, whichever "
                "province decided it: exact matches in `listings`, names that may be the "
                "party's in `possibleMatches` (never mixed). Each with the deciding "
                "authority, legal basis, decision numbers, dates, measures, its history "
                "of state changes, the signed credential and its inclusion proof."
            )
        },
        **_ERRORS,
    },
)
def search(
    request: Request,
    session: DbSession,
    body: Annotated[SearchIn, Body(openapi_examples=blacklist_search_examples())],
    _role: Annotated[str, Depends(require_role("enforcement"))],
) -> dict[str, Any]:
    """Search by credit code, ID number or exact name; the dates decide what is in
    force (listing date, lift, reversal, withdrawal, expiry after three years)."""
    session.commit()  # the token check's transaction; the search reads one snapshot
    begin_snapshot(session)
    context = request.app.state.issuing
    result = search_listings(
        session,
        body.query(),
        node_secret=context.node_secret,
        today=china_today(dt.datetime.now(dt.UTC)),
        subtrees=request.app.state.verifier.subtrees,
    )
    return {
        "query": result.query,
        "listings": [_listing(f, result) for f in result.matches],
        "possibleMatches": [_listing(f, result) for f in result.possible],
    }

"""The untrustworthiness list for inspectors: searching every province's listings.

POST only: resident ID numbers never go into a URL, where access logs would keep
them. The only thing written is the access audit's entry for each search and check,
which commits with the request's session before the answer is sent: on the primary,
where a node with a read replica reads the listings from the replica.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import ValidationError

from api.auth import require_caller
from api.deps import (
    DbSession,
    Issuing,
    ReadOnly,
    Verifier,
    WritingSnapshot,
    replica_reads_of,
)
from api.errors import problem_responses
from api.examples import blacklist_check_examples, blacklist_search_examples
from api.limits import JSON_BODY, TABLE_BODY, GatedRoute, body_limit, too_large
from api.rates import rate_limit
from api.schemas.common import LogProofOut, ProvinceCode, csv_header_schema
from api.schemas.enforcement import (
    CheckIn,
    CheckOut,
    CheckRowIn,
    ListingChangeOut,
    ListingOut,
    ListingStatusOut,
    PublicEntryOut,
    PublicListOut,
    SearchIn,
    SearchOut,
)
from api.tables import csv_answer, csv_rows, invalid_fields
from registry.calendar import china_today
from registry.enforcement import listing_terms, measure_codes, measure_labels
from registry.enforcement.inspection import CheckQuery, CheckResult, check_audited, search_audited
from registry.enforcement.public import COLUMNS, public_csv, public_xlsx, read_public_list
from registry.enforcement.search import (
    CHECK_MISMATCH,
    MAX_CHECK,
    Checked,
    CheckRow,
    Found,
    SearchResult,
)
from registry.tokens import Caller

__all__ = ["router"]

router = APIRouter(prefix="/v1/blacklist", tags=["enforcement"], route_class=GatedRoute)

_ERRORS = problem_responses(401, (403, "The token's role is not `enforcement`."), 422)
_Inspector = Annotated[Caller, Depends(require_caller("enforcement"))]


def _listing(found: Found, result: SearchResult) -> ListingOut:
    document = found.document
    subject = document["credentialSubject"]
    status = found.status
    index, size, hashes = result.proofs[found.credential_id]
    return ListingOut(
        id=found.credential_id,
        decided_by=found.authority,
        matched_as=found.role,
        matched_name=found.matched_name,
        listed=subject["listed"],
        related_persons=subject["relatedPersons"],
        **listing_terms(subject),
        measure_codes=measure_codes(subject),
        measure_labels=measure_labels(subject),
        status=ListingStatusOut(status=status.status, since=status.since) if status else None,
        history=[
            ListingChangeOut(
                id=change.credential_id,
                action=change.action,
                from_=change.state_before,
                to=change.state_after,
                effective_on=change.effective_on,
                recorded_at=change.recorded_at,
                reason=change.reason,
                decision_number=change.decision_number,
            )
            for change in found.changes
        ],
        credential=document,
        proof=LogProofOut(
            authority=found.authority,
            leaf_index=index,
            tree_size=size,
            inclusion_proof=[base64.b64encode(h).decode("ascii") for h in hashes],
            checkpoint=result.checkpoints[found.authority],
        ),
    )


@router.post(
    "/search",
    summary="Listings in force against a party, across every province",
    openapi_extra={**body_limit(JSON_BODY), **rate_limit("search")},
    responses={
        200: {
            "description": (
                "Every listing in force on the day asked that names the party, whichever "
                "province decided it: by credit code or ID number in `listings`; by name "
                "in `possibleMatches` only, the same name, a near one or one holding "
                "every word asked (a name "
                "identifies no one: `listings` is then empty). Each with the deciding "
                "authority, legal basis, decision numbers, dates, measures, its history "
                "of state changes, the signed credential and its inclusion proof."
            )
        },
        **_ERRORS,
        **too_large(JSON_BODY),
    },
)
def search(
    request: Request,
    *,
    caller: _Inspector,
    session: WritingSnapshot,
    issuing: Issuing,
    verifier: Verifier,
    body: Annotated[SearchIn, Body(openapi_examples=blacklist_search_examples())],
) -> SearchOut:
    """Search by credit code, ID number or name (a name's hits are possible matches
    only); the dates decide what is in force (listing date, lift, reversal,
    withdrawal, expiry after three years). Each search is recorded in the access
    audit (`GET /v1/audit/access`)."""
    result = search_audited(
        session,
        body.query(),
        caller=caller,
        lookup=issuing.lookup,
        node_secret=issuing.node_secret,
        now=dt.datetime.now(dt.UTC),
        subtrees=verifier.subtrees,
        reads=replica_reads_of(request),
    )
    return SearchOut(
        query=result.query,
        listings=[_listing(f, result) for f in result.matches],
        possible_matches=[_listing(f, result) for f in result.possible],
    )


_CHECK_COLUMNS = ("credit_code", "id_number")


def _check_query(request: Request, body: bytes) -> CheckQuery:
    """The check asked, as JSON or CSV (the other settings as query parameters); a
    row that is not a party is kept as its error. Raises ``InvalidInput``."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.startswith("text/csv"):
        raw: list[dict[str, Any]] = list(csv_rows(body, _CHECK_COLUMNS, max_rows=MAX_CHECK))
        try:
            options = CheckIn.model_validate({"rows": raw, **dict(request.query_params)})
        except ValidationError as exc:
            raise invalid_fields(exc, "check") from exc
    else:
        try:
            options = CheckIn.model_validate_json(body)
        except ValidationError as exc:
            raise invalid_fields(exc, "check") from exc
        raw = options.rows
    rows: list[CheckRow | str] = []
    for row in raw:
        try:
            parsed = CheckRowIn.model_validate(row)
        except ValidationError as exc:
            rows.append(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            )
            continue
        rows.append(CheckRow(credit_code=parsed.credit_code, id_number=parsed.id_number))
    return CheckQuery(rows, region=options.region, decided_by=options.decided_by, on=options.date)


async def _raw_body(request: Request) -> bytes:
    # Read on the event loop; the check itself runs on a worker thread.
    return await request.body()


@router.post(
    "/check",
    summary="Check up to 10,000 parties at once (JSON or CSV in, JSON or CSV out)",
    openapi_extra={
        **body_limit(TABLE_BODY),
        **rate_limit("batch"),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": CheckIn.model_json_schema(),
                    "examples": blacklist_check_examples(),
                },
                "text/csv": {
                    "schema": csv_header_schema(_CHECK_COLUMNS),
                    "example": "credit_code,id_number\n"
                    + "\n".join(
                        f"{r.get('credit_code', '')},{r.get('id_number', '')}"
                        for r in blacklist_check_examples()["mixed"]["value"]["rows"]
                    ),
                },
            },
        },
    },
    responses={
        200: {
            "model": CheckOut,
            "description": (
                "One result per row, in order: the party (an ID number masked), whether a "
                "listing is in force against it that day anywhere in the federation, and "
                "which; or the row's error. `Accept: text/csv` answers as CSV (UTF-8 with "
                "a BOM). For the history and proofs of a listing, search for it."
            ),
            "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
        },
        **_ERRORS,
        **too_large(TABLE_BODY),
    },
)
def check(
    request: Request,
    caller: _Inspector,
    body: Annotated[bytes, Depends(_raw_body)],
    session: WritingSnapshot,
    issuing: Issuing,
) -> Response:
    """Every row answered; a bad row is answered with its error, never dropped.
    The check is recorded in the access audit."""
    checked = check_audited(
        session,
        _check_query(request, body),
        caller=caller,
        lookup=issuing.lookup,
        node_secret=issuing.node_secret,
        now=dt.datetime.now(dt.UTC),
        reads=replica_reads_of(request),
    )
    results = _results(checked)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_check_csv(results), media_type="text/csv; charset=utf-8")
    # Built by hand (as `CheckOut` documents it): 10,000 rows through a model cost more.
    return Response(
        json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
    )


def _status(result: Checked) -> str:
    if result.listings:
        return "listed"
    return CHECK_MISMATCH if result.check_mismatch else "not-listed"


def _results(checked: CheckResult) -> list[dict[str, Any]]:
    """Each row as `CheckedPartyOut` or `CheckRowErrorOut` spell it."""
    on = checked.on.isoformat()
    out: list[dict[str, Any]] = []
    for number, result in enumerate(checked.parties, start=1):
        if result.error is not None:
            out.append({"row": number, "error": result.error})
            continue
        out.append(
            {
                "row": number,
                "party": result.party,
                "listed": bool(result.listings),
                "status": _status(result),
                "listings": [
                    {
                        "id": f.credential_id,
                        "decidedBy": f.authority,
                        "matchedAs": f.role,
                        "listingDecisionNumber": f.document["credentialSubject"][
                            "listingDecisionNumber"
                        ],
                        "listedOn": f.document["credentialSubject"]["listedOn"],
                        "expiresOn": f.document["credentialSubject"]["expiresOn"],
                        "measureCodes": measure_codes(f.document["credentialSubject"]),
                        "measureLabels": measure_labels(f.document["credentialSubject"]),
                    }
                    for f in result.listings
                ],
                "date": on,
            }
        )
    return out


_LISTED_CELL = {
    "listed": "yes",
    "not-listed": "no",
    CHECK_MISMATCH: "check character does not match",
}


def _check_csv(results: list[dict[str, Any]]) -> str:
    def line(result: dict[str, Any]) -> list[object]:
        listings = result.get("listings", [])
        return [
            result["row"],
            result.get("party", ""),
            "" if "error" in result else _LISTED_CELL[result["status"]],
            " ".join(x["decidedBy"] for x in listings),
            " ".join(x["listingDecisionNumber"] for x in listings),
            " ".join(x["listedOn"] for x in listings),
            result.get("error", ""),
        ]

    header = [
        "row",
        "party",
        "listed",
        "decided_by",
        "listing_decision_numbers",
        "listed_on",
        "error",
    ]
    return csv_answer(header, (line(result) for result in results))


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/public",
    summary="The public list: organisations and persons listed and in force today",
    response_model=PublicListOut,
    responses={
        200: {
            "description": (
                "No token needed. Listings in force today (of one deciding authority with "
                "`region`): organisations by name and credit code, persons by name and "
                "masked ID number, with the legal basis, decision numbers, dates and "
                "measures. Lifted, withdrawn and expired listings are not in it (they stay "
                "in the logs). `format=csv` (UTF-8 with a BOM) and `format=xlsx` have "
                "Chinese headers, for Excel and WPS."
            ),
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                _XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problem_responses((422, "An unknown region or format.")),
    },
)
def public_list(
    session: DbSession,
    reads: ReadOnly,
    region: Annotated[
        ProvinceCode | None, Query(description="Only this authority's listings (`CN-xx`).")
    ] = None,
    format_: Annotated[
        Literal["json", "csv", "xlsx"], Query(alias="format", description="json, csv or xlsx.")
    ] = "json",
) -> PublicListOut | Response:
    """What the rules publish, computed for today from the dates of each listing."""
    on = china_today(dt.datetime.now(dt.UTC))
    listed = reads.read(lambda s: read_public_list(s, on=on, region=region), session=session)
    day = listed.on.isoformat()
    stem = f"untrustworthiness-list-{listed.region or 'all'}-{day}"
    if format_ == "csv":
        return Response(
            public_csv(listed.entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    if format_ == "xlsx":
        title = f"安全生产严重失信主体名单 {day}"
        return Response(
            public_xlsx(listed.entries, title=title),
            media_type=_XLSX,
            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
        )
    return PublicListOut(
        date=listed.on,
        region=listed.region,
        columns=dict(COLUMNS),
        entries=[PublicEntryOut.model_validate(entry.values) for entry in listed.entries],
    )

"""The untrustworthiness list for inspectors: searching every province's listings.

POST only: resident ID numbers never go into a URL, where access logs would keep
them. The only thing written is the access audit's entry for each search and check.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import require_caller
from api.deps import DbSession, engine_of
from api.errors import problem_responses
from api.examples import blacklist_check_examples, blacklist_search_examples
from api.tables import csv_answer, csv_rows, invalid_fields
from registry.calendar import china_today
from registry.enforcement import listing_terms
from registry.enforcement.audit import criteria_hash, record_access
from registry.enforcement.public import COLUMNS, public_csv, public_entries, public_xlsx
from registry.enforcement.search import (
    MAX_CHECK,
    CheckRow,
    Found,
    ListingQuery,
    SearchResult,
    check_parties,
    search_listings,
)
from registry.ids import province
from registry.storage.db import begin_snapshot, session_scope
from registry.tokens import Caller

__all__ = ["router"]

router = APIRouter(prefix="/v1/blacklist", tags=["enforcement"])

_ERRORS = problem_responses(401, (403, "The token's role is not `enforcement`."), 422)


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
        **listing_terms(subject),
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
    caller: Annotated[Caller, Depends(require_caller("enforcement"))],
) -> dict[str, Any]:
    """Search by credit code, ID number or exact name; the dates decide what is in
    force (listing date, lift, reversal, withdrawal, expiry after three years).
    Each search is recorded in the access audit (`GET /v1/audit/access`)."""
    session.commit()  # the token check's transaction; the search reads one snapshot
    begin_snapshot(session)
    context = request.app.state.issuing
    now = dt.datetime.now(dt.UTC)
    result = search_listings(
        session,
        body.query(),
        node_secret=context.node_secret,
        today=china_today(now),
        subtrees=request.app.state.verifier.subtrees,
    )
    record_access(
        session,
        caller,
        action="blacklist-search",
        criteria=criteria_hash(result.criteria, node_secret=context.node_secret),
        rows=1,
        results=len(result.matches) + len(result.possible),
        now=now,
    )
    session.commit()  # the audit entry is written before the answer leaves
    return {
        "query": result.query,
        "listings": [_listing(f, result) for f in result.matches],
        "possibleMatches": [_listing(f, result) for f in result.possible],
    }


class CheckIn(BaseModel):
    """Up to 10,000 parties to check, each by credit code or ID number."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_CHECK,
        description='Each `{"credit_code": ...}` or `{"id_number": ...}`; a bad row is '
        "answered as that row's error.",
    )
    region: str | None = Field(default=None, description="Where the inspection takes place.")
    decided_by: str | None = Field(default=None, description="Only this authority's listings.")
    date: dt.date | None = Field(default=None, description="The day asked about (default today).")


class _CheckRowIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    credit_code: str | None = None
    id_number: str | None = Field(default=None, repr=False)


_CHECK_COLUMNS = ("credit_code", "id_number")


def _check_rows(request: Request, body: bytes) -> tuple[list[CheckRow | str], CheckIn]:
    content_type = request.headers.get("content-type", "application/json")
    if content_type.startswith("text/csv"):
        raw: list[dict[str, Any]] = list(csv_rows(body, _CHECK_COLUMNS))
        try:  # the other settings come as query parameters
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
            parsed = _CheckRowIn.model_validate(row)
        except ValidationError as exc:
            rows.append(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            )
            continue
        rows.append(CheckRow(credit_code=parsed.credit_code, id_number=parsed.id_number))
    return rows, options


@router.post(
    "/check",
    summary="Check up to 10,000 parties at once (JSON or CSV in, JSON or CSV out)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": CheckIn.model_json_schema(),
                    "examples": blacklist_check_examples(),
                },
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "credit_code,id_number\n"
                    + "\n".join(
                        f"{r.get('credit_code', '')},{r.get('id_number', '')}"
                        for r in blacklist_check_examples()["mixed"]["value"]["rows"]
                    ),
                },
            },
        }
    },
    responses={
        200: {
            "description": (
                "One result per row, in order: the party (an ID number masked), whether a "
                "listing is in force against it that day anywhere in the federation, and "
                "which; or the row's error. `Accept: text/csv` answers as CSV (UTF-8 with "
                "a BOM). For the history and proofs of a listing, search for it."
            ),
            "content": {"application/json": {}, "text/csv": {}},
        },
        **_ERRORS,
    },
)
async def check(
    request: Request,
    caller: Annotated[Caller, Depends(require_caller("enforcement"))],
) -> Response:
    """Every row answered; a bad row is answered with its error, never dropped.
    The check is recorded in the access audit."""
    body = await request.body()
    rows, options = _check_rows(request, body)
    results = await run_in_threadpool(_check_all, request, caller, rows, options)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(_check_csv(results), media_type="text/csv; charset=utf-8")
    return Response(
        json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
    )


def _check_all(
    request: Request, caller: Caller, rows: list[CheckRow | str], options: CheckIn
) -> list[dict[str, Any]]:
    context = request.app.state.issuing
    now = dt.datetime.now(dt.UTC)
    on = options.date or china_today(now)
    if options.region is not None:
        province(options.region)  # checked: every listing binds there
    with session_scope(engine_of(request)) as session:
        begin_snapshot(session)
        checked = check_parties(
            session, rows, node_secret=context.node_secret, on=on, decided_by=options.decided_by
        )
        criteria = {
            "by": "check",
            "rows": ",".join(c.key or "" for c in checked),
            "date": on.isoformat(),
            **({"decidedBy": options.decided_by} if options.decided_by else {}),
        }
        record_access(
            session,
            caller,
            action="blacklist-check",
            criteria=criteria_hash(criteria, node_secret=context.node_secret),
            rows=len(rows),
            results=sum(1 for c in checked if c.listings),
            now=now,
        )
    out: list[dict[str, Any]] = []
    for number, result in enumerate(checked, start=1):
        if result.error is not None:
            out.append({"row": number, "error": result.error})
            continue
        out.append(
            {
                "row": number,
                "party": result.party,
                "listed": bool(result.listings),
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
                    }
                    for f in result.listings
                ],
                "date": on.isoformat(),
            }
        )
    return out


def _check_csv(results: list[dict[str, Any]]) -> str:
    def line(result: dict[str, Any]) -> list[object]:
        listings = result.get("listings", [])
        return [
            result["row"],
            result.get("party", ""),
            "" if "error" in result else ("yes" if result["listed"] else "no"),
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
            "content": {"application/json": {}, "text/csv": {}, _XLSX: {}},
        },
        **problem_responses((422, "An unknown region or format.")),
    },
)
def public_list(
    session: DbSession,
    region: Annotated[
        str | None, Query(description="Only this authority's listings (`CN-xx`).")
    ] = None,
    format_: Annotated[
        Literal["json", "csv", "xlsx"], Query(alias="format", description="json, csv or xlsx.")
    ] = "json",
) -> Response:
    """What the rules publish, computed for today from the dates of each listing."""
    today = china_today(dt.datetime.now(dt.UTC))
    region = province(region).iso if region is not None else None
    entries = public_entries(session, on=today, region=region)
    stem = f"untrustworthiness-list-{region or 'all'}-{today.isoformat()}"
    if format_ == "csv":
        return Response(
            public_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    if format_ == "xlsx":
        title = f"安全生产严重失信主体名单 {today.isoformat()}"
        return Response(
            public_xlsx(entries, title=title),
            media_type=_XLSX,
            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
        )
    body = {
        "date": today.isoformat(),
        "region": region,
        "columns": dict(COLUMNS),
        "entries": [entry.values for entry in entries],
    }
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
    )

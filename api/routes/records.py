"""An authority finding its own records, and the receipts of its imports and batches."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from api.auth import require_caller
from api.deps import DbSession, Issuing, only_query
from api.errors import input_field, problem_responses
from api.limits import JSON_BODY, GatedRoute, body_limit, too_large
from api.schemas.records import (
    ChangeOut,
    FoundRecordOut,
    ReceiptLineOut,
    ReceiptOut,
    ReceiptsOut,
    ReceiptSummaryOut,
    RecordSearchIn,
    RecordsFoundOut,
)
from registry.enforcement.audit import criteria_hash, record_access
from registry.issuing.receipts import (
    list_receipts,
    read_receipt,
    receipt_csv,
    receipt_xlsx,
)
from registry.issuing.search import RecordQuery, audited_criteria, search_records
from registry.storage.models import Receipt
from registry.tokens import Caller

__all__ = ["imports", "records"]

records = APIRouter(prefix="/v1/records", tags=["credentials"], route_class=GatedRoute)
imports = APIRouter(prefix="/v1/imports", tags=["credentials"], route_class=GatedRoute)

_Issuer = Annotated[Caller, Depends(require_caller("issuer:*"))]
_Reader = Annotated[Caller, Depends(require_caller("issuer:*", "admin"))]
_PRIVATE = {"Cache-Control": "no-store"}
_ReceiptId = Annotated[str, Path(max_length=64, description="The receipt's id (`rcpt-...`).")]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@records.post(
    "/search",
    response_model=RecordsFoundOut,
    summary="Find the authority's own records",
    openapi_extra=body_limit(JSON_BODY),
    responses={
        **problem_responses(401, (403, "Not an issuer."), (422, "Invalid criteria.")),
        **too_large(JSON_BODY),
    },
)
def search(
    session: DbSession, issuing: Issuing, caller: _Issuer, body: Annotated[RecordSearchIn, Body()]
) -> Response:
    """For an issuing office (`issuer:CN-xx`): its own records, never another
    authority's, by any of ID number, name, certificate or registration number,
    import or batch receipt (`import_id`), type, state and the days it was issued
    (`issued_from`, `issued_until`, days in China, both included), all that are given
    holding (none: every record of the authority); newest first, `limit` (up to 200)
    from `offset`. Each has its state and its status changes, oldest first, to find
    what to correct or revoke.

    POST, so that an ID number never appears in a URL or a server log. A search by ID
    number is recorded in the access audit (action `records-search`); the answer is
    never cached."""
    query = RecordQuery(
        id_number=body.id_number,
        name=body.name,
        number=body.number,
        import_id=body.import_id,
        type=body.type,
        state=body.state,
        issued_from=body.issued_from,
        issued_until=body.issued_until,
    )
    authority = caller.role.removeprefix("issuer:")
    with input_field("id_number"):
        audited = audited_criteria(query, node_secret=issuing.node_secret)
    found = search_records(
        session,
        query,
        authority=authority,
        lookup=issuing.lookup,
        limit=body.limit,
        offset=body.offset,
    )
    if audited is not None:
        record_access(
            session,
            caller,
            action="records-search",
            criteria=criteria_hash(audited, node_secret=issuing.node_secret),
            rows=1,
            results=len(found.records),
            now=dt.datetime.now(dt.UTC),
        )
    answer = RecordsFoundOut(
        records=[
            FoundRecordOut(
                credential_id=r.credential_id,
                type=r.type,
                number=r.number,
                state=r.state,
                issued_at=r.issued_at,
                name=r.name,
                masked=r.masked,
                credit_code=r.credit_code,
                replaces=r.replaces,
                import_id=r.import_id,
                changes=[ChangeOut.of(c) for c in r.changes],
            )
            for r in found.records
        ],
        next_offset=found.next_offset,
    )
    return Response(answer.model_dump_json(), media_type="application/json", headers=_PRIVATE)


def _summary(receipt: Receipt) -> ReceiptSummaryOut:
    return ReceiptSummaryOut(
        id=receipt.id,
        kind="import" if receipt.kind == "import" else "batch",
        authority=receipt.authority_code,
        type=receipt.type,
        file_name=receipt.file_name,
        issued_by=receipt.actor,
        role=receipt.role,
        rows=receipt.rows,
        created_at=receipt.created_at,
    )


_READ_ERRORS = problem_responses(
    401, (403, "Not the issuer of the receipt's authority, nor admin."), (404, "No such receipt.")
)


@imports.get(
    "",
    summary="The imports and batches of the authority",
    responses=problem_responses(401, (403, "Neither an issuer nor admin."), 422),
    dependencies=[only_query("limit", "offset")],
)
def list_imports(
    session: DbSession,
    caller: _Reader,
    limit: Annotated[int, Query(ge=1, le=200, description="Receipts per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Receipts to skip.")] = 0,
) -> ReceiptsOut:
    """Every `registry import` and `POST /v1/credentials/batch` of the caller's
    authority (`admin`: of every authority), newest first: who, when, which file,
    which type, how many rows."""
    receipts, total = list_receipts(session, role=caller.role, limit=limit, offset=offset)
    return ReceiptsOut(receipts=[_summary(r) for r in receipts], total=total)


@imports.get(
    "/{receipt_id}",
    summary="An import's receipt",
    responses={**_READ_ERRORS, **problem_responses((422, "An unknown parameter."))},
    dependencies=[only_query()],
)
def read_import(session: DbSession, caller: _Reader, receipt_id: _ReceiptId) -> ReceiptOut:
    """The receipt: each input row (its row number in the file, or its index in the
    batch) and the credential it became, with its type and leaf index. It names no
    person: disclosures are handed out separately."""
    view = read_receipt(session, receipt_id, role=caller.role)
    return ReceiptOut(
        **_summary(view.receipt).model_dump(),
        lines=[
            ReceiptLineOut(
                row=line.row,
                credential_id=line.credential_id,
                type=line.type,
                leaf_index=line.leaf_index,
            )
            for line in view.lines
        ],
    )


@imports.get(
    "/{receipt_id}/receipt",
    summary="An import's receipt as CSV or XLSX",
    response_class=Response,
    responses={
        200: {
            "description": (
                "The receipt with Chinese headers (行号, 凭证编号, 类型, 类型名称, 日志序号): "
                "CSV in UTF-8 with a byte-order mark, or XLSX."
            ),
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                _XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **_READ_ERRORS,
        **problem_responses((422, "An unknown format or parameter.")),
    },
    dependencies=[only_query("format")],
)
def receipt_file(
    session: DbSession,
    caller: _Reader,
    receipt_id: _ReceiptId,
    file_format: Annotated[
        Literal["csv", "xlsx"], Query(alias="format", description="`csv` or `xlsx`.")
    ] = "csv",
) -> Response:
    """The receipt as a file to keep beside the spreadsheet it came from."""
    view = read_receipt(session, receipt_id, role=caller.role)
    name = f"{receipt_id}.{file_format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', **_PRIVATE}
    if file_format == "csv":
        return Response(receipt_csv(view), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(receipt_xlsx(view), media_type=_XLSX, headers=headers)

"""Verifying engineers: one, with a signed report, or up to 10,000 at once (JSON, CSV
or XLSX, raw or uploaded from a form).

POST only: resident ID numbers never go into a URL, where access logs would keep
them. Each verification is recorded in the access audit (who asked, when, a keyed
hash of what, how many were found; never an ID number), committed before the answer
is sent: an answer is never given for a question the audit does not hold.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import require_caller
from api.deps import Issuing, Verifier, reads_of
from api.errors import problem_responses
from api.examples import verify_batch_examples, verify_examples
from api.languages import answer_language, chinese_by_default, preferred_language
from api.limits import JSON_BODY, TABLE_BODY, GatedRoute, body_limit, too_large
from api.rates import rate_limit
from api.schemas.common import SignedDocument, csv_header_schema
from api.schemas.verification import EngineerIn, VerifyBatchIn, VerifyBatchOut
from api.tables import csv_answer, invalid_fields
from api.uploads import Upload, upload_of
from api.verifying import judge_rows, table_rows, verify_one
from registry.messages import translate
from registry.spreadsheets import XLSX_MEDIA_TYPE, xlsx_bytes
from registry.tokens import Caller
from registry.verification.batch import (
    BATCH_COLUMNS,
    answer_table,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/verify", tags=["verification"], route_class=GatedRoute)

_ROLES = ("verifier", "enforcement", "admin")
_VERIFIER = Depends(require_caller(*_ROLES))
_ERRORS = problem_responses(401, (403, "The token's role may not verify."), 422)


def _engineer_in(body: bytes) -> EngineerIn:
    try:
        return EngineerIn.model_validate_json(body)
    except ValidationError as exc:
        # As FastAPI reports a body it validated; without the input, which may hold
        # an ID number.
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        ) from None


@router.post(
    "/engineer",
    summary="Whether a person may work as a junior registered safety engineer in a region",
    openapi_extra={
        **body_limit(JSON_BODY),
        **rate_limit("verify"),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": EngineerIn.model_json_schema(),
                    "examples": verify_examples(),
                }
            },
        },
    },
    responses={
        200: {
            "description": (
                "A `VerificationReport` credential signed by this node's key (listed in "
                "the trust list for that type): the verdict with its reasons in Chinese "
                "and English, the records relied on, continuing education credit by "
                "credit, listings in force anywhere, every log the node holds (what was not "
                "found rests on them all) with when this node last confirmed it with its "
                "origin (`logs`; one confirmed longer ago than "
                "the node's bound is said to be stale, `mirror-stale`, beside a verdict it "
                "does not change), and each log's checkpoint with an inclusion proof per "
                "credential. `registry verify` checks it offline."
            ),
            "model": SignedDocument,
        },
        **_ERRORS,
        **too_large(JSON_BODY),
    },
)
async def verify_engineer(request: Request, caller: Annotated[Caller, _VERIFIER]) -> Response:
    """Judge the person on the day asked (default today) and answer with a signed
    report. Someone the registry holds nothing on gets a report saying so."""
    # The token was checked before the body was read (api.limits): 401 before 422.
    query = _engineer_in(await request.body()).query()
    report = await verify_one(request, query, caller)
    # The body is the report's canonical form: byte for byte what was signed, proof
    # included.
    return Response(report.canonical, media_type="application/json")


_CSV_COLUMNS = tuple(BATCH_COLUMNS)


def _rows_of(upload: Upload) -> list[dict[str, Any]]:
    if upload.kind in ("csv", "xlsx"):
        return table_rows(upload)
    try:
        return VerifyBatchIn.model_validate_json(upload.body).rows
    except ValidationError as exc:
        raise invalid_fields(exc, "batch") from exc


def _answer_kind(request: Request, upload: Upload) -> str:
    # An explicit Accept decides; otherwise the answer is in the format asked in (a
    # browser's */* among them).
    accept = request.headers.get("accept", "")
    for media, kind in (
        ("application/json", "json"),
        ("text/csv", "csv"),
        (XLSX_MEDIA_TYPE, "xlsx"),
    ):
        if media in accept:
            return kind
    return upload.kind


_CSV_EXAMPLE = "id_number,registration_number,name,region,category,date\n" + "\n".join(
    ",".join(str(r.get(c, "")) for c in _CSV_COLUMNS)
    for r in verify_batch_examples()["mixed"]["value"]["rows"]
)
_TABLE_HEADERS = ", ".join(
    f"`{column}` ({' / '.join(aliases)})" for column, aliases in BATCH_COLUMNS.items()
)


@router.post(
    "/batch",
    summary="Verify up to 10,000 people at once (JSON, CSV or XLSX; raw or a form upload)",
    description=(
        "Judge every row; a bad row is answered with its error, never dropped. The batch "
        "is one entry of the access audit. Where a mirrored log this node holds has not "
        "been confirmed with its origin within the node's bound, each row says so "
        "(`mirror-stale`), as a report would.\n\n"
        'The rows come as JSON (`{"rows": [...]}`), as CSV (`text/csv`: UTF-8 with or '
        "without a BOM, or GB 18030 as Excel and WPS save it on Chinese Windows; a "
        "`charset` parameter is honoured), as an XLSX workbook (its first sheet), or as "
        "a browser's `multipart/form-data` upload of either file in the field `file`. "
        f"A table's header names its columns, in English or Chinese: {_TABLE_HEADERS}.\n\n"
        "The answer is in the format asked in, unless `Accept` names another "
        "(`application/json`, `text/csv` or the XLSX type). Tables answer with Chinese "
        "headers and verdict labels (合格 / 不合格 / 未查到) beside the codes. A file "
        "sent (CSV or XLSX, raw or uploaded) is answered in Chinese, its row errors and "
        "problems included, unless `Accept-Language` prefers English; JSON sent is "
        "answered in English unless it prefers Chinese. Every answer row echoes what "
        "was asked: the row number, the name, the ID number masked (never whole) and "
        "the registration number, found or not, valid or not. A workbook that would "
        "unpack to more than 64 MB is refused before it is read."
    ),
    openapi_extra={
        **body_limit(TABLE_BODY),
        **rate_limit("batch"),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": VerifyBatchIn.model_json_schema(),
                    "examples": verify_batch_examples(),
                },
                "text/csv": {
                    "schema": csv_header_schema(_CSV_COLUMNS),
                    "example": _CSV_EXAMPLE,
                },
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The table: a .csv or .xlsx file (by its "
                                "type, its name, or its first bytes).",
                            }
                        },
                        "required": ["file"],
                    }
                },
            },
        },
    },
    responses={
        200: {
            "description": (
                "One result per row, in order: the verdict, its label and its reasons, or "
                "the row's error, each beside what the row asked. CSV answers are UTF-8 "
                "with a BOM, for Excel and WPS. For a signed report on one person, use "
                "`/v1/verify/engineer`."
            ),
            "model": VerifyBatchOut,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **_ERRORS,
        **too_large(TABLE_BODY),
    },
)
async def verify_batch(
    request: Request, caller: Annotated[Caller, _VERIFIER], verifier: Verifier, issuing: Issuing
) -> Response:
    """Judge every row (see the description)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip().lower() not in ("", "application/json"):
        chinese_by_default(request)  # a file, as people send: answered in Chinese
    # A form or a workbook of 10,000 rows takes a while to read: off the event loop.
    upload = await run_in_threadpool(upload_of, body, content_type)
    rows = await run_in_threadpool(_rows_of, upload)
    results = await run_in_threadpool(
        judge_rows, reads_of(request), verifier, rows, caller, issuing.node_secret
    )
    kind = _answer_kind(request, upload)
    # A table answers in Chinese unless English is preferred, whatever was sent.
    lang = answer_language(request) if kind == "json" else preferred_language(request, "zh")
    if lang == "zh":
        for result in results:
            if "error" in result:
                result["error"] = translate(result["error"], lang, fields=_ZH_FIELDS)
    if kind == "json":
        return Response(
            json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":")),
            media_type="application/json",
        )
    header, table = answer_table(results, lang)
    if kind == "xlsx":
        return Response(
            xlsx_bytes("核验结果" if lang == "zh" else "verification", header, table),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="verification.xlsx"'},
        )
    return Response(
        csv_answer(header, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="verification.csv"'},
    )


_ZH_FIELDS = {column: aliases[0] for column, aliases in BATCH_COLUMNS.items()}

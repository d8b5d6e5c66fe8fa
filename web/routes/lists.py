"""The employer's desk: verify a list of engineers uploaded as CSV or XLSX.

The file is read and every row checked at once; a file with any problem is answered
with all of them (row, column, reason) and nothing is verified. A good file is judged
on a thread of its own, a few hundred rows at a time, its progress kept with the
list in the database (any of the node's processes can say how far it is). The upload
is answered with the list's page as it stands (202), whose small script asks
``/status`` how far it is, shows it, and opens the list's own page once the results
are there; without the script, a link on the page does.
The results come failures first and download as XLSX with Chinese headers.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from api.deps import DbSession, engine_of, reads_of
from api.limits import TABLE_BODY, GatedRoute, body_limit
from api.rates import rate_limit
from api.uploads import file_upload
from api.verifying import engineer_row, judge_rows, table_rows
from registry.errors import InvalidInput, NotFound
from registry.messages import Language, translate
from registry.spreadsheets import XLSX_MEDIA_TYPE, xlsx_bytes
from registry.storage.db import session_scope
from registry.storage.models import DeskVerification, UserAccount
from registry.storage.replica import Reads
from registry.tokens import Caller
from registry.verification import EngineerVerifier
from registry.verification.batch import answer_table
from registry.verification.history import (
    batch_progress,
    company_verification,
    finish_batch,
    list_state,
    start_batch,
    stop_batch,
)
from web.render import language_of, page
from web.routes.desk import caller_of, not_found
from web.security import CheckedForm, signed_in
from web.views import COLUMN_NAMES, ordered_results, row_tone, said

__all__ = ["router"]

# The upload may be as large as the API's batch (api.limits).
router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Employer = Annotated[UserAccount, Depends(signed_in("verifier"))]

_PER_PAGE = 200


def _problems(rows: list[dict[str, str]], lang: Language) -> list[dict[str, Any]]:
    """Every problem of every row: its number (from 1, after the header), the column
    as the file names it, and why."""
    found = []
    for number, row in enumerate(rows, start=1):
        checked = engineer_row(row)
        if not isinstance(checked, ValidationError):
            continue
        for error in checked.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            found.append(
                {
                    "row": number,
                    "column": COLUMN_NAMES.get(field, field) if lang == "zh" else field,
                    "reason": translate(str(error["msg"]).removeprefix("Value error, "), lang),
                }
            )
    return found


@router.get("/desk/verify-list")
def list_form(request: Request, user: Employer) -> Response:
    """The upload form, with the columns a list has."""
    return page(request, "desk_list.html", {"problems": [], "columns": COLUMN_NAMES})


def _read(payload: bytes, filename: str, media: str) -> list[dict[str, str]]:
    return table_rows(file_upload(payload, filename=filename, media=media))


@router.post("/desk/verify-list", openapi_extra={**body_limit(TABLE_BODY), **rate_limit("batch")})
async def list_post(request: Request, user: Employer, form: CheckedForm) -> Response:
    """Read the list; answer every problem, or start verifying it and show its page."""
    lang = language_of(request)
    upload = form.get("file")
    problems: list[dict[str, Any]] = []
    rows: list[dict[str, str]] = []
    if not isinstance(upload, UploadFile) or not upload.filename:
        context = {"problems": [], "columns": COLUMN_NAMES, "no_file": True}
        return page(request, "desk_list.html", context, status=422)
    payload = await upload.read()
    try:
        rows = await run_in_threadpool(_read, payload, upload.filename, upload.content_type or "")
    except InvalidInput as exc:
        reasons = [exc.message, *(e.message for e in exc.errors)]
        problems.extend({"row": None, "column": "", "reason": translate(r, lang)} for r in reasons)
    else:
        problems = await run_in_threadpool(_problems, rows, lang)
    if problems:
        context = {"problems": problems, "columns": COLUMN_NAMES}
        return page(request, "desk_list.html", context, status=422)
    name = upload.filename
    engine = engine_of(request)
    kept = await run_in_threadpool(_start, engine, user, name, len(rows))
    identifier = kept.id or 0
    state = request.app.state
    threading.Thread(
        target=_judge,
        args=(reads_of(request), state.verifier, rows, caller_of(user)),
        kwargs={"node_secret": state.issuing.node_secret, "identifier": identifier},
        name=f"desk-list-{identifier}",
        daemon=True,
    ).start()
    # The list's page as it stands (nothing judged yet): its script follows the
    # progress, then opens the results at the list's own address.
    return page(request, "desk_list_result.html", {"kept": kept, "state": kept.state}, status=202)


def _start(engine: Engine, user: UserAccount, name: str, rows: int) -> DeskVerification:
    with session_scope(engine) as session:
        return start_batch(session, user, name=name, rows=rows, at=dt.datetime.now(dt.UTC))


def _judge(
    reads: Reads,
    verifier: EngineerVerifier,
    rows: list[dict[str, str]],
    caller: Caller,
    *,
    node_secret: bytes,
    identifier: int,
) -> None:
    """Judge a list on its own thread (reading from the replica, if the node has one),
    saying how far it is (on the primary); a failure is kept as one."""
    engine = reads.primary
    try:
        results = judge_rows(
            reads,
            verifier,
            rows,
            caller,
            node_secret,
            progress=lambda done: batch_progress(
                engine, identifier, done, at=dt.datetime.now(dt.UTC)
            ),
        )
        finish_batch(engine, identifier, results, at=dt.datetime.now(dt.UTC))
    except BaseException:
        stop_batch(engine, identifier, at=dt.datetime.now(dt.UTC))
        raise


def _list_of(session: DbSession, user: UserAccount, identifier: int) -> DeskVerification | None:
    try:
        kept = company_verification(session, user.company_code or "", identifier)
    except NotFound:
        return None
    return kept if kept.kind == "batch" else None


@router.get("/desk/verify-list/{identifier}")
def list_page(
    request: Request,
    identifier: int,
    user: Employer,
    session: DbSession,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """A list: its progress while it is verified, then its results, failures first."""
    kept = _list_of(session, user, identifier)
    if kept is None:
        return not_found(request)
    state = list_state(kept, now=dt.datetime.now(dt.UTC))
    context: dict[str, Any] = {"kept": kept, "state": state}
    if state == "done":
        results = ordered_results(said(json.loads(kept.document or "[]"), language_of(request)))
        pages = max(1, -(-len(results) // _PER_PAGE))
        shown = results[(page_number - 1) * _PER_PAGE : page_number * _PER_PAGE]
        context.update(
            results=[(r, row_tone(r)) for r in shown],
            counts={
                tone: sum(1 for r in results if row_tone(r) == tone)
                for tone in ("bad", "warn", "good")
            },
            page_number=page_number,
            pages=pages,
        )
    return page(request, "desk_list_result.html", context)


@router.get("/desk/verify-list/{identifier}/status")
def list_status(identifier: int, user: Employer, session: DbSession) -> Response:
    """How far a list is: its state, and rows done of all."""
    kept = _list_of(session, user, identifier)
    if kept is None:
        return JSONResponse({"state": "missing"}, status_code=404)
    return JSONResponse(
        {
            "state": list_state(kept, now=dt.datetime.now(dt.UTC)),
            "done": kept.done,
            "rows": kept.rows,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/desk/verify-list/{identifier}/results.xlsx")
def list_download(
    request: Request, identifier: int, user: Employer, session: DbSession
) -> Response:
    """A list's results as a workbook, failures first, with Chinese headers."""
    kept = _list_of(session, user, identifier)
    if kept is None or kept.state != "done":
        return not_found(request)
    results = ordered_results(said(json.loads(kept.document or "[]"), "zh"))
    header, table = answer_table(results, "zh")
    return Response(
        xlsx_bytes("核验结果", header, table),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="verification-{kept.id}.xlsx"',
            "Cache-Control": "no-store",
        },
    )

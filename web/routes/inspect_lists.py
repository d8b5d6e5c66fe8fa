"""The inspector's desk: a list of companies checked against the untrustworthiness
list (CSV or XLSX: credit codes, names optional).

The check is the API's (``POST /v1/blacklist/check``): ``check_audited``, recorded in
the access audit under the person's own token row, then each row answered (listed,
possible, clear, or its error: ``registry.enforcement.company_lists``) and kept for
the inspector. Checking takes two statements per 1,000 rows, so a list is answered
within the request: the upload is answered with a redirect to the check's page,
failures first, and its download as XLSX with Chinese headers. A file that cannot be
read is answered with why, and nothing is checked or kept.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, Issuing, engine_of, replica_reads_of
from api.limits import TABLE_BODY, GatedRoute, body_limit
from api.rates import rate_limit
from api.uploads import file_upload
from registry.enforcement.company_lists import (
    COMPANY_COLUMNS,
    CompanyRow,
    check_rows,
    company_rows,
    inspection_check,
    inspection_checks,
    keep_check,
    row_answers,
)
from registry.enforcement.inspection import CheckQuery, check_audited
from registry.errors import InvalidInput, NotFound
from registry.issuing import IssuingContext
from registry.messages import translate
from registry.spreadsheets import XLSX_MEDIA_TYPE, xlsx_bytes
from registry.storage.db import begin_snapshot, session_scope
from registry.storage.models import InspectionCheck, UserAccount
from web.i18n import N_
from web.i18n import translate as page_text
from web.render import language_of, page
from web.routes.desk import caller_of
from web.routes.inspect_common import Inspector, authority_names, missing
from web.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

_PER_PAGE = 200
# The workbook is in Chinese, in the pages' words (the catalogue's).
_OUTCOMES = {
    "listed": N_("Listed"),
    "possible": N_("Possibly listed"),
    "error": N_("Invalid row"),
    "clear": N_("Not listed"),
}
_WHYS = {
    "listed": N_("A listing in force names this credit code."),
    "same-name": N_("A listed company has the same name: compare the credit codes."),
    "check-character": N_("The credit code's check character does not match: probably mistyped."),
}
_HEADER = (
    N_("Row"),
    N_("Credit code"),
    N_("Company"),
    N_("Result"),
    N_("Why"),
    N_("Decided by"),
    N_("Listing decision number"),
    N_("Listed on"),
)


def zh(message: str) -> str:
    """A message of the pages' catalogue in Chinese."""
    return page_text("zh", message)


def _form(
    request: Request,
    session: DbSession,
    user: UserAccount,
    problems: list[str],
    status: int,
    *,
    no_file: bool = False,
) -> Response:
    context = {
        "problems": problems,
        "no_file": no_file,
        "columns": COMPANY_COLUMNS,
        "checks": inspection_checks(session, user.id or 0),
        "section": "check-list",
    }
    return page(request, "inspect/check_list.html", context, status=status)


@router.get("/inspect/check-list")
def check_form(request: Request, user: Inspector, session: DbSession) -> Response:
    """The upload form, the columns a list has, and the inspector's latest checks."""
    return _form(request, session, user, [], 200)


def _check(
    request: Request, user: UserAccount, issuing: IssuingContext, rows: list[CompanyRow], name: str
) -> int:
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine_of(request)) as session:
        begin_snapshot(session, writes=True)
        result = check_audited(
            session,
            CheckQuery(check_rows(rows)),
            caller=caller_of(user),
            lookup=issuing.lookup,
            node_secret=issuing.node_secret,
            now=now,
            reads=replica_reads_of(request),
        )
        answers = row_answers(session, rows, result)
        kept = keep_check(session, user.id or 0, name=name, answers=answers, result=result, now=now)
        return kept.id or 0


@router.post("/inspect/check-list", openapi_extra={**body_limit(TABLE_BODY), **rate_limit("batch")})
async def check_post(
    request: Request, user: Inspector, form: CheckedForm, session: DbSession, issuing: Issuing
) -> Response:
    """Read the list; answer why it cannot be read, or check it and open its page."""
    lang = language_of(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _form(request, session, user, [], 422, no_file=True)
    payload = await upload.read()
    try:
        kind = file_upload(payload, filename=upload.filename, media=upload.content_type or "")
        rows = await run_in_threadpool(
            company_rows, kind.body, kind=kind.kind, charset=kind.charset
        )
    except InvalidInput as exc:
        reasons = [exc.message, *(e.message for e in exc.errors)]
        return _form(request, session, user, [translate(r, lang) for r in reasons], 422)
    identifier = await run_in_threadpool(_check, request, user, issuing, rows, upload.filename)
    return RedirectResponse(f"/inspect/check-list/{identifier}", status_code=303)


def _kept(session: DbSession, user: UserAccount, identifier: int) -> InspectionCheck | None:
    try:
        return inspection_check(session, user.id or 0, identifier)
    except NotFound:
        return None


@router.get("/inspect/check-list/{identifier}")
def check_page(
    request: Request,
    identifier: int,
    user: Inspector,
    session: DbSession,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """A checked list: the counts, then every row, failures first."""
    kept = _kept(session, user, identifier)
    if kept is None:
        return missing(request)
    answers: list[dict[str, Any]] = json.loads(kept.document)
    pages = max(1, -(-len(answers) // _PER_PAGE))
    context = {
        "kept": kept,
        "answers": answers[(page_number - 1) * _PER_PAGE : page_number * _PER_PAGE],
        "counts": {
            outcome: sum(1 for a in answers if a["outcome"] == outcome)
            for outcome in ("listed", "possible", "error", "clear")
        },
        "names": authority_names(session),
        "translate_error": lambda message: translate(message, language_of(request)),
        "page_number": page_number,
        "pages": pages,
        "section": "check-list",
    }
    return page(request, "inspect/check_result.html", context)


@router.get("/inspect/check-list/{identifier}/results.xlsx")
def check_download(
    request: Request, identifier: int, user: Inspector, session: DbSession
) -> Response:
    """A checked list as a workbook, failures first, with Chinese headers."""
    kept = _kept(session, user, identifier)
    if kept is None:
        return missing(request)
    header = [zh(column) for column in _HEADER]
    rows = []
    for answer in json.loads(kept.document):
        listings = answer["listings"]
        if answer["outcome"] == "error":
            why = translate(answer["why"], "zh")
        else:
            why = zh(_WHYS[answer["why"]]) if answer["why"] in _WHYS else ""
        rows.append(
            [
                answer["row"],
                answer["creditCode"],
                answer["name"],
                zh(_OUTCOMES[answer["outcome"]]),
                why,
                " ".join(x["decidedBy"] for x in listings),
                " ".join(x["listingDecisionNumber"] for x in listings),
                " ".join(x["listedOn"] for x in listings),
            ]
        )
    return Response(
        xlsx_bytes(zh(N_("Check results")), header, rows),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="company-check-{kept.id}.xlsx"',
            "Cache-Control": "no-store",
        },
    )

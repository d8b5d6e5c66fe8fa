"""The authority's console: importing a spreadsheet (checked, confirmed, watched), and the
imports' history with their receipts.

An official of ``issuer:CN-xx`` imports for that authority only. The upload is kept
for its uploader and answered at once with the import's page; the file is checked
whole on a thread of its own (``registry.bulk.staged``), the page showing how many
rows are checked. Any problem is then shown with all of them (row, column, reason),
nothing issued and the file deleted; a good file waits for its uploader, who sees what
will be signed and confirms. The confirmation that wins (one per import) issues the
file on a thread of its own, all or nothing, and answers with its progress page. While
the file is checked or issued, the page's script (``progress.js``) asks ``/status``
how far it is and opens the import's page again once that phase is over; without the
script, the page reloads itself. The receipt names the person who imported, and
downloads as CSV and XLSX.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import ISSUE_BATCH_BODY, GatedRoute, body_limit
from registry.bulk import TYPES, write_template
from registry.bulk.history import import_history
from registry.bulk.staged import (
    claim,
    imports_dir,
    own_import,
    problems_of,
    progress_of,
    receive_file,
)
from registry.errors import Forbidden, InvalidInput, NotFound
from registry.ids import province
from registry.issuing.receipts import (
    Issuer,
    ReceiptView,
    read_receipt,
    receipt_csv,
    receipt_xlsx,
)
from registry.messages import translate
from registry.spreadsheets import XLSX_MEDIA_TYPE
from registry.storage.db import session_scope
from registry.storage.models import Authority, StagedImport, UserAccount
from web.i18n import N_
from web.render import language_of, page
from web.routes._import_work import start_check, start_import
from web.security import CheckedForm, signed_in

__all__ = ["STATE_NAMES", "TYPE_NAMES", "router"]

# The upload may be as large as the API's batch of records (api.limits).
router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

TYPE_NAMES = {
    "qualification": N_("Qualification certificates"),
    "registration": N_("Registrations"),
    "continuing-education": N_("Continuing-education credits"),
    "listing": N_("Untrustworthiness listings"),
}
"""Each kind of record an import takes, by its short name, as the page names it."""

STATE_NAMES = {
    "checking": N_("Being checked"),
    "rejected": N_("Rejected"),
    "checked": N_("Waiting for confirmation"),
    "running": N_("Being issued"),
    "failed": N_("Failed"),
}
"""Each state of an import not finished, as the history names it."""

_NAME_OF_TYPE = {TYPES[short].value: name for short, name in TYPE_NAMES.items()}
_KIND_OF_TYPE = {TYPES[short].value: short for short in TYPE_NAMES}
_HISTORY_PAGE = 20
_RECEIPT_PAGE = 200


def _authority(user: UserAccount) -> str:
    return user.role.split(":", 1)[1]


def _authority_named(request: Request, code: str) -> dict[str, str]:
    """An authority as the pages name it: its own name (上海市应急管理局), else its
    province's, with its code."""
    with Session(engine_of(request)) as session:
        found = session.get(Authority, code)
    if found is not None:
        return {"name_zh": found.name_zh, "name_en": found.name_en, "iso": code}
    named = province(code)
    return {"name_zh": named.name_zh, "name_en": named.name_en, "iso": code}


def _directory(request: Request) -> Path:
    return imports_dir(request.app.state.settings.data_dir)


def _missing(request: Request) -> Response:
    """The page for an import that is not there (or not the official's to see)."""
    return page(request, "console/import_missing.html", {"section": "import"}, status=404)


def _form(
    request: Request,
    user: UserAccount,
    *,
    chosen: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    code = _authority(user)
    return page(
        request,
        "console/import.html",
        {
            "section": "import",
            "types": TYPE_NAMES,
            "chosen": chosen,
            "errors": errors or {},
            "authority": _authority_named(request, code),
        },
        status=status,
    )


@router.get("/console/import")
def import_form(request: Request, user: Official) -> Response:
    """Choose the kind of record, download its template, upload the file."""
    return _form(request, user, chosen=str(request.query_params.get("type", "")))


@router.get("/console/import/template/{kind}")
def template_download(request: Request, kind: str, user: Official) -> Response:
    """The empty template of a kind of record, in Chinese, as XLSX (its drop-downs,
    notes and example sheet, as ``registry import --template`` writes it)."""
    if kind not in TYPE_NAMES:
        return _missing(request)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "template.xlsx"
        write_template(TYPES[kind], path)
        body = path.read_bytes()
    return Response(
        body,
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="import-template-{kind}.xlsx"',
            "Cache-Control": "no-store",
        },
    )


def _receive(
    engine: Engine,
    directory: Path,
    *,
    user: UserAccount,
    kind: str,
    file_name: str,
    payload: bytes,
) -> str:
    with session_scope(engine) as session:
        return receive_file(
            session,
            directory,
            user_id=user.id or 0,
            authority=_authority(user),
            record_type=TYPES[kind],
            file_name=file_name,
            payload=payload,
        ).id


@router.post("/console/import", openapi_extra=body_limit(ISSUE_BATCH_BODY))
async def import_post(request: Request, user: Official, form: CheckedForm) -> Response:
    """Keep the file and check it in the background; answer at once with the import's
    page, which shows the check's progress, then its problems or the confirmation."""
    kind = str(form.get("type") or "")
    upload = form.get("file")
    errors: dict[str, str] = {}
    if kind not in TYPE_NAMES:
        errors["type"] = N_("Choose the kind of record.")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = N_("Choose a file to upload.")
    if errors or not isinstance(upload, UploadFile):
        return _form(request, user, chosen=kind, errors=errors, status=422)
    name = upload.filename or ""
    payload = await upload.read()
    engine = engine_of(request)
    directory = _directory(request)
    try:
        identifier = await run_in_threadpool(
            _receive, engine, directory, user=user, kind=kind, file_name=name, payload=payload
        )
    except InvalidInput:
        errors["file"] = N_("Only .csv and .xlsx files can be imported.")
        return _form(request, user, chosen=kind, errors=errors, status=422)
    start_check(engine, request.app.state, directory, identifier)
    return RedirectResponse(f"/console/import/{identifier}", status_code=303)


def _own(session: DbSession, user: UserAccount, identifier: str) -> StagedImport | None:
    try:
        found = own_import(session, identifier, user_id=user.id or 0)
    except NotFound:
        return None
    return found if found.authority_code == _authority(user) else None


@router.get("/console/import/{identifier}")
def staged_page(request: Request, identifier: str, user: Official, session: DbSession) -> Response:
    """An uploaded import: its check's progress; then every problem found (nothing
    issued), or what will be signed and the button to confirm it; then its progress;
    once issued, its receipt; if it failed, why (nothing was issued)."""
    staged = _own(session, user, identifier)
    if staged is None:
        return _missing(request)
    progress = progress_of(staged, _directory(request))
    if progress.state == "done" and staged.receipt_id:
        return RedirectResponse(f"/console/imports/{staged.receipt_id}", status_code=303)
    lang = language_of(request)
    found = problems_of(staged, _directory(request)) if progress.state == "rejected" else None
    problems = [
        {"row": p.row, "column": p.column, "reason": translate(p.reason, lang)} for p in found or []
    ]
    return page(
        request,
        "console/import_staged.html",
        {
            "section": "import",
            "staged": staged,
            "progress": progress,
            "problems": problems,
            "reason": translate(progress.reason, lang) if progress.reason else "",
            "type_name": _NAME_OF_TYPE.get(staged.type, staged.type),
            "kind": _KIND_OF_TYPE.get(staged.type, ""),
            "authority": _authority_named(request, staged.authority_code),
        },
    )


@router.post("/console/import/{identifier}/confirm")
def confirm(request: Request, identifier: str, user: Official, form: CheckedForm) -> Response:
    """Issue the import, once: a second confirmation (a double click, the back button,
    a retry) finds it claimed and only shows its progress."""
    engine = engine_of(request)
    with session_scope(engine) as session:
        staged = _own(session, user, identifier)
        if staged is None:
            return _missing(request)
        started = claim(session, identifier, user_id=user.id or 0)
    if started:
        issuer = Issuer(user.token_id, user.username, user.role)
        start_import(engine, request.app.state, _directory(request), identifier, issuer=issuer)
    return RedirectResponse(f"/console/import/{identifier}", status_code=303)


@router.get("/console/import/{identifier}/status")
def status(request: Request, identifier: str, user: Official, session: DbSession) -> Response:
    """How far an import is: its state, its phase, rows checked or issued of all."""
    staged = _own(session, user, identifier)
    if staged is None:
        return JSONResponse({"state": "missing"}, status_code=404)
    progress = progress_of(staged, _directory(request))
    return JSONResponse(
        {
            "state": progress.state,
            "phase": progress.phase,
            "done": progress.done,
            "rows": progress.rows,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/console/imports")
def history(
    request: Request,
    user: Official,
    session: DbSession,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Every import and API batch of the authority, newest first, a page at a time:
    the receipts, and the official's own imports not finished with their state."""
    entries, total = import_history(
        session,
        authority=_authority(user),
        user_id=user.id or 0,
        limit=_HISTORY_PAGE,
        offset=(page_number - 1) * _HISTORY_PAGE,
    )
    tokens = {e.receipt.token_id for e in entries if e.receipt and e.receipt.token_id}
    people = {
        user.token_id: user.display_name
        for user in session.exec(select(UserAccount).where(col(UserAccount.token_id).in_(tokens)))
    }
    directory = _directory(request)
    progress = {e.staged.id: progress_of(e.staged, directory) for e in entries if e.staged}
    lang = language_of(request)
    return page(
        request,
        "console/imports.html",
        {
            "section": "import",
            "entries": entries,
            "states": {identifier: found.state for identifier, found in progress.items()},
            "state_names": STATE_NAMES,
            "reasons": {
                identifier: translate(found.reason, lang)
                for identifier, found in progress.items()
                if found.reason
            },
            "people": people,
            "total": total,
            "page_number": page_number,
            "pages": max(1, -(-total // _HISTORY_PAGE)),
            "type_names": _NAME_OF_TYPE,
            "authority": _authority_named(request, _authority(user)),
        },
    )


def _receipt(session: DbSession, user: UserAccount, receipt_id: str) -> ReceiptView | None:
    try:
        return read_receipt(session, receipt_id, role=user.role)
    except (NotFound, Forbidden):
        return None


@router.get("/console/imports/{receipt_id}")
def receipt_page(
    request: Request,
    receipt_id: str,
    user: Official,
    session: DbSession,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """An import's (or batch's) receipt: who, when, which file, and each row's number
    with the credential it became; downloadable as CSV and XLSX."""
    view = _receipt(session, user, receipt_id)
    if view is None:
        return _missing(request)
    pages = max(1, -(-len(view.lines) // _RECEIPT_PAGE))
    person = session.exec(
        select(UserAccount.display_name).where(UserAccount.token_id == view.receipt.token_id)
    ).first()
    shown = view.lines[(page_number - 1) * _RECEIPT_PAGE : page_number * _RECEIPT_PAGE]
    return page(
        request,
        "console/import_receipt.html",
        {
            "section": "import",
            "receipt": view.receipt,
            "person": person,
            "lines": shown,
            "page_number": page_number,
            "pages": pages,
            "type_names": _NAME_OF_TYPE,
            "authority": _authority_named(request, view.receipt.authority_code),
        },
    )


@router.get("/console/imports/{receipt_id}/receipt.{file_format}")
def receipt_download(
    request: Request, receipt_id: str, file_format: str, user: Official, session: DbSession
) -> Response:
    """The receipt as CSV or XLSX, with Chinese headers, to file beside the spreadsheet."""
    view = _receipt(session, user, receipt_id) if file_format in ("csv", "xlsx") else None
    if view is None:
        return _missing(request)
    headers = {
        "Content-Disposition": f'attachment; filename="{receipt_id}.{file_format}"',
        "Cache-Control": "no-store",
    }
    if file_format == "csv":
        return Response(receipt_csv(view), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(receipt_xlsx(view), media_type=XLSX_MEDIA_TYPE, headers=headers)

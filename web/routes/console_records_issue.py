"""Issuing one record from the console: a qualification, a registration, CE hours or a
listing, from a form; and correcting a record, which is issuing its correction (the
same form, filled in with what the record says, the ID number typed again).

The form is read into the API's own request models and checked as a batch is
(``check_records``: the qualification a registration rests on, the registration
rules, a CE credit already held, a record that cannot be corrected); each problem is
shown beside its field. Then the page shows the credential to be signed (its id, salt
and proof are made when it is signed), and Confirm issues it (``issue_once``): the
form's values travel sealed between the two (``registry.issuing.pending``), so an ID
number typed is not in the page, and the seal's one-time key makes a second
confirmation answer as the first.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.issuing import issue_once
from registry.issuing.build import draft_of
from registry.issuing.pending import Pending, PendingSeal
from registry.issuing.records import check_records
from registry.messages import translate
from registry.storage.db import session_scope
from registry.storage.models import UserAccount
from web.record_forms import FORMS, RecordForm
from web.record_input import field_errors, read_record, values_of
from web.render import language_of, page
from web.routes.console_records_view import authority_of, own_record
from web.security import CheckedForm, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

_SCOPE = "console: issue a record"
_KIND = "issue"


def _seal(request: Request) -> PendingSeal:
    return PendingSeal(request.app.state.issuing.node_secret)


def _missing(request: Request) -> Response:
    return page(request, "console/record_missing.html", status=404)


def _form_page(
    request: Request,
    form: RecordForm,
    values: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    secret = {field.name for field in form.fields if field.widget == "secret"}
    shown = {k: v for k, v in values.items() if k not in secret}
    return page(
        request,
        "console/issue_form.html",
        {"form": form, "values": shown, "errors": errors or {}},
        status=status,
    )


@router.get("/console/issue")
def issue_choice(request: Request, user: Official) -> Response:
    """Which kind of record to issue."""
    return page(request, "console/issue.html", {"forms": list(FORMS.values())})


@router.get("/console/issue/{kind}")
def issue_form(request: Request, kind: str, user: Official, session: DbSession) -> Response:
    """The form of one kind of record; with ``replaces``, the correction of that
    record, filled in with what it says."""
    form = FORMS.get(kind)
    if form is None:
        return _missing(request)
    replaces = str(request.query_params.get("replaces") or "")[:200]
    values: dict[str, Any] = {}
    if replaces:
        try:
            view = own_record(session, replaces, user)
        except NotFound:
            return _missing(request)
        if view.type != form.credential_type:
            return _missing(request)
        values = {**values_of(form, view.credential), "replaces": replaces}
    return _form_page(request, form, values)


def _values(form: RecordForm, posted: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in form.fields:
        if field.widget == "checks":
            values[field.name] = [str(v)[:64] for v in posted.getlist(field.name)][:10]
        else:
            values[field.name] = str(posted.get(field.name) or "").strip()[:2000]
    values["replaces"] = str(posted.get("replaces") or "").strip()[:200]
    return values


def _checked(
    request: Request, session: Any, form: RecordForm, values: dict[str, Any], user: UserAccount
) -> tuple[Any, dict[str, list[str]]]:
    """The record the values ask for, checked as issuing checks it, or the problems."""
    lang = language_of(request)
    item, errors = read_record(form, values, authority=authority_of(user), lang=lang)
    if item is None:
        return None, errors
    issuing = request.app.state.issuing
    resolved, problems = check_records(
        session,
        [item],
        None,
        lookup=issuing.lookup,
        policies=issuing.policies,
        now=dt.datetime.now(dt.UTC),
    )
    if problems:
        return None, field_errors(form, problems, lang)
    return (item, resolved.qualifications.get(0)), {}


@router.post("/console/issue/{kind}")
def issue_check(
    request: Request, kind: str, user: Official, session: DbSession, posted: CheckedForm
) -> Response:
    """Check the record and show what will be signed."""
    form = FORMS.get(kind)
    if form is None:
        return _missing(request)
    values = _values(form, posted)
    checked, errors = _checked(request, session, form, values, user)
    if checked is None:
        return _form_page(request, form, values, errors, status=422)
    item, qualification_id = checked
    draft = draft_of(
        item, lookup=request.app.state.issuing.lookup, qualification_id=qualification_id
    )
    now = dt.datetime.now(dt.UTC)
    return page(
        request,
        "console/issue_confirm.html",
        {
            "form": form,
            "values": {k: v for k, v in values.items() if "id_number" not in k},
            "document_json": json.dumps(draft.document, ensure_ascii=False, indent=2),
            "masked": [
                p.get("identifier", {}).get("masked")
                for p in _people(draft.document.get("credentialSubject", {}))
            ],
            "pending_seal": _seal(request).seal(
                _KIND, {"form": kind, "values": values}, role=user.role, now=now
            ),
        },
    )


def _people(subject: dict[str, Any]) -> list[dict[str, Any]]:
    found = [subject.get("holder"), subject.get("listed"), *subject.get("relatedPersons", [])]
    return [p for p in found if isinstance(p, dict) and "identifier" in p]


def _opened(
    request: Request, form: RecordForm, user: UserAccount, posted: Any
) -> tuple[Pending, dict[str, Any]] | Response:
    """The record sealed in the confirmation, and its form's values; or the form again,
    saying the confirmation is not one the page showed (or came too late)."""
    lang = language_of(request)
    try:
        pending = _seal(request).open(
            str(posted.get("pending") or ""),
            kind=_KIND,
            role=user.role,
            now=dt.datetime.now(dt.UTC),
        )
        if pending.terms.get("form") != form.slug:
            raise InvalidInput("the decision to confirm is not one this page showed")
    except InvalidInput as exc:
        return _form_page(request, form, {}, {"form": [translate(exc.message, lang)]}, status=400)
    return pending, dict(pending.terms.get("values") or {})


@router.post("/console/issue/{kind}/confirm")
def issue_confirm(
    request: Request, kind: str, user: Official, session: DbSession, posted: CheckedForm
) -> Response:
    """Issue the record shown, once: a second confirmation answers as the first."""
    form = FORMS.get(kind)
    if form is None:
        return _missing(request)
    lang = language_of(request)
    opened = _opened(request, form, user, posted)
    if isinstance(opened, Response):
        return opened
    pending, values = opened
    item, errors = read_record(form, values, authority=authority_of(user), lang=lang)
    if item is None:
        return _form_page(request, form, values, errors, status=422)
    try:
        with session_scope(engine_of(request)) as writing:
            answer = issue_once(
                writing,
                request.app.state.issuing,
                [item],
                role=user.role,
                idempotency_key=pending.key,
                scope=_SCOPE,
                body_json=item.model_dump(mode="json"),
            )
    except InvalidInput as exc:
        found = field_errors(form, list(exc.errors), lang) if exc.errors else {}
        return _form_page(
            request, form, values, found or {"form": [translate(exc.message, lang)]}, status=422
        )
    except (Conflict, Forbidden) as exc:
        return _form_page(
            request, form, values, {"form": [translate(exc.message, lang)]}, status=409
        )
    (issued,) = answer.items
    return RedirectResponse(f"/console/records/{issued.credential_id}?issued=1", status_code=303)

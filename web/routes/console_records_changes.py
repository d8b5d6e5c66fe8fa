"""Acting on one of the authority's records from the console: suspend, lift, revoke,
cancel, credit repair and its reversal, withdrawal, and cancelling a change scheduled
for a later day; each with a reason and a decision number (决定文书号), effective today
or on a later day.

Two steps: the form is checked as ``change_status`` checks it (``plan_change``,
which signs nothing), and the page shows the change in words and the ``StatusChange``
document to be signed; Confirm signs it. The decision travels between the two sealed
(``registry.issuing.pending``), with a one-time key that is the API's idempotency key
(``change_once``): confirming twice signs once. A refused change writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.deps import DbSession, engine_of
from api.limits import GatedRoute
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.issuing import change_once
from registry.issuing.changes import plan_change, status_change_document
from registry.issuing.pending import PendingSeal
from registry.labels import ACTION
from registry.messages import translate
from registry.storage.db import session_scope
from registry.storage.models import UserAccount
from web.i18n import N_
from web.i18n import translate as said
from web.render import language_of, page
from web.routes.console_records_view import (
    ACTION_EN,
    label,
    offered_actions,
    own_record,
    record_page_context,
    state_words,
)
from web.security import CheckedForm, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

_FIELDS = ("action", "reason", "decision_number", "effective_on")
_SCOPE = "console: change a record's state"
_KIND = "change"


def _seal(request: Request) -> PendingSeal:
    return PendingSeal(request.app.state.issuing.node_secret)


def _missing(request: Request) -> Response:
    return page(request, "console/record_missing.html", status=404)


def _form(  # noqa: PLR0917 (the page: its record, its person, what was typed, what is wrong)
    request: Request,
    session: Any,
    credential_id: str,
    user: UserAccount,
    values: dict[str, str],
    errors: dict[str, list[str]] | None = None,
    *,
    status: int = 200,
) -> Response:
    context = record_page_context(request, session, credential_id, user)
    action = values.get("action", "")
    context.update(
        {
            "values": values,
            "errors": errors or {},
            "action": action,
            "action_zh": label(ACTION, action),
            "action_en": ACTION_EN.get(action, action),
            "offered": action in offered_actions(context["view"]),
        }
    )
    return page(request, "console/record_change.html", context, status=status)


@router.get("/console/records/{credential_id}/change")
def change_form(
    request: Request, credential_id: str, user: Official, session: DbSession
) -> Response:
    """The decision's form: the reason, the decision number and the day it takes
    effect (today unless a later day is chosen)."""
    action = str(request.query_params.get("action") or "")[:32]
    try:
        own_record(session, credential_id, user)
    except NotFound:
        return _missing(request)
    today = china_today(dt.datetime.now(dt.UTC)).isoformat()
    values = {"action": action, "reason": "", "decision_number": "", "effective_on": today}
    return _form(request, session, credential_id, user, values)


def _problems(exc: ValidationError, request: Request) -> dict[str, list[str]]:
    lang = language_of(request)
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "form"
        found.setdefault(name if name in _FIELDS else "form", []).append(
            translate(str(error["msg"]).removeprefix("Value error, "), lang)
        )
    return found


def _refusal(exc: InvalidInput | Conflict, request: Request) -> dict[str, list[str]]:
    lang = language_of(request)
    found: dict[str, list[str]] = {}
    errors = getattr(exc, "errors", ()) or ()
    for problem in errors:
        name = problem.field if problem.field in _FIELDS else "form"
        found.setdefault(name, []).append(translate(problem.message, lang))
    if not found:
        found["form"] = [translate(exc.message, lang)]
    return found


def _decision(
    request: Request, values: dict[str, str]
) -> tuple[StatusChangeIn | None, dict[str, list[str]]]:
    """The decision the form asks for, or its problems: the API's own checks, and the
    console's rule that a decision takes effect today or on a later day."""
    try:
        change = StatusChangeIn.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        return None, _problems(exc, request)
    today = china_today(dt.datetime.now(dt.UTC))
    if change.action is not Action.CANCEL_SCHEDULED and change.effective_on < today:
        message = said(language_of(request), N_("Choose today or a later day."))
        return None, {"effective_on": [message]}
    return change, {}


@router.post("/console/records/{credential_id}/change")
def change_check(
    request: Request, credential_id: str, user: Official, session: DbSession, form: CheckedForm
) -> Response:
    """Check the decision as signing would, and show what will be signed."""
    values = {name: str(form.get(name) or "").strip()[:600] for name in _FIELDS}
    try:
        own_record(session, credential_id, user)
    except NotFound:
        return _missing(request)
    change, errors = _decision(request, values)
    if change is None:
        return _form(request, session, credential_id, user, values, errors, status=422)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        plan = plan_change(session, credential_id, change, today=china_today(now))
    except (InvalidInput, Conflict) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _form(
            request, session, credential_id, user, values, _refusal(exc, request), status=status
        )
    document = status_change_document(
        plan.record,
        action=change.action,
        before=plan.before,
        after=plan.after,
        reason=change.reason,
        decision_number=change.decision_number,
        effective_on=change.effective_on,
        valid_from=now,
        extra=plan.extra,
    )
    terms = {"id": credential_id, **change.model_dump(mode="json")}
    context = record_page_context(request, session, credential_id, user)
    before_zh, before_en = state_words(plan.before.value)
    after_zh, after_en = state_words(plan.after.value)
    context.update(
        {
            "change": change,
            "action_zh": label(ACTION, change.action.value),
            "action_en": ACTION_EN.get(change.action.value, change.action.value),
            "before_zh": before_zh,
            "before_en": before_en,
            "after_zh": after_zh,
            "after_en": after_en,
            "scheduled": plan.scheduled,
            "document_json": json.dumps(document, ensure_ascii=False, indent=2),
            "pending_seal": _seal(request).seal(_KIND, terms, role=user.role, now=now),
        }
    )
    return page(request, "console/record_confirm.html", context)


@router.post("/console/records/{credential_id}/change/confirm")
def change_confirm(
    request: Request, credential_id: str, user: Official, session: DbSession, form: CheckedForm
) -> Response:
    """Sign the decision shown, once: a second confirmation answers as the first."""
    try:
        own_record(session, credential_id, user)
    except NotFound:
        return _missing(request)
    now = dt.datetime.now(dt.UTC)
    lang = language_of(request)
    try:
        pending = _seal(request).open(
            str(form.get("pending") or ""), kind=_KIND, role=user.role, now=now
        )
        if pending.terms.get("id") != credential_id:
            raise InvalidInput("the decision to confirm is not one this page showed")
        terms = {k: v for k, v in pending.terms.items() if k != "id"}
        change = StatusChangeIn.model_validate(terms)
    except (InvalidInput, ValidationError) as exc:
        values = {"action": "", "reason": "", "decision_number": "", "effective_on": ""}
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        errors = {"form": [translate(message, lang)]}
        return _form(request, session, credential_id, user, values, errors, status=400)
    try:
        with session_scope(engine_of(request)) as writing:
            answer = change_once(
                writing,
                request.app.state.issuing,
                credential_id,
                change,
                role=user.role,
                idempotency_key=pending.key,
                scope=_SCOPE,
                body_json=pending.terms,
            )
    except (InvalidInput, Conflict, Forbidden) as exc:
        values = {k: str(v) for k, v in terms.items()}
        refusal = (
            _refusal(exc, request)
            if not isinstance(exc, Forbidden)
            else {"form": [translate(exc.message, lang)]}
        )
        status = 409 if isinstance(exc, Conflict) else 422
        return _form(request, session, credential_id, user, values, refusal, status=status)
    return RedirectResponse(
        f"/console/records/{credential_id}?changed={answer.credential_id}", status_code=303
    )

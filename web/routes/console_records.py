"""The authority's console: finding its records, opening one, acting on it (suspend, lift,
revoke, correct, scheduled or today) and issuing one record from a form.

Every page is the issuing office's (``issuer:CN-xx``) and shows its own records only:
another authority's record, or a credential that is not a record, is not found here.
The search is the API's (``POST /v1/records/search``): a search that names someone
(by ID number, name or number) is in the access audit under the person's own token
row, and an ID number goes in a POST body only, never in an address, and is never
shown again. Acting on a record (``console_records_changes``) and issuing one
(``console_records_issue``) go through a confirmation that shows what will be signed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from api.deps import DbSession
from api.limits import GatedRoute
from registry.calendar import china_today
from registry.credentials.lifecycle import State
from registry.enforcement.audit import criteria_hash, record_access
from registry.errors import InvalidInput, NotFound
from registry.issuing.search import MAX_WORDS, RecordQuery, audited_criteria, search_records
from registry.messages import Language, translate
from registry.storage.models import UserAccount
from web.i18n import N_
from web.i18n import translate as said
from web.render import language_of, page
from web.routes import console_records_changes, console_records_issue
from web.routes.console_records_view import (
    authority_of,
    record_page_context,
    record_types,
    state_words,
    type_label,
)
from web.routes.desk import caller_of
from web.security import CheckedForm, signed_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)
router.include_router(console_records_changes.router)
router.include_router(console_records_issue.router)

Official = Annotated[UserAccount, Depends(signed_in("issuer"))]

_PER_PAGE = 20
_FILTERS = ("number", "q", "import_id", "type", "state", "issued_from", "issued_until")


@dataclass
class Asked:
    """A search as asked on the page: the values typed, each field's problems, and the
    query they make."""

    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    query: RecordQuery | None = None
    page: int = 1

    def address(self, page_number: int) -> str:
        """The query string of this search at another page."""
        kept = {k: v for k, v in self.values.items() if v}
        return urlencode({**kept, "page": page_number})


def _day(value: str, name: str, errors: dict[str, list[str]], lang: Language) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.setdefault(name, []).append(
            said(lang, N_("Not a valid date: write it as 2026-11-27."))
        )
        return None


def _asked(request: Request) -> Asked:
    """The search the address asks for, checked field by field."""
    lang = language_of(request)
    params = request.query_params
    values = {name: str(params.get(name) or "").strip()[:200] for name in _FILTERS}
    errors: dict[str, list[str]] = {}
    words = tuple(values["q"].split())
    if len(words) > MAX_WORDS:
        errors["q"] = [said(lang, N_("Search with at most 8 words."))]
    if values["type"] and values["type"] not in record_types():
        errors["type"] = [said(lang, N_("Choose a type from the list."))]
    if values["state"] and values["state"] not in {s.value for s in State}:
        errors["state"] = [said(lang, N_("Choose a state from the list."))]
    issued_from = _day(values["issued_from"], "issued_from", errors, lang)
    issued_until = _day(values["issued_until"], "issued_until", errors, lang)
    if issued_from and issued_until and issued_from > issued_until:
        errors.setdefault("issued_until", []).append(
            said(lang, N_("The first day is after the last."))
        )
    try:
        number = max(1, min(int(params.get("page") or 1), 10_000))
    except ValueError:
        number = 1
    query = RecordQuery(
        words=words,
        number=values["number"] or None,
        import_id=values["import_id"] or None,
        type=values["type"] or None,
        state=values["state"] or None,
        issued_from=issued_from,
        issued_until=issued_until,
    )
    return Asked(values, errors, None if errors else query, number)


def _searched(
    request: Request, session: Session, user: UserAccount, query: RecordQuery, *, offset: int
) -> Any:
    """The records found, the search recorded in the access audit when it names
    someone (as ``POST /v1/records/search`` records it)."""
    issuing = request.app.state.issuing
    audited = audited_criteria(query, node_secret=issuing.node_secret)
    found = search_records(
        session,
        query,
        authority=authority_of(user),
        lookup=issuing.lookup,
        limit=_PER_PAGE,
        offset=offset,
    )
    if audited is not None:
        record_access(
            session,
            caller_of(user),
            action="records-search",
            criteria=criteria_hash(audited, node_secret=issuing.node_secret),
            rows=1,
            results=len(found.records),
            now=dt.datetime.now(dt.UTC),
        )
    return found


def _results_page(
    request: Request, asked: Asked, found: Any, *, searched: bool, status: int = 200
) -> Response:
    return page(
        request,
        "console/records.html",
        {
            "asked": asked,
            "found": found,
            "searched": searched,
            "types": record_types(),
            "type_label": type_label,
            "state_words": state_words,
            "today": china_today(dt.datetime.now(dt.UTC)),
            "states": [s.value for s in State if s is not State.SUPERSEDED]
            + [State.SUPERSEDED.value],
        },
        status=status,
    )


@router.get("/console/records")
def records(request: Request, user: Official, session: DbSession) -> Response:
    """The authority's records: by registration or certificate number, words of a name,
    import, type, state and days issued, newest first, a page at a time. Without any
    criterion, the newest records."""
    asked = _asked(request)
    if asked.query is None:
        return _results_page(request, asked, None, searched=False, status=422)
    found = _searched(request, session, user, asked.query, offset=(asked.page - 1) * _PER_PAGE)
    return _results_page(request, asked, found, searched=bool(request.query_params))


@router.post("/console/records")
def records_by_person(
    request: Request, user: Official, session: DbSession, form: CheckedForm
) -> Response:
    """The records of one person, by their ID number: posted, so that the number is in
    no address, and never shown back."""
    asked = Asked(dict.fromkeys(_FILTERS, ""))
    number = str(form.get("id_number") or "").strip()
    lang = language_of(request)
    if not number:
        asked.errors["id_number"] = [said(lang, N_("Enter the resident ID number."))]
        return _results_page(request, asked, None, searched=False, status=422)
    try:
        found = _searched(request, session, user, RecordQuery(id_number=number), offset=0)
    except InvalidInput as exc:
        asked.errors["id_number"] = [translate(exc.message, lang)]
        return _results_page(request, asked, None, searched=False, status=422)
    return _results_page(request, asked, found, searched=True)


@router.get("/console/records/{credential_id}")
def record(request: Request, credential_id: str, user: Official, session: DbSession) -> Response:
    """One of the authority's records: what it says, its state today, every signed
    change (a scheduled one that can still be cancelled), where it is recognised, and
    the actions its state allows."""
    try:
        context = record_page_context(request, session, credential_id, user)
    except NotFound:
        return page(request, "console/record_missing.html", status=404)
    context["changed"] = request.query_params.get("changed", "")[:200]
    context["today"] = china_today(dt.datetime.now(dt.UTC))
    return page(request, "console/record.html", context)

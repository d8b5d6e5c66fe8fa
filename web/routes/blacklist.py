"""The public untrustworthiness list: searched by words of a name or a credit code,
filtered by deciding authority, kind of party and listing date, a page at a time, and
downloaded as CSV or XLSX with the same filters.

Everything is a GET with its parameters in the address, so a result can be
bookmarked; no ID number is ever asked for (persons are shown as the public list
shows them, by name and masked number).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.responses import HTMLResponse, Response

from api.deps import DbSession, ReadOnly
from api.limits import GatedRoute
from registry.authorities import list_authorities
from registry.calendar import china_today
from registry.enforcement.public import public_csv, public_xlsx, read_public_list
from registry.enforcement.public_search import (
    MAX_WORDS,
    PublicQuery,
    page_of,
    search_public_list,
)
from registry.errors import InvalidCreditCode, InvalidInput, InvalidProvinceCode
from registry.ids import parse_credit_code, province
from registry.spreadsheets import XLSX_MEDIA_TYPE
from web.render import page
from web.security import Visitor

__all__ = ["router"]

router = APIRouter(include_in_schema=False, route_class=GatedRoute)

_MAX_TEXT = 100
_PARAMETERS = ("q", "code", "region", "kind", "from", "to")


@dataclass
class _Asked:
    """The search as the address gives it: the values as typed (to show them back),
    the query they make, and the error code of each field that is wrong."""

    values: dict[str, str]
    query: PublicQuery | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def address(self, **more: str | int) -> str:
        """The query string of this search (the filters given), with ``more``."""
        given: dict[str, str | int] = {k: v for k, v in self.values.items() if v}
        given.update(more)
        return urlencode(given)


def _day(value: str, name: str, errors: dict[str, str]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[name] = "date"
        return None


def _asked(request: Request) -> _Asked:
    params = request.query_params
    values = {name: params.get(name, "").strip()[: _MAX_TEXT * 2] for name in _PARAMETERS}
    errors: dict[str, str] = {}
    warnings: list[str] = []
    words = tuple(values["q"].split())
    if len(values["q"]) > _MAX_TEXT:
        errors["q"] = "long"
    elif len(words) > MAX_WORDS:
        errors["q"] = "words"
    credit_code = None
    if values["code"]:
        try:
            parsed = parse_credit_code(values["code"])
        except InvalidCreditCode:
            errors["code"] = "length" if len(values["code"].replace(" ", "")) != 18 else "chars"
        else:
            credit_code = parsed.code
            if not parsed.check_ok:
                warnings.append("code-check")
    decided_by = None
    if values["region"]:
        try:
            decided_by = province(values["region"]).iso
            values["region"] = decided_by  # 上海 or 310000 in an address: the list's choice
        except InvalidProvinceCode:
            errors["region"] = "unknown"
    kind = values["kind"] or None
    if kind is not None and kind not in ("organisation", "person"):
        errors["kind"] = "unknown"
    listed_from = _day(values["from"], "from", errors)
    listed_to = _day(values["to"], "to", errors)
    if errors:
        return _Asked(values, errors=errors, warnings=warnings)
    try:
        query = PublicQuery(words, credit_code, decided_by, kind, listed_from, listed_to)
    except InvalidInput as exc:
        return _Asked(values, errors={e.field: "order" for e in exc.errors}, warnings=warnings)
    return _Asked(values, query, warnings=warnings)


def _authorities(session: Session) -> list[dict[str, str]]:
    return [{"code": a.code, "zh": a.name_zh, "en": a.name_en} for a in list_authorities(session)]


def _page_number(value: str) -> int | None:
    if not value:
        return 1
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        return None
    return int(value) or None


def _page_links(number: int, pages: int) -> list[int | None]:
    """The pages to link to: the first, the last and two either side of this one;
    ``None`` where pages are left out."""
    shown = sorted({1, pages, *range(max(1, number - 2), min(pages, number + 2) + 1)})
    links: list[int | None] = []
    for n in shown:
        if links and links[-1] is not None and n - (links[-1] or 0) > 1:
            links.append(None)
        links.append(n)
    return links


@router.get("/blacklist", response_class=HTMLResponse)
def blacklist(request: Request, session: DbSession, reads: ReadOnly, user: Visitor) -> Response:
    """The list in force today, searched and filtered as the address asks, a page at a
    time; a wrong filter is answered 422 with what to do. Read from the node's
    replica if it has one."""
    asked = _asked(request)
    number = _page_number(request.query_params.get("page", "").strip())
    if number is None:
        asked.errors["page"] = "number"
    on = china_today(dt.datetime.now(dt.UTC))
    wrong = asked.query is None or number is None
    authorities, listed = reads.read(
        lambda source: (
            _authorities(source),
            None if wrong else read_public_list(source, on=on),
        ),
        session=session,
    )
    names = {a["code"]: a for a in authorities}
    context: dict[str, Any] = {"asked": asked, "authorities": authorities, "names": names}
    if listed is None or asked.query is None or number is None:
        return page(request, "blacklist.html", context, status=422)
    found = search_public_list(listed.entries, asked.query)
    size = request.app.state.settings.public_list_page_size
    result = page_of(found, number, size=size)
    context |= {
        "on": listed.on,
        "result": result,
        "page_size": size,
        "page_links": _page_links(result.number, result.pages),
    }
    return page(request, "blacklist.html", context)


@router.get("/blacklist/download")
def download(request: Request, session: DbSession, reads: ReadOnly, user: Visitor) -> Response:
    """The whole result of the search (every page) as CSV or XLSX, with the list's
    Chinese headers. Read from the node's replica if it has one."""
    asked = _asked(request)
    kind = request.query_params.get("format", "csv")
    if kind not in ("csv", "xlsx"):
        asked.errors["format"] = "unknown"
    if asked.query is None or asked.errors:
        context = {"asked": asked, "authorities": _authorities(session), "names": {}}
        return page(request, "blacklist.html", context, status=422)
    on = china_today(dt.datetime.now(dt.UTC))
    listed = reads.read(lambda source: read_public_list(source, on=on), session=session)
    found = search_public_list(listed.entries, asked.query)
    day = listed.on.isoformat()
    stem = f"untrustworthiness-list-{day}" + ("" if asked.query.empty else "-search")
    disposition = {"Content-Disposition": f'attachment; filename="{stem}.{kind}"'}
    if kind == "csv":
        return Response(
            public_csv(found), media_type="text/csv; charset=utf-8", headers=disposition
        )
    body = public_xlsx(found, title=f"安全生产严重失信主体名单 {day}")
    return Response(body, media_type=XLSX_MEDIA_TYPE, headers=disposition)

"""Rendering the pages: Jinja2 templates, the visitor's language, and what every page
shows (who is signed in, the form token, the language switch).

Chinese first: a page is in Chinese unless the visitor chose English with the switch
every page carries, remembered in the ``lang`` cookie for a year (``__Host-lang`` over
HTTPS, as ``web.cookies`` names every cookie). Templates write
their text in English through the catalogue, ``_("...")`` (``web.i18n``), and pick
between the two languages a value carries itself with ``in_lang(zh, en)``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from web.cookies import read_cookie, set_cookie
from web.i18n import Language, translate

__all__ = ["LANG_COOKIE", "language_of", "page", "templates"]

LANG_COOKIE = "lang"
_HERE = Path(__file__).resolve().parent
_CHINA = ZoneInfo("Asia/Shanghai")

templates = Jinja2Templates(directory=_HERE / "templates")
templates.env.autoescape = True
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def language_of(request: Request) -> Language:
    """The page language: the visitor's choice, else Chinese."""
    return "en" if read_cookie(request, LANG_COOKIE) == "en" else "zh"


def _day(value: date | datetime | str | None, lang: Language) -> str:
    """A day as its readers write it: 2026年11月27日, or 27 Nov 2026."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(_CHINA).date() if value.tzinfo else value.date()
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {value:%b} {value.year}"


def _moment(value: datetime | str | None, lang: Language) -> str:
    """A time in China's time zone: 2026年11月27日 14:05, or 27 Nov 2026 14:05."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(_CHINA)
    return f"{_day(local.date(), lang)} {local:%H:%M}"


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render template ``name`` for ``request`` in the visitor's language."""
    lang = language_of(request)
    values: dict[str, Any] = {
        "lang": lang,
        "_": lambda message, **values: translate(lang, message, **values),
        "in_lang": lambda zh, en: zh if lang == "zh" else en,
        "day": lambda value: _day(value, lang),
        "moment": lambda value: _moment(value, lang),
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "path": request.url.path,
        "query": request.url.query,
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    response.headers["Cache-Control"] = "no-store"
    # A signed-in visitor's session stays active with each page (web.security.visitor).
    for cookie, value in getattr(request.state, "renew_cookies", {}).items():
        set_cookie(response, request, cookie, value)
    return response

"""What the administration's pages share: the role they need, a form's problems
beside each field in the visitor's language, the page that shows a secret once, and
the confirmation before a change that cannot be taken back.

A new password or token is shown once, behind a redirect, so that reloading the page
never posts the form again (a second token, another password): the post seals the
secret (AES-256-GCM under the node secret, bound to the administrator's account, for
five minutes) into a cookie (``SameSite=Strict``, named as every cookie of the pages
is: ``web.cookies``), and ``/admin/shown`` shows it and deletes the cookie. Shown
again, it says the secret was shown once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from registry.authorities import list_authorities
from registry.errors import InvalidInput, RegistryError
from registry.issuing.pending import PendingSeal
from registry.messages import translate
from registry.storage.models import UserAccount
from web.cookies import delete_cookie, read_cookie, set_cookie
from web.i18n import N_
from web.render import language_of, page
from web.security import signed_in

__all__ = [
    "SHOWN_PATH",
    "Admin",
    "confirm_page",
    "field",
    "missing",
    "problems",
    "role_choices",
    "role_names",
    "secret_page",
    "show_once",
]

Admin = Annotated[UserAccount, Depends(signed_in("admin"))]

_ROLE_NAMES = {
    "verifier": N_("Employer (verifier)"),
    "enforcement": N_("Enforcement inspector"),
    "federation": N_("Federation peer node"),
    "admin": N_("Administrator"),
}


def field(form: FormData, name: str) -> str:
    """A posted field's text, trimmed ('' if absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def problems(request: Request, exc: RegistryError, where: str) -> dict[str, list[str]]:
    """The error's messages by the form field each is about (``where`` if it names
    none), in the visitor's language."""
    lang = language_of(request)
    found: dict[str, list[str]] = {}
    named = exc.errors if isinstance(exc, InvalidInput) else ()
    for error in named or ():
        found.setdefault(error.field, []).append(translate(error.message, lang))
    if not found:
        found[where] = [translate(exc.message, lang)]
    return found


def role_choices(session: Session, *, people: bool) -> list[tuple[str, str, dict[str, str]]]:
    """The roles one may give on this node: an issuer's for each authority it hosts,
    then the plain roles (``federation`` only for tokens, not ``people``). Each as
    (value, catalogue message, its values)."""
    choices: list[tuple[str, str, dict[str, str]]] = [
        (
            f"issuer:{authority.code}",
            N_("Issuing authority: %(name)s"),
            {"name": authority.name_zh, "name_en": authority.name_en},
        )
        for authority in list_authorities(session)
        if authority.hosted
    ]
    for role, name in _ROLE_NAMES.items():
        if people and role == "federation":
            continue
        choices.append((role, name, {}))
    return choices


def role_names(session: Session) -> dict[str, tuple[str, str]]:
    """Every authority's names (Chinese, English) by its issuer role, for naming the
    roles accounts and tokens carry."""
    return {
        f"issuer:{authority.code}": (authority.name_zh, authority.name_en)
        for authority in list_authorities(session)
    }


SHOWN_PATH = "/admin/shown"
_SHOWN_COOKIE = "registry_shown_once"
_SHOWN_KIND = "shown-once"
_SHOWN_SECONDS = 300


def _seal(request: Request) -> PendingSeal:
    return PendingSeal(request.app.state.issuing.node_secret)


def show_once(request: Request, admin: UserAccount, shown: dict[str, str]) -> Response:
    """Redirect to ``SHOWN_PATH``, which shows ``shown`` (its ``kind``: ``token``,
    ``new-user`` or ``reset``; its ``secret``; whose it is) to ``admin`` once."""
    now = datetime.now(UTC)
    terms = {**shown, "at": str(now.timestamp())}
    sealed = _seal(request).seal(_SHOWN_KIND, terms, role=f"admin:{admin.id}", now=now)
    response = RedirectResponse(SHOWN_PATH, status_code=303)
    set_cookie(response, request, _SHOWN_COOKIE, sealed, max_age=_SHOWN_SECONDS, samesite="strict")
    return response


def secret_page(request: Request, session: Session, admin: UserAccount) -> Response:
    """The secret sealed by ``show_once`` for ``admin``, once: the cookie is deleted
    with the answer; without it (shown already, or too late) the page says so."""
    sealed = read_cookie(request, _SHOWN_COOKIE) or ""
    try:
        opened = _seal(request).open(
            sealed, kind=_SHOWN_KIND, role=f"admin:{admin.id}", now=datetime.now(UTC)
        )
    except InvalidInput:
        shown: dict[str, Any] = {}
    else:
        shown = opened.terms
        if datetime.now(UTC).timestamp() - float(shown.get("at", 0)) > _SHOWN_SECONDS:
            shown = {}
    section = "tokens" if shown.get("kind") == "token" else "users"
    context = {"section": section, "shown": shown, "role_names": role_names(session)}
    response = page(request, "admin/secret.html", context)
    delete_cookie(response, request, _SHOWN_COOKIE, samesite="strict")
    return response


def missing(request: Request) -> Response:
    """The page for an account or a token that is not there."""
    return page(request, "admin/missing.html", {"section": ""}, status=404)


def confirm_page(request: Request, context: dict[str, Any], *, status: int = 200) -> Response:
    """The confirmation asked before a change: what it does, and the button to do it."""
    return page(request, "admin/confirm.html", context, status=status)

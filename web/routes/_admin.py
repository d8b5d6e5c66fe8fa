"""What the administration's pages share: the role they need, a form's problems
beside each field in the visitor's language, the page that shows a secret once, and
the confirmation before a change that cannot be taken back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from registry.authorities import list_authorities
from registry.errors import InvalidInput, RegistryError
from registry.messages import translate
from registry.storage.models import UserAccount
from web.i18n import N_
from web.render import language_of, page
from web.security import signed_in

__all__ = [
    "Admin",
    "confirm_page",
    "field",
    "missing",
    "problems",
    "role_choices",
    "role_names",
    "secret_page",
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


def secret_page(request: Request, context: dict[str, Any]) -> Response:
    """The page that shows a password or a token once: answered to the post itself,
    never kept to be shown again (so not behind a redirect), never cached."""
    return page(request, "admin/secret.html", context)


def missing(request: Request) -> Response:
    """The page for an account or a token that is not there."""
    return page(request, "admin/missing.html", {"section": ""}, status=404)


def confirm_page(request: Request, context: dict[str, Any], *, status: int = 200) -> Response:
    """The confirmation asked before a change: what it does, and the button to do it."""
    return page(request, "admin/confirm.html", context, status=status)

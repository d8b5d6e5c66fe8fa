"""What the pages of the inspector's desk share: who may open them, the authorities'
names, and the page for what is not there."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from registry.authorities import list_authorities
from registry.storage.models import UserAccount
from web.render import page
from web.security import signed_in

__all__ = ["Inspector", "authority_names", "missing"]

Inspector = Annotated[UserAccount, Depends(signed_in("enforcement"))]
"""The inspector signed in (role ``enforcement``)."""


def authority_names(session: Session) -> dict[str, dict[str, str]]:
    """Each authority's names, by code, as the templates show them (``in_lang``)."""
    return {a.code: {"zh": a.name_zh, "en": a.name_en} for a in list_authorities(session)}


def missing(request: Request) -> Response:
    """The page for what is not there (or not the inspector's)."""
    return page(request, "inspect/missing.html", status=404)

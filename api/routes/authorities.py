"""Member authorities and their public keys (public, read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import WithJsonSchema

from api.deps import DbSession
from api.errors import input_field, problem_responses
from api.limits import GatedRoute
from api.schemas.common import PROVINCE_CODE_SCHEMA
from api.schemas.federation import AuthorityOut, KeyOut
from registry.authorities import get_authority, keys_of, list_authorities
from registry.storage.models import Authority

__all__ = ["router"]

router = APIRouter(prefix="/v1/authorities", tags=["authorities"], route_class=GatedRoute)


def _out(session: DbSession, authority: Authority) -> AuthorityOut:
    return AuthorityOut(
        code=authority.code,
        gb_code=authority.gb_code,
        name_zh=authority.name_zh,
        name_en=authority.name_en,
        hosted=authority.hosted,
        keys=[KeyOut.model_validate(key) for key in keys_of(session, authority.code)],
    )


@router.get("", summary="List member authorities")
def list_all(session: DbSession) -> list[AuthorityOut]:
    """Every authority this node knows, with its issuing and log keys."""
    return [_out(session, authority) for authority in list_authorities(session)]


@router.get(
    "/{code}",
    summary="One authority",
    responses=problem_responses((404, "No such authority."), (422, "Not a province code.")),
)
def get_one(
    session: DbSession,
    code: Annotated[
        str,
        Path(description="ISO 3166-2 (`CN-SH`) or GB/T 2260 (`310000`) code.", examples=["CN-SH"]),
        WithJsonSchema(PROVINCE_CODE_SCHEMA),
    ],
) -> AuthorityOut:
    """An authority by either of its codes."""
    with input_field("code"):
        authority = get_authority(session, code)
    return _out(session, authority)

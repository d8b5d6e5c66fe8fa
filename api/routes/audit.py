"""The access audit, for administrators: who searched or checked the list, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import WithJsonSchema

from api.auth import require_role
from api.deps import DbSession
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.enforcement import AccessEntryOut, AccessTrailOut
from registry.enforcement.audit import ACTIONS, MAX_PAGE, access_trail

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=GatedRoute)


@router.get(
    "/access",
    summary="Who asked about whom: list searches and checks, engineer verifications",
    responses=problem_responses(
        401, (403, "The token's role is not `admin`."), (422, "A parameter is invalid.")
    ),
)
def access(
    session: DbSession,
    _role: Annotated[str, Depends(require_role("admin"))],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[int | None, Query(ge=1, description="An entry id: older ones.")] = None,
    token_id: Annotated[int | None, Query(ge=1)] = None,
    action: Annotated[
        str | None,
        Query(description="Only this action."),
        WithJsonSchema({"type": "string", "enum": list(ACTIONS)}),
    ] = None,
) -> AccessTrailOut:
    """Each entry: when, which token (id and role), the action, how many rows were
    asked about and how many listings were found, and the criteria as an
    HMAC-SHA256 under the node secret (never the criteria themselves). The trail is
    append-only. `next` is the `before` of the following page."""
    entries = access_trail(session, limit=limit, before=before, token_id=token_id, action=action)
    return AccessTrailOut(
        entries=[AccessEntryOut.model_validate(entry, from_attributes=True) for entry in entries],
        next=entries[-1].id if len(entries) == limit else None,
    )

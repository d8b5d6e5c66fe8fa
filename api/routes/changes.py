"""The change feed: new listings, registrations and their state changes, resumable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import require_role
from api.deps import Snapshot, only_query
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.enforcement import FeedChangeOut, FeedPageOut
from registry.enforcement.feed import MAX_FEED_PAGE, read_changes

__all__ = ["router"]

router = APIRouter(prefix="/v1/changes", tags=["enforcement"], route_class=GatedRoute)


@router.get(
    "",
    summary="Every new listing, registration and state change, in log order, resumable",
    dependencies=[only_query("since", "limit")],
    responses=problem_responses(
        401,
        (403, "The role is not `enforcement` or `federation`."),
        (422, "A cursor this feed did not give, a bad limit, or an unknown parameter."),
    ),
)
def changes(
    _role: Annotated[str, Depends(require_role("enforcement", "federation"))],
    session: Snapshot,
    since: Annotated[
        str | None, Query(description="The `next` of the previous page; none: from the start.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_PAGE)] = 100,
) -> FeedPageOut:
    """Each change with its log position (`id` is `authority/leafIndex`, unique and
    stable: deduplicate on it), its kind (`listing`, `listing-change`,
    `registration`, `registration-change`), what it changed and the signed
    credential. Keep `next` and ask with it: nothing is missed or repeated, and
    `more` says whether to ask again at once."""
    page = read_changes(session, since=since, limit=limit)
    return FeedPageOut(
        changes=[FeedChangeOut.model_validate(item.as_json()) for item in page.items],
        next=page.next,
        more=page.more,
    )

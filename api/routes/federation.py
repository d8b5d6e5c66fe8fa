"""The state of following the other members' logs, for administrators and peers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import require_role
from api.deps import DbSession
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.federation import FederationStatusOut, PeerLogOut
from registry.federation.follower import peer_states

__all__ = ["router"]

router = APIRouter(prefix="/v1/federation", tags=["federation"], route_class=GatedRoute)


@router.get(
    "/status",
    summary="How this node follows each member's log it does not host",
    responses=problem_responses(401, (403, "The token's role is not `admin` or `federation`.")),
)
def status(
    session: DbSession,
    _role: Annotated[str, Depends(require_role("admin", "federation"))],
) -> FederationStatusOut:
    """Per followed log: the entries verified and kept, the origin's newest size seen,
    how far behind that is in entries and seconds since the origin last confirmed the
    tree, the state and the last error. A log this node hosts is not listed."""
    now = datetime.now(UTC)
    return FederationStatusOut(
        peers=[
            PeerLogOut(
                authority=peer.authority_code,
                origin=peer.origin,
                state=peer.state,
                verified_size=peer.tree_size,
                peer_size=peer.peer_size,
                behind_entries=(
                    peer.peer_size - peer.tree_size if peer.peer_size is not None else None
                ),
                confirmed_at=peer.confirmed_at,
                behind_seconds=(
                    int((now - peer.confirmed_at).total_seconds())
                    if peer.confirmed_at is not None
                    else None
                ),
                last_error=peer.last_error,
            )
            for peer in peer_states(session)
        ]
    )

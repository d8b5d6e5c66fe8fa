"""The state of following the other members' logs, for administrators and peers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import WithJsonSchema

from api.auth import require_role
from api.deps import DbSession
from api.errors import input_field, problem_responses
from api.limits import JSON_BODY, GatedRoute, body_limit, too_large
from api.schemas.common import PROVINCE_CODE_SCHEMA
from api.schemas.federation import (
    FederationStatusOut,
    ForkEvidenceOut,
    NoticeIn,
    NoticeOut,
    PeerLogOut,
)
from registry.errors import NotFound
from registry.federation.follower import peer_states
from registry.federation.notices import receive_notice
from registry.federation.peers import fork_evidence_of
from registry.ids import province

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


@router.post(
    "/notices",
    status_code=202,
    summary="A member's node says its log has a new checkpoint (role `federation`)",
    openapi_extra=body_limit(JSON_BODY),
    responses={
        **problem_responses(
            401,
            (403, "The token's role is not `federation`."),
            (404, "The authority is not a member of this node's trust list."),
            (409, "This node hosts that authority, or the checkpoint is of another log."),
            (422, "Not a checkpoint of that log, signed by the key the trust list names."),
        ),
        **too_large(JSON_BODY),
    },
)
def notice(
    session: DbSession,
    _role: Annotated[str, Depends(require_role("federation"))],
    body: NoticeIn,
) -> NoticeOut:
    """Sent by a member's node after its log grows, with the log's signed checkpoint
    and the witnesses' cosignatures of it so far (sent again when it gains more).
    This node checks the signature with the log key its trust list names and then
    follows that log at once (fetching, checking and proving the entries itself),
    instead of at its next poll. A notice never puts entries or a checkpoint in the
    mirror by itself: a lost one only delays it until the next poll. Of the
    cosignatures, those that verify with the witness keys the trust list names are
    kept, for a checkpoint the mirror holds already."""
    with input_field("authority"):
        code = province(body.authority).iso
    with input_field("checkpoint"):
        size, verified = receive_notice(session, authority=code, note=body.checkpoint)
    return NoticeOut(authority=code, size=size, verified_size=verified)


@router.get(
    "/evidence/{authority}",
    summary="The evidence that a member's log forked (role `admin` or `federation`)",
    responses=problem_responses(
        401,
        (403, "The token's role is not `admin` or `federation`."),
        (404, "This node keeps no evidence that the member's log forked."),
        422,
    ),
)
def evidence(
    session: DbSession,
    _role: Annotated[str, Depends(require_role("admin", "federation"))],
    authority: Annotated[
        str,
        Path(description="ISO 3166-2 (`CN-JS`) or GB/T 2260 code.", examples=["CN-JS"]),
        WithJsonSchema(PROVINCE_CODE_SCHEMA),
    ],
) -> ForkEvidenceOut:
    """Every evidence file this node keeps of the member's fork, oldest first: each
    holds two checkpoints the member's log key signed that cannot both be true, and
    what proves it, and is checked without trusting either node by
    `registry federation evidence verify FILE`."""
    with input_field("authority"):
        code = province(authority).iso
    rows = fork_evidence_of(session, code)
    if not rows:
        raise NotFound(f"this node keeps no evidence that {code}'s log forked")
    return ForkEvidenceOut(authority=code, evidence=[json.loads(row.evidence) for row in rows])

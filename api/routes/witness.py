"""This node as a witness of the other members' logs (C2SP tlog-witness)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.deps import Issuing, NodeSettings, engine_of
from api.limits import GatedRoute, body_limit, too_large
from api.openapi import PLAIN_ERRORS
from registry.federation.witness import MAX_BODY, SIZE_TYPE, add_checkpoint
from registry.storage.db import session_scope

__all__ = ["router"]

router = APIRouter(prefix="/v1/witness", tags=["federation"], route_class=GatedRoute)


async def _raw_body(request: Request) -> bytes:
    # Read on the event loop; the witness's work runs on a worker thread.
    return await request.body()


_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# old size, the proof's hashes, an empty line, then the checkpoint and its signatures.
_REQUEST = (
    r"^old (0|[1-9][0-9]{0,18})\n([A-Za-z0-9+/]{43}=\n){0,63}\n"
    r"[^\s]+\n(0|[1-9][0-9]{0,18})\n[A-Za-z0-9+/]{43}=\n\n"
    "(\u2014 [^\\s]+ [A-Za-z0-9+/]+={0,2}\\n)+$"
)


@router.post(
    "/add-checkpoint",
    summary="Cosign a member's checkpoint (C2SP tlog-witness)",
    response_class=PlainTextResponse,
    openapi_extra={
        **body_limit(MAX_BODY),
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string", "pattern": _REQUEST}}},
        },
        PLAIN_ERRORS: [400, 403, 404, 409, 422],
    },
    responses={
        200: {"description": "The cosignature lines, one per witness key.", "content": _TEXT},
        400: {"description": "A malformed request.", "content": _TEXT},
        403: {"description": "The log's key did not sign the checkpoint.", "content": _TEXT},
        404: {
            "description": "No log of another member this node follows has that origin.",
            "content": _TEXT,
        },
        409: {
            "description": (
                "`old` is not the size last cosigned (the body is that size, "
                f"`{SIZE_TYPE}`), or the log signed another root for that size."
            ),
            "content": {SIZE_TYPE: {"schema": {"type": "string"}}, **_TEXT},
        },
        422: {"description": "The consistency proof does not verify.", "content": _TEXT},
        **too_large(MAX_BODY),
    },
)
def add_checkpoint_route(
    request: Request,
    settings: NodeSettings,
    issuing: Issuing,
    body: Annotated[bytes, Depends(_raw_body)],
) -> Response:
    """The C2SP `tlog-witness` `add-checkpoint`: the body is `old <size>`, the
    consistency proof from that size (a base64 hash a line, at most 63), an empty
    line and the checkpoint as its log signed it. This node cosigns (C2SP
    `tlog-cosignature`, one line per authority it hosts, with its witness key) a
    checkpoint of another member's log, signed by the log key the trust list names,
    that extends the one it last cosigned for that log; it never goes back. No token:
    the log's signature is the credential. Answers are plain text, as the
    specification has them, not problem+json."""
    with session_scope(engine_of(request)) as session:
        answer = add_checkpoint(
            session, issuing.key_store, body, origin_prefix=settings.log_origin_prefix
        )
    # Committed before it is sent: a witness that answered never forgets it.
    return Response(
        answer.body, status_code=answer.status, headers={"Content-Type": answer.content_type}
    )

"""Transparency logs: checkpoints and proofs (public). Hashes are standard base64."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import WithJsonSchema

from api.auth import require_role
from api.deps import DbSession
from api.errors import input_field, problem_responses
from api.limits import GatedRoute
from api.schemas.common import PROVINCE_CODE_SCHEMA
from api.schemas.federation import (
    ConsistencyProofOut,
    InclusionProofOut,
    LogEntriesOut,
    LogOut,
)
from registry.errors import InvalidInput
from registry.ids import province
from registry.storage.credentials import canonicals_by_id
from registry.tlog.reader import (
    consistency,
    entries,
    get_log,
    inclusion,
    latest_checkpoint,
    log_summaries,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/logs", tags=["transparency logs"], route_class=GatedRoute)

_Authority = Annotated[
    str,
    Path(description="ISO 3166-2 (`CN-SH`) or GB/T 2260 code.", examples=["CN-SH"]),
    WithJsonSchema(PROVINCE_CODE_SCHEMA),
]
_RANGE = problem_responses(
    (400, "A size or range outside the log."), (404, "No such log or entry.")
)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _code(authority: str) -> str:
    with input_field("authority"):
        return province(authority).iso


@router.get("", summary="Every log this node keeps")
def list_all(session: DbSession) -> list[LogOut]:
    """Each log's authority, origin, current size and C2SP verifier key."""
    return [
        LogOut(
            authority=log.authority,
            origin=log.origin,
            size=log.size,
            verifier_key=log.verifier_key,
        )
        for log in log_summaries(session)
    ]


@router.get(
    "/{authority}/checkpoint",
    summary="The latest signed checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 404: _RANGE[404]},
)
def checkpoint(session: DbSession, authority: _Authority) -> PlainTextResponse:
    """The newest checkpoint as a C2SP signed note (`text/plain; charset=utf-8`)."""
    row = latest_checkpoint(session, get_log(session, _code(authority)).authority_code)
    return PlainTextResponse(row.note, media_type="text/plain; charset=utf-8")


@router.get("/{authority}/proof/inclusion", summary="An inclusion proof", responses=_RANGE)
def inclusion_proof(
    session: DbSession,
    authority: _Authority,
    leaf_hash: Annotated[
        str,
        Query(description="The leaf hash (32 bytes), standard base64."),
        WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"}),
    ],
    tree_size: Annotated[int, Query(ge=0, le=2**62, description="The tree size to prove in.")],
) -> InclusionProofOut:
    """Where the leaf is and the audit path to the root of `tree_size` entries."""
    with input_field("leaf_hash"):
        # A "+" in a query string arrives as a space.
        try:
            value = base64.b64decode(leaf_hash.replace(" ", "+"), validate=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: not even ASCII
            raise InvalidInput("not standard base64") from exc
        if len(value) != 32:
            raise InvalidInput("a leaf hash has 32 bytes")
    index, hashes = inclusion(session, _code(authority), value, tree_size)
    return InclusionProofOut(
        leaf_index=index, tree_size=tree_size, hashes=[_b64(h) for h in hashes]
    )


@router.get("/{authority}/proof/consistency", summary="A consistency proof", responses=_RANGE)
def consistency_proof(
    session: DbSession,
    authority: _Authority,
    first: Annotated[int, Query(ge=0, le=2**62, description="The earlier tree size.")],
    second: Annotated[int, Query(ge=0, le=2**62, description="The later tree size.")],
) -> ConsistencyProofOut:
    """The proof that the log at `first` entries is a prefix of the log at `second`."""
    hashes = consistency(session, _code(authority), first, second)
    return ConsistencyProofOut(first=first, second=second, hashes=[_b64(h) for h in hashes])


@router.get(
    "/{authority}/entries",
    summary="Log entries (role `federation`)",
    response_model=LogEntriesOut,
    responses={
        **_RANGE,
        **problem_responses(401, (403, "The token's role is not `federation`.")),
    },
)
def log_entries(
    session: DbSession,
    authority: _Authority,
    _role: Annotated[str, Depends(require_role("federation"))],
    start: Annotated[int, Query(ge=0, le=2**62, description="First index, inclusive.")],
    end: Annotated[int, Query(ge=0, le=2**62, description="Last index, exclusive.")],
) -> Response:
    """Entries `start` to `end` (at most 1,000 a page), each the signed credential that
    is its leaf: what another node needs to mirror and check this log.
    """
    code = _code(authority)
    rows = entries(session, code, start, end)
    canonicals = canonicals_by_id(session, [row.credential_id for row in rows])
    # Each leaf is passed on as its stored canonical JSON, never parsed and printed
    # again: a page is a large answer, and a following node reads a whole log of them.
    body = ",".join(
        f'{{"index":{row.leaf_index},"leaf":{canonicals[row.credential_id]}}}' for row in rows
    )
    return Response(f'{{"entries":[{body}]}}', media_type="application/json")

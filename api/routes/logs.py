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
from registry.federation.cosigning import cosigned_note
from registry.ids import province
from registry.storage.credentials import canonicals_by_id
from registry.tlog.proofs import log_heads
from registry.tlog.reader import (
    consistency,
    entries,
    get_log,
    inclusion,
    latest_checkpoint,
    log_summaries,
)
from registry.tlog.tiles import TilePath, entry_bundle, hash_tile, parse_tile_path
from registry.trust.store import current_version
from registry.verification.witnessed import newest_witnessed, recent_cosignatures

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
    """Each log's authority, origin, current size, the size of its newest checkpoint
    that the trust list's witness policy has cosigned (`witnessed_size`, as this node
    holds the cosignatures), and its C2SP verifier key."""
    current = current_version(session)
    trust = current.content if current is not None else None
    summaries = log_summaries(session)
    heads = log_heads(session)
    recent = recent_cosignatures(session, heads) if trust is not None else {}
    logs = []
    for log in summaries:
        witnessed = None
        if trust is not None and log.authority in heads:
            size, rows = heads[log.authority].size, recent.get(log.authority, [])
            witnessed = newest_witnessed(session, trust, log.authority, upto=size, first=rows)
        logs.append(
            LogOut(
                authority=log.authority,
                origin=log.origin,
                size=log.size,
                witnessed_size=witnessed.size if witnessed is not None else 0,
                verifier_key=log.verifier_key,
            )
        )
    return logs


@router.get(
    "/{authority}/checkpoint",
    summary="The latest signed checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 404: _RANGE[404]},
)
def checkpoint(session: DbSession, authority: _Authority) -> PlainTextResponse:
    """The newest checkpoint as a C2SP signed note (`text/plain; charset=utf-8`), for
    a log this node keeps, its own or mirrored, with the cosignatures the other
    members' witnesses have given it so far (C2SP `tlog-cosignature`) after the
    log's lines: for a mirrored log, those this node has verified and kept from the
    origin. It changes with every append, so it is not to be cached; it is also the
    checkpoint of the log's C2SP `tlog-tiles` (below)."""
    row = latest_checkpoint(session, get_log(session, _code(authority)).authority_code)
    return PlainTextResponse(
        cosigned_note(session, row),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


_BINARY = {"type": "string", "format": "binary"}
_TILE = {
    200: {"content": {"application/octet-stream": {"schema": _BINARY}}},
    **problem_responses((404, "No such log, or no such tile (yet), or a path not so spelled.")),
}
# A full tile never changes; a partial one is superseded by wider ones as the log grows.
_FULL = "public, max-age=31536000, immutable"
_PARTIAL = "public, max-age=3600"


def _tile(authority: str, kind: str, index: str) -> tuple[str, TilePath]:
    with input_field("authority"):
        code = province(authority).iso
    return code, parse_tile_path(kind, index)


@router.get(
    "/{authority}/tile/entries/{index:path}",
    summary="An entry bundle of the log's tiles (role `federation`)",
    response_class=Response,
    responses={**_TILE, **problem_responses(401, (403, "The token's role is not `federation`."))},
)
def entry_bundle_tile(
    session: DbSession,
    authority: _Authority,
    _role: Annotated[str, Depends(require_role("federation"))],
    index: Annotated[str, Path(description="`N` in groups of three digits, then `.p/<W>`.")],
) -> Response:
    """The C2SP `tlog-tiles` entry bundle `N` (entries `256 N` onwards; 256 of them,
    or `W` for a partial bundle `N.p/W`): each entry's leaf, the signed credential's
    canonical JSON, after its length as a big-endian 16-bit integer. For other
    nodes only, like `/entries`: entries carry personal data, so the answer is never
    cached by a shared cache."""
    code, tile = _tile(authority, "entries", index)
    data = entry_bundle(session, code, tile)
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": "private"}
    )


@router.get(
    "/{authority}/tile/{level}/{index:path}",
    summary="A hash tile of the log (C2SP tlog-tiles)",
    response_class=Response,
    responses=_TILE,
)
def hash_tile_of(
    session: DbSession,
    authority: _Authority,
    level: Annotated[str, Path(description="The tile level `L`, 0 to 63.")],
    index: Annotated[str, Path(description="`N` in groups of three digits, then `.p/<W>`.")],
) -> Response:
    """The C2SP `tlog-tiles` hash tile `L`/`N`: 256 hashes of 32 bytes (or `W` for a
    partial tile `N.p/W`), hash `i` the root of the `256^L` leaves from leaf
    `(256 N + i) 256^L`, for a log this node keeps, its own or mirrored. Any client
    of `tlog-tiles` can audit the log from these and `/checkpoint`, knowing nothing
    else of this API. Public: hashes say nothing of what they hash. A full tile
    never changes and may be cached for ever."""
    code, tile = _tile(authority, level, index)
    data = hash_tile(session, code, tile)
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Cache-Control": _FULL if tile.width is None else _PARTIAL},
    )


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

"""The trust list: the current version, any past version, the history and the whole
chain (public)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.caching import serve_stored
from api.deps import DbSession
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.common import SignedDocument
from api.schemas.federation import TrustListHistory, TrustListVersionOut
from registry.errors import NotFound
from registry.storage.models import TrustListRecord
from registry.trust.store import get_version, stored_versions

__all__ = ["router"]

router = APIRouter(prefix="/v1/trust-list", tags=["trust list"], route_class=GatedRoute)

_DOCUMENT = {
    "description": (
        "The signed trust-list credential, byte for byte as stored: its canonical "
        "(RFC 8785) form, proofs included. The version's digest (what `previous` and "
        "the history name) is SHA-256 of the same without its `proof`."
    ),
    "headers": {"ETag": {"description": "SHA-256 (hex) of the body, quoted."}},
}
_NOT_MODIFIED = {"description": "`If-None-Match` names this version: nothing has changed."}
_CURRENT_CACHE = "no-cache"  # may be stored, but revalidated: a new version can appear
_PAST_CACHE = "public, max-age=31536000, immutable"  # a published version never changes


def _document(request: Request, row: TrustListRecord, *, cache_control: str) -> Response:
    return serve_stored(
        request, row.canonical, media_type="application/json", cache_control=cache_control
    )


# The documents are answered as the stored bytes, which FastAPI passes through
# untouched: ``response_model`` only documents them.
@router.get(
    "",
    summary="The current trust list",
    response_model=SignedDocument,
    responses={
        200: _DOCUMENT,
        304: _NOT_MODIFIED,
        **problem_responses((404, "No version has been published yet.")),
    },
)
def current(request: Request, session: DbSession) -> Response:
    """The newest published version: which authorities are members, which keys speak
    for each of them, for which record types and when, and the quorum that signed it.

    Send the last `ETag` as `If-None-Match` to get `304 Not Modified` while the
    version is unchanged.
    """
    return _document(request, get_version(session), cache_control=_CURRENT_CACHE)


@router.get("/history", summary="Every published version and its digest")
def history(session: DbSession) -> TrustListHistory:
    """The chain, oldest first: each version's digest and the digest it names as
    `previous`. A verifier pins `genesis` and walks forward from it.
    """
    rows = stored_versions(session)
    return TrustListHistory(
        genesis=rows[0].digest if rows else None,
        current=rows[-1].version if rows else None,
        versions=[
            TrustListVersionOut(
                version=row.version,
                digest=row.digest,
                previous=row.previous,
                valid_from=row.valid_from,
                published_at=row.published_at,
                href=f"/v1/trust-list/{row.version}",
            )
            for row in rows
        ],
    )


@router.get(
    "/chain",
    summary="Every published version, oldest first, as one JSON array",
    response_model=list[SignedDocument],
    responses={
        200: {
            "description": (
                "The chain: every version's signed credential, byte for byte as stored, "
                "oldest (the genesis) first, as one JSON array: the same array "
                "`registry trust export` writes. `registry verify --trust-list FILE "
                "--genesis DIGEST` walks it from the pinned genesis."
            ),
            "headers": {"ETag": {"description": "SHA-256 (hex) of the body, quoted."}},
        },
        304: _NOT_MODIFIED,
        **problem_responses((404, "No version has been published yet.")),
    },
)
def chain(request: Request, session: DbSession) -> Response:
    """The whole trust-list chain in one answer, for offline verification: save it
    and hand it to `registry verify --trust-list`.

    Send the last `ETag` as `If-None-Match` to get `304 Not Modified` while no
    version has been added.
    """
    rows = stored_versions(session)
    if not rows:
        raise NotFound("no trust list has been published yet")
    return serve_stored(
        request,
        "[" + ",".join(row.canonical for row in rows) + "]",
        media_type="application/json",
        cache_control=_CURRENT_CACHE,
    )


@router.get(
    "/{version}",
    summary="One trust-list version",
    response_model=SignedDocument,
    responses={
        200: _DOCUMENT,
        304: _NOT_MODIFIED,
        **problem_responses((404, "No such version."), (422, "Not a version number.")),
    },
)
def one(
    request: Request,
    session: DbSession,
    version: Annotated[
        int, Path(ge=1, le=2**31 - 1, description="Version number, from 1.", examples=[1])
    ],
) -> Response:
    """A published version, exactly as signed. Published versions never change."""
    return _document(request, get_version(session, version), cache_control=_PAST_CACHE)

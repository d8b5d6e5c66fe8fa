"""Status lists: each authority's signed Bitstring Status List credentials (public)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema

from api.caching import serve_stored
from api.deps import DbSession, NodeSettings
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.common import PROVINCE_CODE_SCHEMA, SignedDocument
from registry.issuing.status_lists import current_list, list_version

__all__ = ["router"]

router = APIRouter(prefix="/v1/status-lists", tags=["status lists"], route_class=GatedRoute)

_Authority = Annotated[
    str,
    Path(description="ISO 3166-2 or GB/T 2260 code.", examples=["CN-SH"]),
    WithJsonSchema(PROVINCE_CODE_SCHEMA),
]
_Purpose = Annotated[Literal["revocation", "suspension"], Path(description="The list's purpose.")]
_DOCUMENT = {
    "description": (
        "The signed `BitstringStatusListCredential`, as stored (canonical JSON). Entry "
        "`i` is bit `i` of the GZIP'd `encodedList`, most significant bit first."
    ),
    "headers": {"ETag": {"description": "SHA-256 (hex) of the body, quoted."}},
}


class _VcDocument(JSONResponse):
    # For the OpenAPI document only: the response model's schema is listed under the
    # media type the lists are served as. The routes return the stored bytes.
    media_type = "application/vc"


def _serve(request: Request, canonical: str, *, cache_control: str) -> Response:
    return serve_stored(
        request, canonical, media_type="application/vc", cache_control=cache_control
    )


@router.get(
    "/{authority}/{purpose}",
    summary="An authority's current status list",
    response_model=SignedDocument,
    response_class=_VcDocument,
    responses={
        200: _DOCUMENT,
        304: {"description": "Unchanged since the `ETag` sent."},
        **problem_responses((404, "No such list yet.")),
    },
)
def current(
    request: Request, session: DbSession, authority: _Authority, purpose: _Purpose
) -> Response:
    """The newest signed version of the list that credentials' `credentialStatus`
    entries point at (`statusListCredential`). A set bit means revoked (revocation
    list) or suspended, for a listing lifted (suspension list).

    Send the last `ETag` as `If-None-Match` to get `304 Not Modified`.
    """
    row = current_list(session, authority, purpose)
    return _serve(request, row.canonical, cache_control="no-cache")


@router.get(
    "/{authority}/{purpose}/{version}",
    summary="One version of a status list",
    response_model=SignedDocument,
    response_class=_VcDocument,
    responses={200: _DOCUMENT, **problem_responses((404, "No such version."))},
)
def version(
    *,
    request: Request,
    session: DbSession,
    settings: NodeSettings,
    authority: _Authority,
    purpose: _Purpose,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """A past (or the current) version, by number: each is signed and logged, and never
    changes."""
    row = list_version(session, authority, purpose, version, node_url=settings.node_url)
    return _serve(request, row.canonical, cache_control="public, max-age=31536000, immutable")

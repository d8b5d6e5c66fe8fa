"""Status lists: each authority's signed Bitstring Status List credentials (public)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from api.caching import serve_stored
from api.deps import DbSession
from api.errors import problem_responses
from registry.errors import NotFound
from registry.ids import province
from registry.issuing.status_lists import version_url
from registry.storage.credentials import get_credential
from registry.storage.models import StatusListRow

__all__ = ["router"]

router = APIRouter(prefix="/v1/status-lists", tags=["status lists"])

_Authority = Annotated[str, Path(description="ISO 3166-2 or GB/T 2260 code.", examples=["CN-SH"])]
_Purpose = Annotated[Literal["revocation", "suspension"], Path(description="The list's purpose.")]
_DOCUMENT = {
    "description": (
        "The signed `BitstringStatusListCredential`, as stored (canonical JSON). Entry "
        "`i` is bit `i` of the GZIP'd `encodedList`, most significant bit first."
    ),
    "content": {"application/vc": {}},
    "headers": {"ETag": {"description": "SHA-256 (hex) of the body, quoted."}},
}


def _serve(request: Request, canonical: str, *, cache_control: str) -> Response:
    return serve_stored(
        request, canonical, media_type="application/vc", cache_control=cache_control
    )


@router.get(
    "/{authority}/{purpose}",
    summary="An authority's current status list",
    response_class=Response,
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
    code = province(authority).iso
    row = session.get(StatusListRow, (code, purpose))
    if row is None:
        raise NotFound(f"{code} has no {purpose} status list yet")
    return _serve(
        request, get_credential(session, row.credential_id).canonical, cache_control="no-cache"
    )


@router.get(
    "/{authority}/{purpose}/{version}",
    summary="One version of a status list",
    response_class=Response,
    responses={200: _DOCUMENT, **problem_responses((404, "No such version."))},
)
def version(
    request: Request,
    session: DbSession,
    authority: _Authority,
    purpose: _Purpose,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """A past (or the current) version, by number: each is signed and logged, and never
    changes."""
    code = province(authority).iso
    settings = request.app.state.settings
    row = get_credential(session, version_url(settings.node_url, code, purpose, version))
    return _serve(request, row.canonical, cache_control="public, max-age=31536000, immutable")

"""Entity tags for documents that are served byte for byte as stored."""

from __future__ import annotations

from fastapi import Request, Response

from registry.crypto.jcs import sha256_hex

__all__ = ["etag_matches", "serve_stored", "strong_etag"]


def strong_etag(body: bytes) -> str:
    """The quoted SHA-256 (hex) of the body."""
    return f'"{sha256_hex(body)}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag``.

    RFC 9110 §13.1.2: weak comparison; ``*`` matches any current representation.
    """
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def serve_stored(
    request: Request, canonical: str, *, media_type: str, cache_control: str
) -> Response:
    """A stored document byte for byte, with its ``ETag``; 304 if the client has it."""
    body = canonical.encode("utf-8")
    headers = {"ETag": strong_etag(body), "Cache-Control": cache_control}
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)

"""Entity tags for documents that are served byte for byte as stored."""

from __future__ import annotations

from registry.crypto.jcs import sha256_hex

__all__ = ["etag_matches", "strong_etag"]


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

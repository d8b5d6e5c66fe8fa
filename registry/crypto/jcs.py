"""The one way to get the bytes that are signed, hashed or logged: RFC 8785 (JCS)."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from registry.errors import InvalidInput

__all__ = ["canonical_bytes", "sha256_hex"]


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises ``InvalidInput`` when the value is not I-JSON (for example an integer
    beyond 2**53 or a float that is not finite), since such a value has no
    canonical form and must not be signed.
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput(f"value has no canonical JSON form: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
